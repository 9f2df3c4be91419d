"""What Ambient remembers of its proposals, read back from GitHub: pure decisions over PRs.

GitHub is the record. Each PR Ambient opened carries its proposal's fingerprint in a hidden
marker (`bot.publish.fingerprint`); its state says what the maintainer decided: open, merged,
closed unmerged, or merged and later reverted (the `REVERTED_LABEL` Ambient puts on it when a
revert reaches the default branch). From that list alone follow which fingerprints are
rejected, each specialist's record, and how many proposals it may still make in a sweep.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from bot.github import PullRequest
from bot.publish.fingerprint import fingerprint_of_text

__all__ = [
    "REVERTED_LABEL",
    "Memory",
    "Proposed",
    "Record",
    "allowance",
    "learning_line",
    "remember",
    "stats_table",
]

#: Put on a merged Ambient PR whose change a later commit on the default branch reverted.
REVERTED_LABEL: Final = "ambient-reverted"

State = Literal["open", "merged", "closed", "reverted"]


@dataclass(frozen=True, slots=True)
class Proposed:
    """One PR of Ambient's that carries a fingerprint, and what became of it."""

    fp: str
    number: int
    state: State
    base: str
    created_at: str
    merged_at: str = ""
    merge_commit_sha: str = ""
    title: str = ""

    @property
    def agent(self) -> str:
        return self.fp.split("/", 1)[0]

    def hours_to_merge(self) -> float | None:
        """Hours from opening to merge, or None when not merged (or the times are missing)."""
        if not self.merged_at or not self.created_at:
            return None
        opened = datetime.fromisoformat(self.created_at.replace("Z", "+00:00"))
        merged = datetime.fromisoformat(self.merged_at.replace("Z", "+00:00"))
        return max(0.0, (merged - opened).total_seconds() / 3600)


@dataclass(frozen=True, slots=True)
class Record:
    """One specialist's outcomes in one repository."""

    proposed: int = 0
    merged: int = 0
    closed: int = 0
    reverted: int = 0
    open: int = 0
    hours_to_merge: float | None = None


def _state(pull: PullRequest) -> State:
    if pull.state == "open":
        return "open"
    if pull.merged or pull.merged_at:
        return "reverted" if REVERTED_LABEL in pull.labels else "merged"
    return "closed"


def remember(pulls: Iterable[PullRequest], bot_login: str | None) -> Memory:
    """The memory of the PRs `bot_login` opened with a fingerprint (others are ignored)."""
    found = []
    for pull in pulls:
        if bot_login is not None and pull.author != bot_login:
            continue
        fp = fingerprint_of_text(pull.body)
        if fp is None:
            continue
        found.append(
            Proposed(
                fp,
                pull.number,
                _state(pull),
                pull.base_ref,
                pull.created_at,
                pull.merged_at,
                pull.merge_commit_sha,
                pull.title,
            )
        )
    return Memory(tuple(sorted(found, key=lambda p: -p.number)))


@dataclass(frozen=True, slots=True)
class Memory:
    """Ambient's fingerprinted PRs in one repository, newest first."""

    proposals: tuple[Proposed, ...] = ()

    def latest(self, fp: str, base: str | None = None) -> Proposed | None:
        """The newest PR of `fp` (into `base`, when given)."""
        return next(
            (p for p in self.proposals if p.fp == fp and (base is None or p.base == base)), None
        )

    def rejected(self, base: str | None = None) -> frozenset[str]:
        """Fingerprints whose newest PR (into `base`) was closed unmerged: never again, unless
        a maintainer reopens that PR or asks for it again on the dashboard."""
        seen: set[str] = set()
        out: set[str] = set()
        for p in self.proposals:
            if (base is not None and p.base != base) or p.fp in seen:
                continue
            seen.add(p.fp)
            if p.state == "closed":
                out.add(p.fp)
        return frozenset(out)

    def streak(self, agent: str) -> int:
        """How many of `agent`'s newest decided PRs in a row were closed unmerged or reverted
        (open ones are not decided yet)."""
        count = 0
        for p in self.proposals:
            if p.agent != agent or p.state == "open":
                continue
            if p.state == "merged":
                break
            count += 1
        return count

    def records(self) -> dict[str, Record]:
        """Each agent's outcomes, by agent name."""
        out: dict[str, Record] = {}
        for agent in sorted({p.agent for p in self.proposals}):
            mine = [p for p in self.proposals if p.agent == agent]
            hours = [h for p in mine if (h := p.hours_to_merge()) is not None]
            out[agent] = Record(
                proposed=len(mine),
                merged=sum(p.state in ("merged", "reverted") for p in mine),
                closed=sum(p.state == "closed" for p in mine),
                reverted=sum(p.state == "reverted" for p in mine),
                open=sum(p.state == "open" for p in mine),
                hours_to_merge=sorted(hours)[len(hours) // 2] if hours else None,
            )
        return out


def allowance(streak: int, pause_after: int) -> int | None:
    """How many proposals a specialist may make in a sweep after `streak` rejections in a row:
    no limit (None) while nothing was rejected last or learning is off (`pause_after` 0), one
    fewer per rejection below `pause_after`, and none from `pause_after` on."""
    if pause_after <= 0 or streak <= 0:
        return None
    return max(0, pause_after - streak)


def learning_line(agent: str, streak: int, pause_after: int) -> str:
    """The dashboard's one line on a specialist the record holds back, or ''."""
    left = allowance(streak, pause_after)
    if left is None:
        return ""
    if left == 0:
        return (
            f"`{agent}` is paused: its last {streak} proposals here were closed or reverted. "
            f"It proposes again once one of its PRs is merged, or when `agents.<name>` tunes it."
        )
    return (
        f"`{agent}` proposes at most {left} change(s) per sweep: its last {streak} proposal(s) "
        "here were closed or reverted."
    )


def stats_table(records: Mapping[str, Record], notes: Sequence[str] = ()) -> str:
    """A short Markdown table of `records` (and `notes` below it)."""
    if not records:
        return ""
    lines = [
        "| specialist | proposed | merged | closed | reverted | open | median hours to merge |",
        "|---|---|---|---|---|---|---|",
    ]
    for agent, r in records.items():
        hours = "" if r.hours_to_merge is None else f"{r.hours_to_merge:.1f}"
        lines.append(
            f"| `{agent}` | {r.proposed} | {r.merged} | {r.closed} | {r.reverted} | {r.open} "
            f"| {hours} |"
        )
    return "\n".join([*lines, *(f"- {n}" for n in notes)])
