"""Every file's turn comes: a cursor over a repository's source files that successive sweeps
advance, so each sweep shows the specialists files the earlier ones did not.

The source files (code, not tests, not ignored) are taken in path order; a sweep shows the
`count` files after the cursor (wrapping around) and moves the cursor to the last of them, so
with `count` files a sweep, every file is shown within ceil(files / count) sweeps. The cursor
also remembers what the last `COVERAGE_SWEEPS` sweeps showed, for the dashboard's coverage
line. A sweep retried under the same job id starts where its first try did. Pure values; the
flows keep them in Redis and on the dashboard.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from agents.specialists.tests import is_test_path

__all__ = [
    "COVERAGE_SWEEPS",
    "Coverage",
    "Cursor",
    "SweepRecord",
    "advance",
    "begin",
    "coverage",
    "cursor_from_json",
    "source_files",
    "window",
]

#: How many recent sweeps the coverage line counts.
COVERAGE_SWEEPS: Final = 4
#: At most this many paths of one sweep are remembered (the record lives in an issue body).
MAX_REMEMBERED: Final = 500
SOURCE_SUFFIXES: Final = (
    ".py", ".pyi", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".rs", ".rb", ".java",
    ".kt", ".scala", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".php", ".swift", ".sh",
)  # fmt: skip


def source_files(
    paths: Iterable[str], *, skip: Callable[[str], bool] = lambda path: False
) -> tuple[str, ...]:
    """The code files among `paths` that sweeps take turns over, in path order."""
    return tuple(
        sorted(
            p for p in paths if p.endswith(SOURCE_SUFFIXES) and not is_test_path(p) and not skip(p)
        )
    )


@dataclass(frozen=True, slots=True)
class SweepRecord:
    """One sweep: its job id, the cursor when it began, and the files it showed."""

    job: str
    before: str
    shown: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next sweep's turn starts (after the path `after`; "" is the beginning), and
    the most recent sweeps, oldest first."""

    after: str = ""
    recent: tuple[SweepRecord, ...] = ()

    def to_json(self) -> str:
        """The cursor as compact JSON (safe inside an HTML comment: no `>` appears raw)."""
        data = {
            "after": self.after,
            "recent": [
                {"job": r.job, "before": r.before, "shown": list(r.shown)} for r in self.recent
            ],
        }
        return json.dumps(data, separators=(",", ":")).replace(">", "\\u003e")


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _record(value: object) -> SweepRecord | None:
    if not isinstance(value, Mapping):
        return None
    job, before, shown = value.get("job"), value.get("before"), _strings(value.get("shown"))
    if not isinstance(job, str) or not isinstance(before, str) or shown is None:
        return None
    return SweepRecord(job, before, shown[:MAX_REMEMBERED])


def cursor_from_json(text: str) -> Cursor | None:
    """The cursor `to_json` wrote, or None when `text` is not one (the caller starts over)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("after"), str):
        return None
    raw = data.get("recent", [])
    records = [_record(item) for item in raw] if isinstance(raw, list) else [None]
    if any(record is None for record in records):
        return None
    kept = tuple(r for r in records if r is not None)[-COVERAGE_SWEEPS:]
    return Cursor(data["after"], kept)


def begin(cursor: Cursor, job: str) -> Cursor:
    """The cursor a sweep of `job` starts from: a retried job starts where its first try did."""
    if cursor.recent and cursor.recent[-1].job == job:
        return Cursor(cursor.recent[-1].before, cursor.recent[:-1])
    return cursor


def window(sources: Sequence[str], after: str, count: int) -> tuple[str, ...]:
    """The `count` sources after `after` in path order, wrapping around (all, if fewer)."""
    if count <= 0 or not sources:
        return ()
    if count >= len(sources):
        return tuple(sources)
    start = bisect.bisect_right(sources, after) % len(sources)
    taken = sources[start : start + count]
    return (*taken, *sources[: count - len(taken)])


def advance(cursor: Cursor, job: str, turn: Sequence[str], shown: Iterable[str]) -> Cursor:
    """The cursor after a sweep of `job` whose turn was `turn` and which showed `shown`."""
    after = turn[-1] if turn else cursor.after
    seen = tuple(sorted(set(shown) | set(turn)))[:MAX_REMEMBERED]
    record = SweepRecord(job, cursor.after, seen)
    return Cursor(after, (*cursor.recent, record)[-COVERAGE_SWEEPS:])


@dataclass(frozen=True, slots=True)
class Coverage:
    """How many of the current source files the recent sweeps showed."""

    shown: int
    total: int
    sweeps: int

    def line(self) -> str:
        """`Coverage: N of M source files shown in the last K sweeps (P%)`."""
        share = round(100 * self.shown / self.total) if self.total else 100
        sweeps = f"{self.sweeps} sweep" + ("s" if self.sweeps != 1 else "")
        return (
            f"Coverage: {self.shown:,} of {self.total:,} source files shown in the last "
            f"{sweeps} ({share}%)"
        )


def coverage(cursor: Cursor, sources: Iterable[str]) -> Coverage:
    """What the cursor's recent sweeps showed of `sources` (the files as they are now)."""
    current = set(sources)
    shown = {path for record in cursor.recent for path in record.shown} & current
    return Coverage(len(shown), len(current), len(cursor.recent))
