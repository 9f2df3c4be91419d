"""The quality dashboard issue's body: one checkbox per branch that waits for a maintainer.

Pure text in, text out. A hidden marker holds the state, so the body is rewritten in place and
read back without trusting anything but the boxes a maintainer ticks. Below the boxes, the
sweeps' coverage line and, hidden, the sweep cursor (`agents.rotation`): GitHub keeps the
record a sweep rebuilds its cursor from when Redis lost it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final

__all__ = ["MARKER", "Entry", "Status", "merge", "parse", "render", "status_of", "ticked"]

MARKER: Final = "<!-- ambient:dashboard -->"
_CURSOR: Final = re.compile(r"^<!-- ambient:sweep-cursor (?P<json>\{[^\n]*\}) -->$", re.M)
_COVERAGE: Final = re.compile(r"^Coverage: [^\n]*$", re.M)
_LINE: Final = re.compile(
    r"^- \[(?P<box>[ xX])\] (?P<title>.*) \(`(?P<branch>[^`]+)`\)(?P<rest>.*)$"
)
_OPENED: Final = re.compile(r" — opened #(?P<number>\d+)$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One waiting branch: its title, whether its box is ticked, and the PR it became (0: none)."""

    title: str
    branch: str
    checked: bool = False
    pull_number: int = 0


@dataclass(frozen=True, slots=True)
class Status:
    """What the sweeps say below the boxes: the coverage line, and the cursor as JSON (one line,
    no `>`, as `Cursor.to_json` writes it)."""

    coverage: str
    cursor: str


def status_of(body: str) -> Status | None:
    """The status a dashboard body holds, or None."""
    cursor = _CURSOR.search(body)
    if cursor is None:
        return None
    line = _COVERAGE.search(body)
    return Status(line[0] if line else "", cursor["json"])


def _clean(title: str) -> str:
    # A title is one line without backticks or brackets, so no title can forge another line.
    return re.sub(r"[`\[\]\r\n]+", " ", title).strip()[:200] or "change"


def render(entries: Sequence[Entry], status: Status | None = None) -> str:
    """The whole issue body for `entries`, marker first, and the sweeps' `status` last."""
    lines = [
        MARKER,
        "Ambient's quality sweep found these changes that need a maintainer's approval (high "
        "risk, or files of a protected owner). Each is verified and waits on its branch; tick a "
        "box to open its pull request.",
        "",
    ]
    for entry in entries:
        box = "x" if entry.checked or entry.pull_number else " "
        opened = f" — opened #{entry.pull_number}" if entry.pull_number else ""
        lines.append(f"- [{box}] {_clean(entry.title)} (`{entry.branch}`){opened}")
    if not entries:
        lines.append("Nothing waits for approval.")
    if status is not None:
        cursor = status.cursor.replace("\n", " ").replace(">", "\\u003e")
        coverage = _clean(status.coverage) if status.coverage else ""
        lines += ["", *([coverage] if coverage else []), f"<!-- ambient:sweep-cursor {cursor} -->"]
    return "\n".join(lines) + "\n"


def parse(body: str) -> tuple[Entry, ...]:
    """The entries of a dashboard body (lines that are not entries are ignored)."""
    found: list[Entry] = []
    for line in body.splitlines():
        match = _LINE.match(line.rstrip())
        if match is None or not match["branch"].startswith("ambient/"):
            continue
        opened = _OPENED.match(match["rest"])
        number = int(opened["number"]) if opened else 0
        found.append(Entry(match["title"], match["branch"], match["box"] != " ", number))
    return tuple(found)


def ticked(body: str) -> tuple[Entry, ...]:
    """The entries whose box is ticked and whose pull request is not opened yet."""
    return tuple(e for e in parse(body) if e.checked and not e.pull_number)


def merge(current: Iterable[Entry], waiting: Iterable[Entry]) -> tuple[Entry, ...]:
    """Keep what the body says of known branches (ticks, opened PRs) and append new ones."""
    kept = {e.branch: e for e in current}
    for entry in waiting:
        if entry.branch not in kept:
            kept[entry.branch] = replace(entry, checked=False, pull_number=0)
    return tuple(kept.values())
