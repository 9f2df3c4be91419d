"""The whole committed tree as one diff, for the readers that look at a repository entire
(the sweep's secret report), without the files too large to read.

A repository may track a 150 MB text file or a 500 MB sparse one: `git diff <empty tree> HEAD`
made such a diff whole in memory and the scan read every line of it (a sweep was still running
at 240 s with 1.25 GB resident). Files above the bound are left out by pathspec, so git never
produces their text, and named so the report can say they were skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.git.run import run_git

__all__ = ["EMPTY_TREE", "MAX_READ_BYTES", "TreeDiff", "large_files", "tree_diff"]

#: git's empty tree: diffing HEAD against it shows every committed line as added.
EMPTY_TREE: Final = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
#: Files larger than this are skipped by the readers of a whole repository.
MAX_READ_BYTES: Final = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class TreeDiff:
    """The committed tree as added lines, and the paths left out for their size."""

    text: str
    skipped: tuple[str, ...]

    def note(self) -> str:
        """One line for a report; empty when nothing was skipped."""
        if not self.skipped:
            return ""
        shown = ", ".join(self.skipped[:5]) + (" …" if len(self.skipped) > 5 else "")
        return (
            f"{len(self.skipped)} file(s) over {MAX_READ_BYTES // (1024 * 1024)} MiB not read: "
            f"{shown}"
        )


async def large_files(root: Path, max_bytes: int = MAX_READ_BYTES) -> tuple[str, ...]:
    """The committed files of `root` larger than `max_bytes` (sizes from git's objects)."""
    listing = await run_git(["ls-tree", "-r", "-l", "-z", "HEAD"], root)
    found = []
    for entry in listing.text.split("\0"):
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        sized = len(fields) == 4 and fields[1] == "blob" and fields[3].isdigit()
        if sized and int(fields[3]) > max_bytes:
            found.append(path)
    return tuple(sorted(found))


async def tree_diff(root: Path, max_bytes: int = MAX_READ_BYTES) -> TreeDiff:
    """Every committed file of `root` but the large ones, as one diff against the empty tree."""
    skipped = await large_files(root, max_bytes)
    excludes = [f":(exclude,literal){path}" for path in skipped]
    diff = await run_git(["diff", "--no-color", EMPTY_TREE, "HEAD", "--", ".", *excludes], root)
    return TreeDiff(diff.text, skipped)
