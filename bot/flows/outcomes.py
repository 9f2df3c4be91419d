"""Outcomes of Ambient's proposals: what a sweep must not propose again, what a person's PR
already does, what the record holds back, and the events that record a maintainer's decision.

Every decision is read from GitHub (`bot.flows.memory`): the PRs with their fingerprints, the
dashboard's "propose again" boxes and the branches that waited on it. Redis holds none of it,
so a flushed Redis changes no decision; the Prometheus counters only count.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import Counter, Histogram

from agents.proposal import Proposal
from bot.flows.memory import (
    REVERTED_LABEL,
    Memory,
    allowance,
    learning_line,
    remember,
    stats_table,
)
from bot.github import InstallationClient, PullRequest, hidden_marker
from bot.pipeline import Outcome
from bot.publish.dashboard import parse
from bot.publish.dashboard_outcomes import (
    Dismissable,
    OutcomesSection,
    again_ticked,
    render_section,
    waiting_of,
)
from bot.publish.fingerprint import fingerprint, fingerprint_of_text
from bot.publish.overlap import Ranges, hunk_ranges, overlaps
from bot.publish.report import FixSummary
from bot.publish.sweep import find_dashboard

__all__ = [
    "OUTCOMES",
    "HumanPull",
    "Recall",
    "Screened",
    "closed_fix",
    "comment_rejection",
    "count_proposed",
    "dashboard_section",
    "fix_closed_summary",
    "recall",
    "record_pull_event",
    "record_reverts",
    "rejection_comment",
    "reverted_shas",
    "screen",
]

log = logging.getLogger("ambient.flow.outcomes")

OUTCOMES: Final = Counter(
    "ambient_proposal_outcomes_total",
    "What became of Ambient's PRs: proposed, merged, closed, reopened, reverted",
    ["repository", "agent", "outcome"],
)
HOURS_TO_MERGE: Final = Histogram(
    "ambient_proposal_hours_to_merge",
    "Hours from an Ambient PR's opening to its merge",
    ["repository", "agent"],
    buckets=(1, 4, 12, 24, 72, 168, 720),
)
#: A person's open PRs compared with a sweep's proposals, at most.
MAX_HUMAN_PULLS: Final = 30
_REVERTS: Final = re.compile(r"This reverts commit (?P<sha>[0-9a-f]{7,40})")


@dataclass(frozen=True, slots=True)
class HumanPull:
    """An open PR by a person: its number, author and the line ranges it changes."""

    number: int
    author: str
    ranges: Ranges


@dataclass(frozen=True, slots=True)
class Recall:
    """What GitHub says of earlier proposals in one repository, before a sweep."""

    memory: Memory
    again: frozenset[str] = frozenset()
    waiting: Mapping[str, str] = field(default_factory=dict)
    deleted: frozenset[str] = frozenset()
    dashboard: int = 0
    humans: tuple[HumanPull, ...] = ()

    def rejected(self, base: str) -> frozenset[str]:
        """Fingerprints not proposed again: closed unmerged, or dismissed from the dashboard
        (its line removed or its branch deleted), unless a maintainer ticked "propose again"."""
        return (self.memory.rejected(base) | self.deleted) - self.again


def _is_person(pull: PullRequest, bot_login: str | None) -> bool:
    return pull.author != bot_login and not pull.author.endswith("[bot]") and not pull.from_fork


async def _humans(gh: InstallationClient, pulls: Iterable[PullRequest]) -> tuple[HumanPull, ...]:
    found: list[HumanPull] = []
    for pull in pulls:
        ranges: dict[str, tuple[tuple[int, int], ...]] = {}
        for path, patch in await gh.pull_patches(pull.number):
            ranges.update(hunk_ranges(patch, path) or {path: ((0, 10**9),)})
        found.append(HumanPull(pull.number, pull.author, ranges))
    return tuple(found)


async def recall(gh: InstallationClient) -> Recall:
    """Read the record from GitHub: every PR, the dashboard's boxes and waiting branches, and
    the changes of people's open PRs."""
    pulls = await gh.list_pulls("all")
    memory = remember(pulls, gh.bot_login)
    dashboard = await find_dashboard(gh)
    body = dashboard.body if dashboard is not None else ""
    waiting = waiting_of(body)
    listed = {entry.branch for entry in parse(body)}
    deleted = set()
    for branch, fp in waiting.items():
        if memory.latest(fp) is not None:
            continue
        # Dismissed: its line removed from the dashboard, or its branch deleted.
        if branch not in listed or await gh.branch_sha(branch) is None:
            deleted.add(fp)
    people = [p for p in pulls if p.state == "open" and _is_person(p, gh.bot_login)]
    return Recall(
        memory,
        again_ticked(body),
        waiting,
        frozenset(deleted),
        dashboard.number if dashboard is not None else 0,
        await _humans(gh, people[:MAX_HUMAN_PULLS]),
    )


@dataclass(frozen=True, slots=True)
class Screened:
    """A sweep's proposals after the record spoke: those kept, the fates of the others (for
    the reply), the rejected ones seen again (fingerprint, PR) and the dashboard's notes."""

    kept: tuple[Proposal, ...]
    skipped: tuple[Outcome, ...] = ()
    seen_again: tuple[tuple[str, int], ...] = ()
    notes: tuple[str, ...] = ()


def _duplicate(proposal: Proposal, humans: Sequence[HumanPull]) -> HumanPull | None:
    ours = hunk_ranges(proposal.diff)
    return next((h for h in humans if overlaps(ours, h.ranges)), None)


def screen(
    proposals: Sequence[Proposal],
    record: Recall,
    base: str,
    *,
    pause_after: int,
    tuned: Callable[[str], bool],
) -> Screened:
    """Drop what the record forbids: a rejected fingerprint, a change a person's open PR
    already makes, and a specialist's proposals past what its rejections allow (`pause_after`
    in a row pause it; `tuned(agent)`, a specialist the config tunes, is never held back)."""
    rejected = record.rejected(base)
    kept: list[Proposal] = []
    skipped: list[Outcome] = []
    seen: list[tuple[str, int]] = []
    notes: list[str] = []
    used: dict[str, int] = {}
    for proposal in proposals:
        fp = fingerprint(proposal.agent, proposal.diff)
        if fp in rejected:
            latest = record.memory.latest(fp, base)
            number = latest.number if latest is not None and latest.state == "closed" else 0
            seen.append((fp, number))
            where = f"#{number} was closed unmerged" if number else "its branch was deleted"
            reason = f"{where}; not proposed again"
            skipped.append(Outcome(proposal.agent, proposal.title, "refused", reason))
            continue
        human = _duplicate(proposal, record.humans)
        if human is not None:
            note = (
                f"{proposal.title}: not opened, #{human.number} by {human.author} changes "
                "the same lines"
            )
            notes.append(note)
            skipped.append(Outcome(proposal.agent, proposal.title, "refused", note))
            continue
        left = (
            None
            if tuned(proposal.agent)
            else allowance(record.memory.streak(proposal.agent), pause_after)
        )
        if left is not None and used.get(proposal.agent, 0) >= left:
            reason = "held back: its recent proposals here were closed or reverted"
            skipped.append(Outcome(proposal.agent, proposal.title, "refused", reason))
            continue
        used[proposal.agent] = used.get(proposal.agent, 0) + 1
        kept.append(proposal)
    return Screened(tuple(kept), tuple(skipped), tuple(seen), tuple(notes))


def rejection_comment(fp: str, dashboard: int) -> str:
    """The one comment on an Ambient PR closed unmerged."""
    where = f"on the quality dashboard (#{dashboard})" if dashboard else "on the quality dashboard"
    return (
        f"Closed without merging: Ambient will not propose this change again in this "
        f"repository (fingerprint `{fp}`). To have it proposed again, reopen this pull "
        f'request, or tick its "propose again" box {where}.'
    )


async def comment_rejection(gh: InstallationClient, number: int, fp: str, dashboard: int) -> None:
    """Say once on PR `number` that its proposal is not proposed again (idempotent)."""
    marker = hidden_marker(f"rejected:{fp}")
    await gh.find_or_create_comment(number, marker, rejection_comment(fp, dashboard))


def dashboard_section(
    memory: Memory,
    record: Recall,
    base: str,
    *,
    pause_after: int,
    waiting: Mapping[str, str],
    notes: Sequence[str] = (),
    tuned: Callable[[str], bool] = lambda _: False,
) -> str:
    """The dashboard's outcomes section after a sweep (`memory`: the PRs as they are now;
    `waiting`: branch → fingerprint of what this sweep left waiting)."""
    records = memory.records()
    learning = [
        line
        for agent in records
        if not tuned(agent) and (line := learning_line(agent, memory.streak(agent), pause_after))
    ]
    rejected = memory.rejected(base) | record.deleted
    items = []
    for fp in sorted(rejected):
        latest = memory.latest(fp, base)
        number = latest.number if latest is not None else 0
        title = latest.title if latest is not None else fp
        items.append(Dismissable(title, fp, number, fp in record.again))
    kept = {b: fp for b, fp in {**record.waiting, **waiting}.items() if memory.latest(fp) is None}
    # The learning lines are ours; the notes quote proposal titles, so they are cleaned.
    section = OutcomesSection(stats_table(records, learning), tuple(notes), tuple(items), kept)
    return render_section(section)


async def closed_fix(gh: InstallationClient, proposal: Proposal, branch: str) -> int:
    """The number of the CI fix PR into `branch` with the same change as `proposal` that a
    maintainer closed unmerged (its newest such PR), or 0: that fix is not opened again."""
    fp = fingerprint(proposal.agent, proposal.diff)
    # Only closed PRs can say no; the open ones are not listed.
    pulls = [p for p in await gh.list_pulls("closed") if p.base_ref == branch]
    latest = remember(pulls, gh.bot_login).latest(fp, branch)
    return latest.number if latest is not None and latest.state == "closed" else 0


def fix_closed_summary(branch: str, number: int) -> FixSummary:
    """The CI job's report when its fix is one a maintainer closed unmerged before."""
    text = (
        f"The fix found for `{branch}` is the change of #{number}, which a maintainer closed "
        f"without merging; it is not opened again. Reopen #{number} to take it."
    )
    return FixSummary("neutral", "Fix not proposed again", text, text)


def _agent(fp: str) -> str:
    return fp.split("/", 1)[0]


async def record_pull_event(gh: InstallationClient, number: int, action: str) -> dict[str, object]:
    """Count a `pull_request` closed or reopened event of one of Ambient's PRs, and say once
    on a PR closed unmerged that its proposal is not proposed again."""
    pull = await gh.get_pull(number)
    fp = fingerprint_of_text(pull.body)
    if fp is None or (gh.bot_login is not None and pull.author != gh.bot_login):
        return {"status": "ignored", "reason": "not a proposal of Ambient's"}
    agent, repository = _agent(fp), gh.full_name
    if action == "reopened":
        OUTCOMES.labels(repository, agent, "reopened").inc()
        return {"status": "done", "outcome": "reopened", "fingerprint": fp}
    if pull.merged:
        OUTCOMES.labels(repository, agent, "merged").inc()
        hours = remember([pull], gh.bot_login).proposals[0].hours_to_merge()
        if hours is not None:
            HOURS_TO_MERGE.labels(repository, agent).observe(hours)
        return {"status": "done", "outcome": "merged", "fingerprint": fp}
    OUTCOMES.labels(repository, agent, "closed").inc()
    dashboard = await find_dashboard(gh)
    await comment_rejection(gh, number, fp, dashboard.number if dashboard else 0)
    return {"status": "done", "outcome": "closed", "fingerprint": fp}


def reverted_shas(messages: Iterable[str]) -> tuple[str, ...]:
    """The commits that commit `messages` revert (git's "This reverts commit <sha>.")."""
    return tuple(m["sha"] for text in messages for m in _REVERTS.finditer(text))


async def record_reverts(gh: InstallationClient, messages: Sequence[str]) -> dict[str, object]:
    """Mark each merged Ambient PR that a pushed commit reverts (by its merge commit, or the
    fingerprint trailer of the reverted commit) with `REVERTED_LABEL`, and count it once."""
    shas = reverted_shas(messages)
    if not shas:
        return {"status": "ignored", "reason": "no revert"}
    pulls = [p for p in await gh.list_pulls("closed") if p.merged]
    memory = remember(pulls, gh.bot_login)
    marked: list[int] = []
    for sha in shas:
        hit = next((p for p in memory.proposals if p.merge_commit_sha.startswith(sha)), None)
        if hit is None:
            fp = fingerprint_of_text(await gh.commit_message(sha) or "")
            hit = next((p for p in memory.proposals if p.fp == fp), None) if fp else None
        if hit is None:
            continue
        pull = next(p for p in pulls if p.number == hit.number)
        if REVERTED_LABEL not in pull.labels:
            await gh.add_labels(hit.number, [REVERTED_LABEL])
            OUTCOMES.labels(gh.full_name, hit.agent, "reverted").inc()
        marked.append(hit.number)
    return {"status": "done", "reverted": marked}


def count_proposed(repository: str, before: Memory, now: Memory) -> int:
    """Count the PRs `now` holds that `before` (the record before the sweep) did not."""
    known = {p.number for p in before.proposals}
    fresh = [p for p in now.proposals if p.number not in known]
    for p in fresh:
        OUTCOMES.labels(repository, p.agent, "proposed").inc()
    return len(fresh)
