"""The spawner of a bwrap sandbox: it forks the sandbox's commands from inside its cgroups.

Moving a process into a cgroup (v1) waits for an RCU grace period, which took 10-25 ms per
command on a loaded host; a child forked by a process already inside is born there for free.
`sandbox.spawner` starts this script once per sandbox, as `python -I -S spawner_main.py FD
[cgroup.procs ...]`: the standard library only, FD a SOCK_SEQPACKET socket to the worker.

The protocol, one command at a time:
- on start: {"ready": true}, or {"error": "..."} when a cgroup cannot be joined;
- request: {"argv": [...], "env": {...}, "rlimits": [[resource, soft, hard], ...]} with two
  SCM_RIGHTS fds, the command's stdout and stderr;
- answers: {"pid": N} once it is forked (leading its own process group, so killpg(N) reaches
  it at once), then {"status": S}, S being negative for a signal, as in `subprocess`.
End of file on the socket (the worker went away) kills the running command and ends this
process; the commands' bwrap then takes the sandbox down with it (--die-with-parent).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import socket
import sys
from typing import Any

_MAX_REQUEST = 1 << 22


def main() -> None:
    channel = socket.socket(fileno=int(sys.argv[1]))
    os.set_inheritable(channel.fileno(), False)
    for procs in sys.argv[2:]:
        try:
            with open(procs, "w") as handle:
                handle.write(str(os.getpid()))
        except OSError as exc:
            _send(channel, {"error": f"cannot join the cgroup {procs}: {exc.strerror}"})
            return
    _send(channel, {"ready": True})
    while True:
        data, fds, _flags, _address = socket.recv_fds(channel, _MAX_REQUEST, 2)
        if not data:
            return
        pid = _fork(json.loads(data), fds)
        _send(channel, {"pid": pid})
        status = _wait(channel, pid)
        if status is None:
            return
        _send(channel, {"status": status})


def _fork(request: dict[str, Any], fds: list[int]) -> int:
    pid = os.fork()
    if pid == 0:
        _become(request, fds)
    # Both sides set the group, so it exists before the pid is reported, whoever runs first.
    # No new session is needed: this process has no controlling terminal to lose.
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    for fd in fds:
        os.close(fd)
    return pid


def _become(request: dict[str, Any], fds: list[int]) -> None:
    """In the child: set up its fds, session and rlimits, then exec; never returns."""
    try:
        os.setpgid(0, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.closerange(3, 1 << 16)
        for kind, soft, hard in request["rlimits"]:
            resource.setrlimit(kind, (soft, hard))
        argv: list[str] = request["argv"]
        os.execve(argv[0], argv, request["env"])  # noqa: S606 - an argv list, never a shell
    except (OSError, ValueError) as exc:
        os.write(2, f"sandbox spawner: cannot start {request['argv']}: {exc}\n".encode())
    finally:
        os._exit(127)


def _wait(channel: socket.socket, pid: int) -> int | None:
    """The command's status, or None when the worker went away (the command is then killed)."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            ready, _, _ = select.select([channel.fileno(), pidfd], [], [])
            if pidfd in ready:
                _, status = os.waitpid(pid, 0)
                return os.waitstatus_to_exitcode(status)
            # The worker sends nothing while a command runs: readable means it is gone, or it
            # broke the protocol; either way, stop (it starts a new spawner if it wants one).
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
    finally:
        os.close(pidfd)


def _send(channel: socket.socket, message: dict[str, object]) -> None:
    channel.sendall(json.dumps(message).encode())


if __name__ == "__main__":
    main()
