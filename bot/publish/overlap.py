"""Whether two changes touch the same lines: the same files and overlapping hunks.

A hunk is taken as the range of lines of the old file it replaces (its `@@ -start,count`);
a hunk that only inserts covers the one line it inserts after. Pure text in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

__all__ = ["Ranges", "hunk_ranges", "overlaps"]

#: Each path's old-file line ranges, as (first, last) inclusive.
Ranges = Mapping[str, tuple[tuple[int, int], ...]]

_HUNK: Final = re.compile(r"^@@ -(?P<start>\d+)(?:,(?P<count>\d+))? \+\d+(?:,\d+)? @@")


def _range(start: int, count: int) -> tuple[int, int]:
    if count == 0:
        return start, start
    return start, start + count - 1


def hunk_ranges(diff: str, default_path: str = "") -> dict[str, tuple[tuple[int, int], ...]]:
    """The old-file ranges of every hunk in `diff`, by path; `default_path` names the file of
    a patch without `---`/`+++` lines (GitHub's per-file `patch` of a PR)."""
    found: dict[str, list[tuple[int, int]]] = {}
    path = default_path
    for line in diff.splitlines():
        if line.startswith("--- "):
            name = line[4:].split("\t", 1)[0].strip()
            path = name[2:] if name.startswith("a/") else name
        elif line.startswith("+++ ") and path in ("", "/dev/null"):
            name = line[4:].split("\t", 1)[0].strip()
            path = name[2:] if name.startswith("b/") else name
        else:
            match = _HUNK.match(line)
            if match and path:
                count = 1 if match["count"] is None else int(match["count"])
                found.setdefault(path, []).append(_range(int(match["start"]), count))
    return {p: tuple(r) for p, r in found.items()}


def _meets(a: Iterable[tuple[int, int]], b: Iterable[tuple[int, int]]) -> bool:
    listed = tuple(b)
    return any(x0 <= y1 and y0 <= x1 for x0, x1 in a for y0, y1 in listed)


def overlaps(ours: Ranges, theirs: Ranges) -> tuple[str, ...]:
    """The paths both change where at least one hunk of each meets one of the other's."""
    return tuple(sorted(p for p in ours if p in theirs and _meets(ours[p], theirs[p])))
