"""Running one host process for a sandbox: capped output, a wall-clock timeout, a kill hook.

Output keeps its tail (the end of a test run says what failed) and drops the rest, while the
pipes are still drained so a flooding command never blocks on a full pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from sandbox.base import SandboxBackendFailed

__all__ = ["Outcome", "TailBuffer", "exit_code", "run_process", "supervise"]

_CHUNK: Final = 64 * 1024
# After the kill hook, how long the process and its pipes get before we stop waiting.
_AFTER_KILL_S: Final = 10.0


class TailBuffer:
    """The last `limit` bytes written, and how many bytes came before them."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._data = bytearray()
        self.dropped = 0

    def write(self, chunk: bytes) -> None:
        self._data += chunk
        excess = len(self._data) - self._limit
        if excess > 0:
            del self._data[:excess]
            self.dropped += excess

    def text(self) -> str:
        """The kept bytes as text, led by a line saying what was dropped, if anything was."""
        body = bytes(self._data).decode("utf-8", errors="replace")
        if not self.dropped:
            return body
        return f"[output truncated: the first {self.dropped} bytes were dropped]\n{body}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished host process: its status, output tails and timing."""

    returncode: int
    stdout: TailBuffer
    stderr: TailBuffer
    duration_s: float
    timed_out: bool

    @property
    def truncated(self) -> bool:
        return bool(self.stdout.dropped or self.stderr.dropped)


KillHook = Callable[[asyncio.subprocess.Process], Awaitable[None]]


def exit_code(returncode: int) -> int:
    """A shell's view of a status: a signal N becomes 128+N."""
    return 128 - returncode if returncode < 0 else returncode


async def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout_s: float,
    output_bytes: int,
    on_timeout: KillHook,
    watch: asyncio.Future[None] | None = None,
    on_watch: KillHook | None = None,
) -> Outcome:
    """Run `argv` in a new session; on timeout or cancellation call `on_timeout` to stop it,
    and when `watch` completes first, `on_watch` (or `on_timeout`).

    Each hook must stop every process of the command; the process itself is SIGKILLed
    afterwards if it still runs.
    """
    creating = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
        )
    )
    try:
        proc = await asyncio.shield(creating)
    except asyncio.CancelledError:
        # Cancelled while starting: what it started may already run (a docker exec does not
        # die with its CLI), so stop it before giving way.
        started = await creating
        await asyncio.shield(_stop(started, on_timeout))
        await started.communicate()
        raise
    if proc.stdout is None or proc.stderr is None:  # pragma: no cover - PIPE gives both
        raise RuntimeError("subprocess started without its pipes")

    return await supervise(
        status=asyncio.ensure_future(proc.wait()),
        stdout=proc.stdout,
        stderr=proc.stderr,
        timeout_s=timeout_s,
        output_bytes=output_bytes,
        stop=lambda: _stop(proc, on_timeout),
        watch=watch,
        kill=lambda: _stop(proc, on_watch or on_timeout),
    )


async def supervise(
    *,
    status: asyncio.Future[int],
    stdout: asyncio.StreamReader,
    stderr: asyncio.StreamReader,
    timeout_s: float,
    output_bytes: int,
    stop: Callable[[], Awaitable[None]],
    watch: asyncio.Future[None] | None = None,
    kill: Callable[[], Awaitable[None]] | None = None,
) -> Outcome:
    """Collect a started command's output tails and status, calling `stop` on timeout or
    cancellation, and `kill` (or `stop`) when `watch` completes before the command ends; each
    must end every process of the command."""
    started = time.monotonic()
    out, err = TailBuffer(output_bytes), TailBuffer(output_bytes)
    readers = [asyncio.create_task(_drain(stdout, out)), asyncio.create_task(_drain(stderr, err))]
    timed_out = False
    try:
        try:
            watched = await _ended_or_watched(status, watch, timeout_s)
        except TimeoutError:
            timed_out = True
            await _stopped(status, stop)
        except asyncio.CancelledError:
            await asyncio.shield(_stopped(status, stop))
            raise
        else:
            if watched:
                await _stopped(status, kill or stop)
    finally:
        await _finish_readers(readers)
    return Outcome(status.result(), out, err, time.monotonic() - started, timed_out)


async def _ended_or_watched(
    status: asyncio.Future[int], watch: asyncio.Future[None] | None, timeout_s: float
) -> bool:
    """Wait for the status or the watch, whichever comes first: True for the watch. Raises
    TimeoutError after `timeout_s`; neither future is cancelled."""
    if watch is None:
        await asyncio.wait_for(asyncio.shield(status), timeout_s)
        return False
    done, _ = await asyncio.wait(
        (status, watch), timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
    )
    if status in done:
        return False
    if watch in done:
        return True
    raise TimeoutError


async def _stop(proc: asyncio.subprocess.Process, on_timeout: KillHook) -> None:
    try:
        await on_timeout(proc)
    finally:
        # Even when the hook failed (an engine gone away), our own child does not outlive us.
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()


async def _drain(stream: asyncio.StreamReader, sink: TailBuffer) -> None:
    while chunk := await stream.read(_CHUNK):
        sink.write(chunk)


async def _stopped(status: asyncio.Future[int], stop: Callable[[], Awaitable[None]]) -> None:
    try:
        await stop()
    finally:
        try:
            await asyncio.wait_for(asyncio.shield(status), _AFTER_KILL_S)
        except TimeoutError:
            raise SandboxBackendFailed(
                f"a sandboxed command still ran {_AFTER_KILL_S:.0f}s after it was killed"
            ) from None


async def _finish_readers(readers: list[asyncio.Task[None]]) -> None:
    # A pipe stays open only while some process holds it; after a kill none should.
    _done, pending = await asyncio.wait(readers, timeout=_AFTER_KILL_S)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await task
