"""Walking a directory a sandbox wrote: what it holds, and what may not stay in it.

`measure` only reads; `tend` also clears setuid and setgid bits from files, removes fifos,
sockets and device nodes, and, given `free_since_ns`, removes what changed since then. Both walk
by directory descriptors, opened with O_NOFOLLOW and checked against the inode listed, so a
symlink is never followed, the walk never leaves the tree (nor its filesystem), and no path
length limits it. Blocking: run them in a thread.

Bytes are counted as `du` counts them (blocks allocated, a file with several links once), but
every entry costs at least one block, so a flood of empty files or directories counts too.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

__all__ = ["ENTRY_BYTES", "MAX_DEPTH", "Tally", "WalkStopped", "change_clock_ns", "measure", "tend"]

#: What every entry costs at least: the block a small file or directory takes on ext4 and xfs.
ENTRY_BYTES: Final = 4096
#: Directories held open at once. A subtree nested deeper is beyond a read-only walk (a poll
#: reports `too_deep`); `tend` moves it up to the top of the tree and walks it there.
MAX_DEPTH: Final = 128

_DIRECTORY: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PRIVILEGE: Final = stat.S_ISUID | stat.S_ISGID
# Gone, or swapped for a symlink or a file, between the listing and the open: not ours to follow.
_MOVED: Final = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP})
# Linux's CLOCK_REALTIME_COARSE (Python names no constant for it): inode times come from it.
_COARSE_CLOCK: Final = 5


def change_clock_ns() -> int:
    """Now, on the clock the kernel stamps inode change times with: an entry changed after this
    call has `st_ctime_ns` at least this (a program cannot set a change time)."""
    return time.clock_gettime_ns(_COARSE_CLOCK)


class WalkStopped(Exception):
    """A walk gave up because its stop event was set."""


@dataclass(slots=True)
class Tally:
    """What a walk counted, and, tending, what it changed."""

    bytes: int = 0
    entries: int = 0
    #: The latest change time seen, or, when the walk changed something, now.
    newest_ns: int = 0
    too_deep: bool = False
    cleared: int = 0
    removed: int = 0


_Listed = tuple[str, os.stat_result]


@dataclass(slots=True)
class _Frame:
    fd: int
    name: str
    listed: os.stat_result | None
    pending: list[_Listed] = field(default_factory=list)


def measure(
    root: Path, skip: frozenset[str] = frozenset(), stop: threading.Event | None = None
) -> Tally:
    """What `root` holds, changing nothing; `skip` names top-level entries left out. Raises
    `WalkStopped` soon after `stop` is set."""
    return _Walk(root, skip, tending=False, since=None, stop=stop).run()


def tend(root: Path, skip: frozenset[str] = frozenset(), free_since_ns: int | None = None) -> Tally:
    """Clear setuid/setgid bits of files and remove special files in `root`, and count what is
    left. With `free_since_ns`, also remove every non-directory changed since then and every
    directory changed since then that is left empty. Only for a tree no sandboxed process is
    writing to."""
    return _Walk(root, skip, tending=True, since=free_since_ns, stop=None).run()


class _Walk:
    def __init__(
        self,
        root: Path,
        skip: frozenset[str],
        *,
        tending: bool,
        since: int | None,
        stop: threading.Event | None,
    ) -> None:
        self._root = root
        self._skip = skip
        self._tending = tending
        self._since = since
        self._stop = stop
        self._linked: set[int] = set()
        self.tally = Tally()

    def run(self) -> Tally:
        try:
            top = os.open(self._root, _DIRECTORY)
        except FileNotFoundError:
            return self.tally  # removed already: nothing is left to count or tend
        stack = [_Frame(top, "", None)]
        try:
            self._device = os.fstat(top).st_dev
            stack[0].pending = self._scan(top, self._skip)
            while stack:
                frame = stack[-1]
                if not frame.pending:
                    stack.pop()
                    self._leave(frame, stack[-1] if stack else None)
                    continue
                name, listed = frame.pending.pop()
                if len(stack) >= MAX_DEPTH:
                    self._too_deep(frame, stack[0], name, listed)
                    continue
                fd = self._enter(frame.fd, name, listed)
                if fd is not None:
                    stack.append(_Frame(fd, name, listed))
                    stack[-1].pending = self._scan(fd)
        finally:
            for frame in stack:
                os.close(frame.fd)
        if self.tally.cleared or self.tally.removed:
            self.tally.newest_ns = max(self.tally.newest_ns, time.time_ns())
        return self.tally

    def _scan(self, fd: int, skip: frozenset[str] = frozenset()) -> list[_Listed]:
        """Count (and tend) the entries of one directory; returns its subdirectories."""
        if self._stop is not None and self._stop.is_set():
            raise WalkStopped
        with os.scandir(fd) as listing:
            entries = [entry for entry in listing if entry.name not in skip]
        # The loop runs once per entry of the tree: plain locals, the common case inline.
        tally, since, tending = self.tally, self._since, self._tending
        subdirectories = []
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            mode = st.st_mode
            is_dir = stat.S_ISDIR(mode)
            if not is_dir:
                odd = mode & _PRIVILEGE or not (stat.S_ISREG(mode) or stat.S_ISLNK(mode))
                written = since is not None and st.st_ctime_ns >= since
                if tending and (odd or written) and self._tended_away(fd, entry.name, st):
                    continue
                if st.st_nlink > 1 and self._linked_before(st):
                    continue
            tally.bytes += max(st.st_blocks * 512, ENTRY_BYTES)
            tally.entries += 1
            tally.newest_ns = max(tally.newest_ns, st.st_ctime_ns)
            if is_dir:
                subdirectories.append((entry.name, st))
        return subdirectories

    def _tended_away(self, fd: int, name: str, st: os.stat_result) -> bool:
        """Tend one entry that is not a directory; True when it was removed."""
        mode = st.st_mode
        written = self._since is not None and st.st_ctime_ns >= self._since
        if written or not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            # A fifo would hang a host tool that reads the tree; a socket or a device node
            # has no business there either (and no command here may make a device).
            try:
                os.unlink(name, dir_fd=fd)
            except FileNotFoundError:
                return True
            self.tally.removed += 1
            return True
        if stat.S_ISREG(mode) and mode & _PRIVILEGE:
            _clear_privilege(fd, name, st)
            self.tally.cleared += 1
        return False

    def _linked_before(self, st: os.stat_result) -> bool:
        """Whether another link to this file was counted already (then it counts no more)."""
        if st.st_ino in self._linked:
            return True
        self._linked.add(st.st_ino)
        return False

    def _enter(self, parent: int, name: str, listed: os.stat_result) -> int | None:
        """A descriptor of the directory `name` in `parent`, or None to leave it unwalked."""
        if listed.st_dev != self._device:
            return None
        try:
            fd = os.open(name, _DIRECTORY, dir_fd=parent)
        except PermissionError:
            # Only a worker that is not root meets this: a command made a directory of its own
            # unreadable. Tending (no command runs), give it back to its owner to read.
            if not self._tending or listed.st_uid != os.geteuid():
                return None
            _chmod_entry(parent, name, stat.S_IMODE(listed.st_mode) | stat.S_IRWXU)
            fd = os.open(name, _DIRECTORY, dir_fd=parent)
        except OSError as exc:
            if exc.errno in _MOVED:
                return None
            raise
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (listed.st_dev, listed.st_ino):
            os.close(fd)
            return None
        return fd

    def _too_deep(self, frame: _Frame, top: _Frame, name: str, listed: os.stat_result) -> None:
        if not self._tending:
            self.tally.too_deep = True
            return
        # Move the subtree up to the top of the tree, where it is walked in its turn: the
        # number of open directories stays bounded however deep a command nested them.
        hoisted = f".ambient-deep-{secrets.token_hex(4)}"
        try:
            os.rename(name, hoisted, src_dir_fd=frame.fd, dst_dir_fd=top.fd)
        except FileNotFoundError:
            return
        top.pending.append((hoisted, listed))

    def _leave(self, frame: _Frame, parent: _Frame | None) -> None:
        os.close(frame.fd)
        listed = frame.listed
        if parent is None or listed is None or self._since is None:
            return
        if listed.st_ctime_ns < self._since:
            return
        try:
            os.rmdir(frame.name, dir_fd=parent.fd)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return
            raise
        self.tally.removed += 1
        self.tally.entries -= 1
        self.tally.bytes -= max(listed.st_blocks * 512, ENTRY_BYTES)


def _clear_privilege(fd: int, name: str, listed: os.stat_result) -> None:
    handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    try:
        now = os.fstat(handle)
        if stat.S_ISREG(now.st_mode) and now.st_ino == listed.st_ino:
            # An O_PATH descriptor names the file itself: chmod through it follows no symlink.
            os.chmod(f"/proc/self/fd/{handle}", stat.S_IMODE(now.st_mode) & ~_PRIVILEGE)
    finally:
        os.close(handle)


def _chmod_entry(fd: int, name: str, mode: int) -> None:
    handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
    try:
        os.chmod(f"/proc/self/fd/{handle}", mode)
    finally:
        os.close(handle)
