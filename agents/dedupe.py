"""Dedupe and conflict selection among proposals: pure, deterministic, order-independent.

Two proposals *overlap* when their diffs change the same lines of the same file, or lines
next to each other (git's merge treats touching changes as a conflict too). Lines are read
from the hunk bodies, not the `@@` counts models get wrong, in the coordinates of the old
file, which every proposal shares. Overlapping proposals with the same intent are
*duplicates*; with different intents they *conflict*. Either way one is kept and the other
is recorded as superseded, with the reason.

Which one is kept: rank every proposal by (1) higher claimed severity, (2) fewer changed
lines, (3) agent priority, (4) title, then diff text; walk the ranking and keep each proposal
that overlaps none already kept. The result does not depend on the order proposals arrive in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from agents.proposal import Proposal
from agents.risk import RISK_RANK, changed_lines

__all__ = [
    "Selection",
    "Span",
    "Superseded",
    "changed_spans",
    "first_overlap",
    "same_intent",
    "select",
]

_HUNK: Final = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")
_TOKEN: Final = re.compile(r"[a-z0-9]+")
_STOPWORDS: Final = frozenset(
    {"a", "an", "the", "in", "of", "to", "for", "with", "and", "or", "on", "from", "by", "at",
     "into", "its", "it", "this", "that", "use", "using"}
)  # fmt: skip
# Labels every proposal of a kind carries say nothing about what one proposal does.
_GENERIC_TAGS: Final = frozenset(
    {"security", "refactor", "style", "performance", "test", "tests", "documentation",
     "formatting", "ruff"}
)  # fmt: skip
_SAME_TITLE: Final = 0.5
_UNRANKED: Final = 99


@dataclass(frozen=True, slots=True)
class Span:
    """The changed part of one hunk, in half-lines of the old file: old line n is 2n, and an
    insertion before old line n is 2n-1 (lines that replace removed lines count as those)."""

    path: str
    start: int
    end: int

    def describe(self) -> str:
        """`src/a.py lines 10-12` (or `line 10`, or `after line 9`)."""
        first, last = (self.start + 1) // 2, self.end // 2
        if self.start == self.end and self.start % 2:
            return f"{self.path} after line {first - 1}"
        if first >= last:
            return f"{self.path} line {first}"
        return f"{self.path} lines {first}-{last}"


def _path(header: str) -> str | None:
    path = header[4:].split("\t", 1)[0].strip()
    if path == "/dev/null":
        return None
    return path[2:] if path.startswith(("a/", "b/")) else path


class _Walker:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.path = ""
        self.next_old = 0
        self.marks: list[int] = []
        self.replacing = False

    def close_hunk(self) -> None:
        if self.marks and self.path:
            self.spans.append(Span(self.path, min(self.marks), max(self.marks)))
        self.marks = []
        self.replacing = False

    def header(self, old: str, new: str) -> None:
        self.close_hunk()
        self.path = _path(new) or _path(old) or ""

    def line(self, line: str, in_hunk: bool) -> bool:
        """Take one line that is not a file header; return whether a hunk body continues."""
        if found := _HUNK.match(line):
            self.close_hunk()
            start, count = int(found[1]), int(found[2] or "1")
            # "-5,0" inserts after old line 5; "-5,3" starts at old line 5.
            self.next_old = start + 1 if count == 0 else start
            return True
        if not in_hunk:
            return False
        return self._body(line)

    def _body(self, line: str) -> bool:
        if line.startswith("-"):
            self.marks.append(2 * self.next_old)
            self.next_old += 1
            self.replacing = True
        elif line.startswith("+"):
            # Lines added right after removed ones replace them; others go between two lines.
            self.marks.append(2 * self.next_old - (2 if self.replacing else 1))
        elif line.startswith(" ") or not line:
            # Models often drop the leading space of an empty context line.
            self.next_old += 1
            self.replacing = False
        elif not line.startswith("\\"):
            self.close_hunk()
            return False
        return True


def changed_spans(diff: str) -> tuple[Span, ...]:
    """One span per hunk that changes something, from the hunk bodies of a unified diff."""
    walker = _Walker()
    in_hunk = False
    lines = diff.splitlines()
    for number, line in enumerate(lines):
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if line.startswith("+++ ") and number and lines[number - 1].startswith("--- "):
            continue
        # A removed line reading "-- x" looks like a header; only a "---"/"+++" pair is one.
        if line.startswith("--- ") and following.startswith("+++ "):
            walker.header(line, following)
            in_hunk = False
        else:
            in_hunk = walker.line(line, in_hunk)
    walker.close_hunk()
    return tuple(walker.spans)


def first_overlap(a: Iterable[Span], b: Sequence[Span]) -> tuple[Span, Span] | None:
    """The first pair of spans of `a` and `b` that change the same or adjacent lines."""
    for mine in a:
        for theirs in b:
            # Gaps of less than one whole untouched line (two half-lines) count as touching.
            if (
                mine.path == theirs.path
                and mine.start <= theirs.end + 2
                and theirs.start <= mine.end + 2
            ):
                return mine, theirs
    return None


def _title_words(title: str) -> frozenset[str]:
    words = (w for w in _TOKEN.findall(title.lower()) if w not in _STOPWORDS)
    return frozenset(w.removesuffix("s") if len(w) > 3 else w for w in words)


def _normalized_changes(diff: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    added, removed = changed_lines(diff)
    return tuple(" ".join(x.split()) for x in added), tuple(" ".join(x.split()) for x in removed)


def same_intent(a: Proposal, b: Proposal) -> bool:
    """True when two proposals aim at the same thing: the same change (ignoring whitespace),
    or the same files with similar titles or a shared specific tag."""
    if _normalized_changes(a.diff) == _normalized_changes(b.diff):
        return True
    if set(a.files_touched) != set(b.files_touched):
        return False
    words_a, words_b = _title_words(a.title), _title_words(b.title)
    if words_a and words_b and len(words_a & words_b) / len(words_a | words_b) >= _SAME_TITLE:
        return True
    tags_a = {t.lower() for t in a.tags} - _GENERIC_TAGS
    return bool(tags_a & ({t.lower() for t in b.tags} - _GENERIC_TAGS))


@dataclass(frozen=True, slots=True)
class Superseded:
    """A proposal not selected: which kept proposal won over it, and why (one line)."""

    proposal: Proposal
    by: Proposal
    kind: Literal["duplicate", "conflict"]
    reason: str


@dataclass(frozen=True, slots=True)
class Selection:
    """The kept proposals (best first) and the superseded ones."""

    selected: tuple[Proposal, ...]
    superseded: tuple[Superseded, ...]


def _size(proposal: Proposal) -> int:
    added, removed = changed_lines(proposal.diff)
    return len(added) + len(removed)


def _rank(proposal: Proposal, priority: Mapping[str, int]) -> tuple[int, int, int, str, str]:
    return (
        -RISK_RANK[proposal.risk_level],
        _size(proposal),
        priority.get(proposal.agent, _UNRANKED),
        proposal.title,
        proposal.diff,
    )


def _why_kept(kept: Proposal, other: Proposal, priority: Mapping[str, int]) -> str:
    if kept.risk_level != other.risk_level:
        return f"higher severity ({kept.risk_level} over {other.risk_level})"
    if _size(kept) != _size(other):
        return f"smaller diff ({_size(kept)} changed lines against {_size(other)})"
    if priority.get(kept.agent, _UNRANKED) != priority.get(other.agent, _UNRANKED):
        return f"{kept.agent} comes first in agent priority"
    return "it sorts first by title"


def _superseded(
    loser: Proposal, winner: Proposal, spans: tuple[Span, Span], priority: Mapping[str, int]
) -> Superseded:
    named = f'{winner.agent}\'s "{winner.title}"'
    why = _why_kept(winner, loser, priority)
    if same_intent(loser, winner):
        reason = f"duplicate of {named} ({spans[1].describe()}); kept that one: {why}"
        return Superseded(loser, winner, "duplicate", reason)
    reason = f"conflicts with {named}: both change {spans[0].describe()}; kept that one: {why}"
    return Superseded(loser, winner, "conflict", reason)


def select(proposals: Sequence[Proposal], priority: Mapping[str, int]) -> Selection:
    """Keep one of each group of overlapping proposals (see the module docstring for which).

    `priority` maps agent names to their rank (lower first); unknown agents come last.
    """
    ranked = sorted(proposals, key=lambda p: _rank(p, priority))
    kept: list[tuple[Proposal, tuple[Span, ...]]] = []
    superseded: list[Superseded] = []
    for proposal in ranked:
        spans = changed_spans(proposal.diff)
        for winner, winner_spans in kept:
            pair = first_overlap(spans, winner_spans)
            if pair is not None:
                superseded.append(_superseded(proposal, winner, pair, priority))
                break
        else:
            kept.append((proposal, spans))
    return Selection(tuple(p for p, _ in kept), tuple(superseded))
