"""A set-up environment's generated files, laid into the workspace for the checks.

A build writes into its source tree: setuptools-scm and hatch-vcs write the version module an
editable install imports (`_version.py`), an in-place build its compiled extension modules.
The setup builds on a copy of the checkout, so that the tree under test stays exactly the
proposal; what the build left there, of the files the repository's git ignores, is kept with
the environment (`bot.pipeline.environment`) and given to the checks' sandbox as
`Provision.generated`. Before every command it is laid into the workspace here, file by file,
wherever the workspace has nothing at that path, and what was laid is taken away again when
the sandbox closes.

It never enters a proposal: the pipeline stages the change under test before the checks run
and afterwards removes whatever is not staged (`bot.pipeline.process.artifacts_discarded`),
and only ignored files are kept, which staging passes over. A laid file is a copy (the checks
may write to it; the environment's copy stays as built), and a path whose directories include
a symlink is passed over, so that nothing is ever written outside the workspace.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

__all__ = ["GeneratedFiles"]


class GeneratedFiles:
    """The files under `source`, to be laid into `workspace` at the same relative paths."""

    def __init__(self, source: Path, workspace: Path) -> None:
        self.source = source
        self.workspace = workspace
        self._laid: set[Path] = set()
        self._made: list[Path] = []

    def lay(self) -> int:
        """Copy in every file the workspace lacks; how many were laid now."""
        count = 0
        for base, dirs, files in os.walk(self.source):
            dirs.sort()
            relative = Path(base).relative_to(self.source)
            for name in sorted(files):
                origin = Path(base, name)
                if origin.is_symlink() or not origin.is_file():
                    continue
                if self._lay_one(origin, relative / name):
                    count += 1
        return count

    def remove(self) -> None:
        """Take away what was laid (what a command since put in its place too), and the
        directories made for it that are empty."""
        for path in self._laid:
            if path.is_file() and not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.unlink()
        for directory in sorted(self._made, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()
        self._laid.clear()
        self._made.clear()

    def _lay_one(self, origin: Path, relative: Path) -> bool:
        parent = self._directory(relative.parent)
        if parent is None:
            return False
        target = parent / relative.name
        if os.path.lexists(target):
            return False
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            descriptor = os.open(target, flags, origin.stat().st_mode & 0o755)
        except OSError:
            return False
        with os.fdopen(descriptor, "wb") as out, origin.open("rb") as data:
            shutil.copyfileobj(data, out)
        self._laid.add(target)
        return True

    def _directory(self, relative: Path) -> Path | None:
        """`relative`'s directory in the workspace, made where missing; None where one of its
        parts is a symlink or no directory."""
        current = self.workspace
        for part in relative.parts:
            current = current / part
            if current.is_symlink():
                return None
            if not current.exists():
                try:
                    current.mkdir()
                except OSError:
                    return None
                self._made.append(current)
            elif not current.is_dir():
                return None
        return current
