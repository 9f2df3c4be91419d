"""The worker's side of a bwrap sandbox's spawner (see `sandbox/spawner_main.py`).

`Spawner.start` starts the spawner (it joins the sandbox's cgroups once); `Spawner.spawn` hands
it one command with fresh pipes for its output and returns a `Spawned`: the pid, the output
streams and the status to come. One command at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sandbox.base import CommandRefused, SandboxBackendFailed, SandboxUnavailable

__all__ = ["Spawned", "Spawner", "SpawnerGone"]

_MAIN: Final = Path(__file__).with_name("spawner_main.py")
_BUFFER: Final = 1 << 20
_START_S: Final = 30.0


class SpawnerGone(SandboxBackendFailed):
    """The spawner died (killed, or out of memory in the sandbox's cgroup).

    `started` is False when the command never reached it: running it again is safe.
    """

    def __init__(self, message: str, *, started: bool = True) -> None:
        super().__init__(message)
        self.started = started


@dataclass(frozen=True, slots=True)
class Spawned:
    """A command the spawner started: its pid (and process group), output, and status."""

    pid: int
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader
    status: asyncio.Future[int]
    transports: tuple[asyncio.BaseTransport, ...]

    def close(self) -> None:
        """Close the output pipes; after the status, or to give up on them."""
        for transport in self.transports:
            transport.close()


class Spawner:
    """A running spawner process and the socket to it."""

    def __init__(self, proc: asyncio.subprocess.Process, channel: socket.socket) -> None:
        self._proc = proc
        self._channel = channel

    @property
    def pid(self) -> int:
        return self._proc.pid

    @classmethod
    async def start(cls, join: Sequence[Path]) -> Spawner:
        """Start a spawner inside the cgroups whose cgroup.procs files are `join`."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
        ours.setblocking(False)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",
                "-S",
                str(_MAIN),
                str(theirs.fileno()),
                *map(str, join),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                env={},
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        spawner = cls(proc, ours)
        try:
            hello = await asyncio.wait_for(spawner._receive(), _START_S)
        except (TimeoutError, SpawnerGone):
            await asyncio.shield(spawner.close())
            raise SandboxUnavailable("the bwrap sandbox's spawner did not start") from None
        except asyncio.CancelledError:
            await asyncio.shield(spawner.close())
            raise
        if "error" in hello:
            await spawner.close()
            raise SandboxUnavailable(f"the bwrap sandbox's spawner failed: {hello['error']}")
        return spawner

    async def spawn(
        self, argv: Sequence[str], env: Mapping[str, str], rlimits: Sequence[tuple[int, int, int]]
    ) -> Spawned:
        """Start `argv` with `env` and `rlimits`; its stdin is /dev/null.

        Cancelled half-way, it still reads the spawner's answer, then kills what was started,
        so the spawner and this side never disagree on whose turn it is.
        """
        starting = asyncio.ensure_future(self._start(argv, env, rlimits))
        try:
            return await asyncio.shield(starting)
        except asyncio.CancelledError:
            with contextlib.suppress(SpawnerGone, CommandRefused):
                spawned = await starting
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(spawned.pid, signal.SIGKILL)
                await spawned.status
                spawned.close()
            raise

    async def _start(
        self, argv: Sequence[str], env: Mapping[str, str], rlimits: Sequence[tuple[int, int, int]]
    ) -> Spawned:
        request = json.dumps({"argv": list(argv), "env": dict(env), "rlimits": rlimits}).encode()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            socket.send_fds(self._channel, [request], [out_w, err_w])
        except OSError as exc:
            for fd in (out_r, err_r):
                os.close(fd)
            if exc.errno == errno.EMSGSIZE:
                raise CommandRefused(
                    f"the command is too long for the sandbox ({len(request)} bytes)"
                ) from None
            raise SpawnerGone(
                f"the bwrap sandbox's spawner is gone ({exc.strerror})", started=False
            ) from None
        finally:
            os.close(out_w)
            os.close(err_w)
        stdout, out_transport = await _reader(out_r)
        stderr, err_transport = await _reader(err_r)
        transports = (out_transport, err_transport)
        try:
            answer = await self._receive()
        except SpawnerGone:
            for transport in transports:
                transport.close()
            raise
        status = asyncio.ensure_future(self._status())
        return Spawned(answer["pid"], stdout, stderr, status, transports)

    async def _status(self) -> int:
        status: int = (await self._receive())["status"]
        return status

    async def _receive(self) -> dict[str, int]:
        data = await asyncio.get_running_loop().sock_recv(self._channel, _BUFFER)
        if not data:
            raise SpawnerGone("the bwrap sandbox's spawner is gone")
        message: dict[str, int] = json.loads(data)
        return message

    async def close(self) -> None:
        """End the spawner and any command it still runs; a pending status gets SpawnerGone."""
        # shutdown, not close, first: a receive still waiting on this socket then sees the end
        # of file (a closed descriptor would leave it waiting forever), and so does the spawner.
        with contextlib.suppress(OSError):
            self._channel.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._proc.wait(), 5)
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            await self._proc.wait()
        self._channel.close()


async def _reader(fd: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(loop=loop)
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe
    )
    return reader, transport
