"""How two commits differ, in the shape of GitHub's diff entries (compare, pull files)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.sim.github_git import Git

__all__ = ["DiffFile", "diff_files"]

_STATUS = {
    "A": "added",
    "D": "removed",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "T": "changed",
}


@dataclass(frozen=True, slots=True)
class DiffFile:
    filename: str
    status: str
    additions: int
    deletions: int
    patch: str | None
    previous_filename: str | None
    sha: str | None


async def diff_files(git: Git, base: str, head: str) -> list[DiffFile]:
    """Files changed from `base` to `head`, as GitHub lists them (with per-file patches)."""
    status_out = await git.run("diff", "-M", "--name-status", "-z", base, head)
    numstat_out = await git.run("diff", "-M", "--numstat", "-z", base, head)
    patch_out = await git.run("diff", "-M", "--no-color", "--full-index", base, head)
    statuses = _parse_name_status(status_out.decode("utf-8", "surrogateescape"))
    counts = _parse_numstat(numstat_out.decode("utf-8", "surrogateescape"))
    patches = _split_patches(patch_out.decode("utf-8", "replace"))
    head_entries = {e.path: e.sha for e in await git.ls_tree(head, recursive=True)}
    files: list[DiffFile] = []
    for index, (letter, old, new) in enumerate(statuses):
        adds, dels = counts[index] if index < len(counts) else (0, 0)
        status = _STATUS.get(letter[0], "modified")
        files.append(
            DiffFile(
                filename=new,
                status=status,
                additions=adds,
                deletions=dels,
                patch=patches[index] if index < len(patches) else None,
                previous_filename=old if letter[0] in "RC" else None,
                sha=head_entries.get(new),
            )
        )
    return files


def _parse_name_status(text: str) -> list[tuple[str, str, str]]:
    fields = text.split("\0")
    result: list[tuple[str, str, str]] = []
    i = 0
    while i < len(fields) and fields[i]:
        letter = fields[i]
        if letter[0] in "RC":
            result.append((letter, fields[i + 1], fields[i + 2]))
            i += 3
        else:
            result.append((letter, fields[i + 1], fields[i + 1]))
            i += 2
    return result


def _parse_numstat(text: str) -> list[tuple[int, int]]:
    counts: list[tuple[int, int]] = []
    fields = text.split("\0")
    i = 0
    while i < len(fields) and fields[i]:
        adds, dels, path = fields[i].split("\t", 2)
        # a rename puts the two paths in the next two fields and leaves this one empty
        i += 3 if path == "" else 1
        counts.append((int(adds) if adds != "-" else 0, int(dels) if dels != "-" else 0))
    return counts


def _split_patches(text: str) -> list[str | None]:
    chunks: list[str | None] = []
    for chunk in text.split("\ndiff --git ")[0:]:
        if not chunk.strip():
            continue
        start = chunk.find("\n@@")
        chunks.append(chunk[start + 1 :].rstrip("\n") if start >= 0 else None)
    return chunks
