"""Per-sandbox cgroups for the bubblewrap backend: a PID and a memory limit on a whole tree.

rlimits cannot stop a fork bomb run by root (the kernel exempts uid 0 from RLIMIT_NPROC, and
bwrap's user namespace maps the sandbox user onto the host user), and RLIMIT_AS miscounts
runtimes that reserve address space. Where the host lets us create cgroups (root, or a delegated
subtree), each sandbox gets its own, under the cgroup this process is in (v1) or under
`ambient-sandbox/` at the hierarchy's root (v2, whose rule of no processes in inner nodes forbids
nesting under our own). The memory cgroup also counts OOM kills, which makes `oom_killed` exact.

No cpu cgroup: moving each command into one cost about 10 ms under load here (cgroup v1), half
the per-command budget; CPU is bounded by RLIMIT_CPU and the wall-clock timeout instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sandbox.base import Limits

__all__ = ["CgroupSet", "create_cgroups"]

_PARENT: Final = "ambient-sandbox"


@dataclass(frozen=True, slots=True)
class CgroupSet:
    """The cgroup directories of one sandbox: one per v1 hierarchy, or one on v2."""

    dirs: tuple[Path, ...]
    memory_dir: Path
    version: int

    @property
    def procs_files(self) -> tuple[Path, ...]:
        """Write a pid into each of these to move that process into the sandbox's cgroups."""
        return tuple(d / "cgroup.procs" for d in self.dirs)

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer has killed in this cgroup so far."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in (self.memory_dir / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def pids(self) -> set[int]:
        """Every process still in the sandbox's cgroups."""
        found: set[int] = set()
        for procs in self.procs_files:
            with contextlib.suppress(FileNotFoundError):
                found.update(int(p) for p in procs.read_text().split())
        return found

    def kill_all(self, spare: int | None = None) -> int:
        """SIGKILL every process in the cgroups but `spare`; returns how many were signalled."""
        pids = self.pids() - {spare}
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def remove(self) -> None:
        """Remove the directories; the caller has emptied them."""
        for path in self.dirs:
            with contextlib.suppress(FileNotFoundError):
                path.rmdir()


def create_cgroups(name: str, limits: Limits) -> CgroupSet | None:
    """Create and limit this sandbox's cgroups, or None when the host gives us none to create."""
    try:
        v1 = _v1_dirs(name)
        if v1 is not None:
            return _limit_v1(v1, limits)
        return _create_v2(name, limits)
    except OSError:
        return None


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(fstype, mount point, root of the mount in its hierarchy, super options) of cgroups."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((tail[0], fields[4], fields[3], set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """controller → this process's cgroup path; "" is the v2 entry."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _v1_dirs(name: str) -> dict[str, Path] | None:
    own = _own_paths()
    dirs: dict[str, Path] = {}
    for fstype, point, root, options in _mounts():
        if fstype != "cgroup":
            continue
        for controller in ("pids", "memory"):
            if controller in options and controller in own:
                relative = os.path.relpath(own[controller], root)
                inside = Path(point) if relative == "." else Path(point) / relative
                dirs[controller] = inside / _PARENT / name
    if "pids" not in dirs or "memory" not in dirs:
        return None
    return dirs


def _limit_v1(dirs: dict[str, Path], limits: Limits) -> CgroupSet:
    created = CgroupSet(tuple(dirs.values()), dirs["memory"], 1)
    try:
        for path in dirs.values():
            _remove_stale(path.parent)
            path.mkdir(parents=True)
        _write(dirs["pids"] / "pids.max", limits.pids)
        _write(dirs["memory"] / "memory.limit_in_bytes", limits.memory_bytes)
        memsw = dirs["memory"] / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            _write(memsw, limits.memory_bytes)
    except OSError:
        created.remove()
        raise
    return created


def _create_v2(name: str, limits: Limits) -> CgroupSet | None:
    points = [point for fstype, point, root, _ in _mounts() if fstype == "cgroup2" and root == "/"]
    if not points:
        return None
    top = Path(points[0])
    available = set((top / "cgroup.controllers").read_text().split())
    if not {"pids", "memory"} <= available:
        return None
    wanted = "+pids +memory"
    parent = top / _PARENT
    parent.mkdir(exist_ok=True)
    _remove_stale(parent)
    _write(top / "cgroup.subtree_control", wanted)
    _write(parent / "cgroup.subtree_control", wanted)
    path = parent / name
    path.mkdir()
    created = CgroupSet((path,), path, 2)
    try:
        _write(path / "pids.max", limits.pids)
        _write(path / "memory.max", limits.memory_bytes)
        if (path / "memory.swap.max").exists():
            _write(path / "memory.swap.max", 0)
    except OSError:
        created.remove()
        raise
    return created


def _remove_stale(parent: Path) -> None:
    # Cgroups are named "<worker pid>-<token>": those of workers that died without closing
    # their sandboxes are removed here. A live sandbox's cgroup is empty between commands, so
    # only the owner's death, never emptiness, makes one stale.
    if not parent.is_dir():
        return
    for child in parent.iterdir():
        owner = child.name.partition("-")[0]
        if child.is_dir() and owner.isdigit() and not Path(f"/proc/{owner}").exists():
            with contextlib.suppress(OSError):
                child.rmdir()


def _write(path: Path, value: int | str) -> None:
    path.write_text(f"{value}\n")
