"""Reading the files a patch touches, and writing the planned result all or nothing.

Every new content goes to a temporary file beside its target first; only then are the
targets replaced (`os.replace`) or deleted, one by one. If anything fails on the way, the
targets already changed get their old bytes and modes back, created directories are
removed, and removed directories come back, so the worktree is as it was.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import PatchDoesNotApply
from bot.patch.plan import Change

__all__ = ["read_snapshot", "write_changes"]


def read_snapshot(
    root: Path, paths: Iterable[str]
) -> tuple[dict[str, bytes | None], dict[str, int]]:
    """The bytes (None when missing) and modes of `paths` under `root`.

    Raises `PatchDoesNotApply` for a symlink (its content is a link target, not text) or
    anything that is not a regular file.
    """
    files: dict[str, bytes | None] = {}
    modes: dict[str, int] = {}
    for rel in paths:
        target = root / rel
        try:
            info = target.lstat()
        except (FileNotFoundError, NotADirectoryError):
            files[rel] = None
            continue
        if stat.S_ISLNK(info.st_mode):
            raise PatchDoesNotApply(f"{rel}: is a symbolic link; change the file it points to")
        if not stat.S_ISREG(info.st_mode):
            raise PatchDoesNotApply(f"{rel}: is not a regular file")
        files[rel] = target.read_bytes()
        modes[rel] = stat.S_IMODE(info.st_mode)
    return files, modes


def _mode(change: Change, old_mode: int | None) -> int:
    if change.mode is not None:
        return 0o755 if change.mode.endswith("755") else 0o644
    return old_mode if old_mode is not None else 0o644


@dataclass(slots=True)
class _Journal:
    """What was done so far, so that it can be undone in reverse."""

    temps: list[Path] = field(default_factory=list)
    made_dirs: list[Path] = field(default_factory=list)
    removed_dirs: list[Path] = field(default_factory=list)
    replaced: list[tuple[Path, bytes | None, int | None]] = field(default_factory=list)

    def undo(self) -> None:
        for target, data, mode in reversed(self.replaced):
            if data is None:
                target.unlink(missing_ok=True)
            else:
                for directory in reversed(self.removed_dirs):
                    directory.mkdir(exist_ok=True)
                self.removed_dirs.clear()
                _write_via_temp(target, data, mode if mode is not None else 0o644)
        for temp in self.temps:
            temp.unlink(missing_ok=True)
        for directory in reversed(self.removed_dirs):
            directory.mkdir(exist_ok=True)
        for directory in reversed(self.made_dirs):
            try:
                directory.rmdir()
            except OSError:
                continue


def _write_via_temp(target: Path, data: bytes, mode: int) -> None:
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".ambient-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(name, mode)
        os.replace(name, target)
    except OSError:
        Path(name).unlink(missing_ok=True)
        raise


def _make_dirs(root: Path, parent: Path, journal: _Journal) -> None:
    missing: list[Path] = []
    cur = parent
    while cur != root and not cur.exists():
        missing.append(cur)
        cur = cur.parent
    for directory in reversed(missing):
        directory.mkdir()
        journal.made_dirs.append(directory)


def _prune(root: Path, start: Path, journal: _Journal) -> None:
    # git removes directories a deletion leaves empty; so do we, back to the root.
    cur = start
    while cur != root and cur.is_dir() and not any(cur.iterdir()):
        cur.rmdir()
        journal.removed_dirs.append(cur)
        cur = cur.parent


def write_changes(
    root: Path,
    changes: Sequence[Change],
    *,
    replace: Callable[[Path, Path], None] = os.replace,
) -> None:
    """Write every change under `root`, or none: on any error the tree is restored first.

    `replace` is the final rename step (a seam for tests that inject a failure mid-way).
    """
    journal = _Journal()
    staged: list[tuple[Change, Path | None]] = []
    try:
        for change in changes:
            target = root / change.path
            if change.content is None:
                staged.append((change, None))
                continue
            _make_dirs(root, target.parent, journal)
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=".ambient-", suffix=".tmp")
            temp = Path(name)
            journal.temps.append(temp)
            with os.fdopen(fd, "wb") as handle:
                handle.write(change.content)
            old = target.lstat() if target.exists() else None
            os.chmod(temp, _mode(change, stat.S_IMODE(old.st_mode) if old else None))
            staged.append((change, temp))
        for change, staged_temp in staged:
            target = root / change.path
            exists = target.exists()
            before = target.read_bytes() if exists else None
            mode = stat.S_IMODE(target.lstat().st_mode) if exists else None
            if staged_temp is None:
                target.unlink()
                journal.replaced.append((target, before, mode))
                _prune(root, target.parent, journal)
            else:
                replace(staged_temp, target)
                journal.temps.remove(staged_temp)
                journal.replaced.append((target, before, mode))
    except BaseException:
        journal.undo()
        raise
