"""Lending a root-owned workspace to the Docker sandbox's user, and taking it back.

Workspaces are cloned by the worker, as root. Giving them to uid 1000 with chown would make git
on the host refuse them as "dubious ownership" while the job still uses them, so the owner stays:
every entry (except .git, which the sandbox mounts read-only) joins the sandbox's group and gains
group write. `restore` puts groups and modes back and gives the files the sandbox created to the
workspace's owner. Symlinks are never followed, so a link planted in the workspace cannot turn
either step against a file outside it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SharedWorkspace", "share_workspace"]


@dataclass(frozen=True, slots=True)
class SharedWorkspace:
    """What `share_workspace` changed, to undo it."""

    root: Path
    uid: int
    gid: int
    sandbox_gid: int
    before: dict[str, tuple[int, int]]

    def restore(self) -> None:
        """Give every entry back to the workspace's owner, with its former group and mode.

        An entry that vanishes meanwhile is skipped: the walk after the sandbox's last command
        may be removing what no command may leave (`sandbox.workspace_walk`).
        """
        for path, st in _entries(self.root):
            with contextlib.suppress(FileNotFoundError):
                self._restore(path, st)

    def _restore(self, path: str, st: os.stat_result) -> None:
        old = self.before.get(path)
        if old is None:
            # Created by the sandbox: it is the owner's now, with the owner's group.
            os.lchown(path, self.uid, self.gid)
            return
        old_gid, old_mode = old
        if st.st_gid != old_gid:
            os.lchown(path, -1, old_gid)
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) != old_mode:
            os.chmod(path, old_mode)


def share_workspace(root: Path, sandbox_gid: int) -> SharedWorkspace:
    """Let group `sandbox_gid` read and write every entry of `root` (blocking; run in a thread)."""
    top = root.lstat()
    before: dict[str, tuple[int, int]] = {}
    for path, st in _entries(root):
        mode = stat.S_IMODE(st.st_mode)
        before[path] = (st.st_gid, mode)
        os.lchown(path, -1, sandbox_gid)
        if stat.S_ISLNK(st.st_mode):
            continue
        wanted = mode | stat.S_IRGRP | stat.S_IWGRP
        if stat.S_ISDIR(st.st_mode) or mode & stat.S_IXUSR:
            wanted |= stat.S_IXGRP
        if wanted != mode:
            os.chmod(path, wanted)
    return SharedWorkspace(root, top.st_uid, top.st_gid, sandbox_gid, before)


def _entries(root: Path) -> list[tuple[str, os.stat_result]]:
    found = [(str(root), root.lstat())]
    pending = [str(root)]
    while pending:
        directory = pending.pop()
        with contextlib.suppress(FileNotFoundError), os.scandir(directory) as listing:
            for entry in listing:
                if directory == str(root) and entry.name == ".git":
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                found.append((entry.path, st))
                if stat.S_ISDIR(st.st_mode):
                    pending.append(entry.path)
    return found
