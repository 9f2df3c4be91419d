"""Removing sandbox containers that a crashed worker left behind.

Each container carries labels naming the process that started it (host, pid and the pid's start
time, so a reused pid is not mistaken for the owner) and when it started. A worker calls
`reap_orphans` at start-up: containers whose owner on this host is gone, or that are older than
any job may be, are removed. Their workspaces are ephemeral and are not given back.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Final

from sandbox.dockercli import docker

__all__ = ["LABEL", "owner_label", "reap_orphans"]

LABEL: Final = "ambient.sandbox"
_FORMAT: Final = '{{.ID}}\t{{.Label "ambient.sandbox.owner"}}\t{{.Label "ambient.sandbox.created"}}'


def owner_label(pid: int | None = None) -> str:
    """`host/pid/start-time` of this process (or of `pid`)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{pid}/{_start_time(pid)}"


def owner_alive(label: str) -> bool | None:
    """Whether the labelled owner still runs; None when it ran on another host."""
    host, _, rest = label.partition("/")
    pid, _, started = rest.partition("/")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    return _start_time(int(pid)) == started


async def reap_orphans(*, max_age_s: float = 6 * 3600) -> list[str]:
    """Remove orphaned sandbox containers; returns the ids removed."""
    call = await docker(
        "ps", "--all", "--no-trunc", "--filter", f"label={LABEL}", "--format", _FORMAT
    )
    now = time.time()
    orphans = []
    for line in call.stdout.splitlines():
        container, owner, created = [*line.split("\t"), "", ""][:3]
        too_old = created.isdigit() and now - int(created) > max_age_s
        if owner_alive(owner) is False or too_old:
            orphans.append(container)
    if orphans:
        await docker("rm", "--force", "--volumes", *orphans, timeout_s=120)
    return orphans


def _start_time(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    # Field 22 (start time in clock ticks) counted after the ")" that ends the command name.
    return stat.rpartition(")")[2].split()[19]
