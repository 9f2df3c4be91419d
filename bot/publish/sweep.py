"""Publishes a sweep's proposals: each gated proposal becomes a signed commit on its own
`ambient/sweep/<slug>` branch; which of them become PRs is decided after the gates (the risk).

A branch's head commit carries its proposal's evidence in an `Ambient sweep` check run, whose
text is the PR's description: what, why, the verification and the risk. A PR opened later from
a ticked dashboard box takes its description from there.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import LockNotOwnedError

from agents.proposal import Proposal
from bot.errors import Retryable
from bot.git import FileChange, Workspace
from bot.github import InstallationClient, Issue
from bot.github.codeowners import CodeOwnersFile, reviewers_for
from bot.pipeline import Outcome, Publication
from bot.publish.dashboard import MARKER, Entry, Status, merge, parse, render, status_of
from bot.publish.dashboard_outcomes import section_of, with_section
from bot.publish.fingerprint import fingerprint, fingerprint_marker, fingerprint_trailer
from bot.publish.local import commit_message, slugify

__all__ = [
    "DASHBOARD_LABEL",
    "DASHBOARD_TITLE",
    "SWEEP_CHECK",
    "DashboardBusy",
    "Pushed",
    "SweepPublisher",
    "approve_ticked",
    "approved_body",
    "dashboard_lock",
    "find_dashboard",
    "open_pulls",
    "proven",
    "proven_conclusion",
    "pull_body",
    "sweep_branch",
    "upsert_dashboard",
]

log = logging.getLogger("ambient.publish.sweep")

DASHBOARD_TITLE: Final = "Ambient quality dashboard"
#: Put on the dashboard for people; the App finds an open dashboard by author and marker.
DASHBOARD_LABEL: Final = "ambient-dashboard"
#: The lock is freed by its holder, or after this long if the holder died.
LOCK_TIMEOUT_S: Final = 120.0
#: How long a job waits for the lock before it is retried later (arq's retry, seconds later).
LOCK_WAIT_S: Final = 10.0
#: The check run on each sweep branch's head commit that holds its proposal's evidence.
SWEEP_CHECK: Final = "Ambient sweep"


@dataclass(frozen=True, slots=True)
class Pushed:
    """One proposal's branch, pushed: its head commit, and what its PR will say when it is
    opened (`proven` adds the verification and the risk once the gates have spoken)."""

    branch: str
    title: str
    body: str
    files: tuple[str, ...]
    sha: str
    #: The proposal's fingerprint (`bot.publish.fingerprint`), '' when unknown.
    fp: str = ""


def sweep_branch(proposal: Proposal) -> str:
    """The branch of one sweep proposal: the same proposal always lands on the same branch."""
    return f"ambient/sweep/{slugify(proposal.title)}"


def pull_body(proposal: Proposal) -> str:
    """What a sweep proposal changes and why, and who proposed it."""
    parts = (
        proposal.description or proposal.title,
        f"**Why:** {proposal.rationale}" if proposal.rationale else "",
        f"Proposed by the `{proposal.agent}` specialist in Ambient's quality sweep.",
    )
    return "\n\n".join(part for part in parts if part)


def proven(pushed: Pushed, outcome: Outcome) -> Pushed:
    """`pushed` with its full description: what and why, then the verification, the secret
    scan and the risk of `outcome` (the gates' verdict on its proposal)."""
    checks = outcome.verification or "no check ran"
    note = f"\n{outcome.reason}" if outcome.reason else ""
    waits = outcome.fate == "awaiting-approval"
    risk = f"**Risk:** {outcome.risk or 'unknown'}" + (
        "; a maintainer approves it by ticking its box on the quality dashboard" if waits else ""
    )
    body = "\n\n".join(
        (
            pushed.body,
            f"**Verification** (in the sandbox, no network):\n{checks}{note}",
            "**Secret scan:** no secret in the added lines.",
            risk,
        )
    )
    return replace(pushed, body=body)


def proven_conclusion(outcome: Outcome) -> str:
    """The evidence run's conclusion: success when the checks proved the proposal, neutral
    when it was published unverified (the repository allows it, and the text says so)."""
    return "success" if outcome.verification and not outcome.reason else "neutral"


def approved_body(approver: str, dashboard: int, evidence: str) -> str:
    """The description of a PR opened from a ticked dashboard box: who approved it, then the
    sweep's `evidence` on the branch's head commit (what, why, verification, risk)."""
    details = evidence or (
        "Proposed by Ambient's sweep. Its head commit carries no sweep evidence (the branch "
        "may have changed since the sweep), so treat it as unverified."
    )
    return f"Approved by @{approver} on the quality dashboard (#{dashboard}).\n\n{details}"


class SweepPublisher:
    """Pushes every gated proposal of a sweep to its branch (the `Publisher` protocol) and keeps
    what a PR needs in `pushed`, by branch; a retried sweep reuses the branches it made."""

    def __init__(self, gh: InstallationClient, workspace: Workspace, base_sha: str) -> None:
        self._gh = gh
        self._workspace = workspace
        self._base_sha = base_sha
        self.pushed: dict[str, Pushed] = {}

    async def publish(
        self, proposal: Proposal, source_repo: Path, worktree: Path, diff: str, number: int
    ) -> Publication:
        """Commit what is staged in `worktree` (signed by GitHub) on the proposal's branch."""
        branch = sweep_branch(proposal)
        changes: dict[str, FileChange] = await self._workspace.changed_files(worktree)
        # The proposal's own diff, not the gated one: the sweep recognises a rejected
        # proposal before it gates it, from the same text.
        fp = fingerprint(proposal.agent, proposal.diff)
        message = f"{commit_message(proposal)}\n{fingerprint_trailer(fp)}"
        sha, url = await self._commit(branch, changes, message)
        body = f"{pull_body(proposal)}\n\n{fingerprint_marker(fp)}"
        self.pushed[branch] = Pushed(
            branch, proposal.title[:200], body, tuple(sorted(changes)), sha, fp
        )
        return Publication(branch, sha, url=url)

    async def _commit(
        self, branch: str, changes: dict[str, FileChange], message: str
    ) -> tuple[str, str]:
        existing = await self._gh.branch_sha(branch)
        if existing is not None:
            # The branch from an earlier sweep (or try) holds this proposal: never moved.
            return existing, ""
        result = await self._gh.publish_commit(
            self._base_sha, branch, changes, message, create_branch=True
        )
        return result.sha, result.url


async def open_pulls(
    gh: InstallationClient,
    base: str,
    pushed: Sequence[Pushed],
    room: int,
    *,
    draft: bool,
    owners: CodeOwnersFile | None = None,
) -> tuple[tuple[str, int], ...]:
    """Open (or find) the PR of each of `pushed` into `base`, at most `room` new ones; the rest
    wait on their branches for the next sweep. A new PR asks the `owners` (CODEOWNERS of
    `base`) of its files to review. Returns (branch, PR number) of each PR."""
    opened: list[tuple[str, int]] = []
    exclude = [gh.bot_login] if gh.bot_login else []
    for item in pushed:
        pull = await gh.find_open_pull(item.branch, base)
        if pull is None:
            if room <= 0:
                continue
            pull, created = await gh.open_pull_request(
                item.branch, base, item.title, item.body, draft=draft
            )
            room -= 1
            if created:
                await gh.request_reviewers(pull.number, reviewers_for(owners, item.files, exclude))
        opened.append((item.branch, pull.number))
    return tuple(opened)


class DashboardBusy(Retryable):
    """Another job holds the repository's dashboard lock; this job is retried shortly."""


@asynccontextmanager
async def dashboard_lock(
    redis: Redis, repo_id: int, wait_s: float = LOCK_WAIT_S
) -> AsyncIterator[None]:
    """Hold repository `repo_id`'s dashboard lock: one read-modify-write of the body at a time
    (two ticks, or a sweep and a tick, would otherwise each write back what the other lost).

    Raises `DashboardBusy` when the lock is not had within `wait_s`.
    """
    lock = redis.lock(
        f"ambient:lock:dashboard:{repo_id}", timeout=LOCK_TIMEOUT_S, blocking_timeout=wait_s
    )
    if not await lock.acquire():
        raise DashboardBusy(
            f"the quality dashboard of repository {repo_id} is being edited by another job"
        )
    try:
        yield
    finally:
        try:
            await lock.release()
        except LockNotOwnedError:
            # Held past LOCK_TIMEOUT_S (GitHub was slow): the lock expired; nothing to free.
            log.warning("the dashboard lock of repository %s expired before release", repo_id)


def _is_dashboard(issue: Issue, bot_login: str) -> bool:
    return (
        not issue.is_pull
        and issue.author == bot_login
        and issue.title == DASHBOARD_TITLE
        and MARKER in issue.body
    )


async def find_dashboard(gh: InstallationClient) -> Issue | None:
    """The dashboard, found on GitHub: the oldest open issue the App opened with the dashboard's
    title and marker, else the closed one last updated that carries `DASHBOARD_LABEL` (to be
    reopened). None when there is neither, or the App's slug (so its login) is unknown."""
    bot = gh.bot_login
    if bot is None:
        return None
    # No label filter for open ones: a label someone removed must not make a second dashboard.
    listed = await gh.list_issues(state="open", creator=bot, sort="created", direction="asc")
    found = next((i for i in listed if _is_dashboard(i, bot)), None)
    if found is not None:
        return found
    closed = await gh.list_issues(
        state="closed", creator=bot, labels=[DASHBOARD_LABEL], sort="updated", direction="desc"
    )
    return next((i for i in closed if _is_dashboard(i, bot)), None)


async def upsert_dashboard(
    redis: Redis,
    gh: InstallationClient,
    repo_id: int,
    waiting: Sequence[Entry],
    *,
    status: Status | None = None,
    lock_wait_s: float = LOCK_TIMEOUT_S,
    outcomes: str | None = None,
) -> int | None:
    """Add `waiting` to the dashboard issue, edited in place (created on first need, reopened
    when closed and something new waits); returns its number, or None when there is no open one.

    `status` (a sweep's coverage and cursor) replaces the one the body holds; with a status the
    dashboard is created even when nothing waits, since GitHub keeps the cursor's record, and a
    closed one is kept up to date without being reopened. A sweep waits for the lock as long as
    a dead holder keeps it: a retried sweep would redo all its work, where a tick's job is cheap
    to retry. `outcomes` (the rendered `bot.publish.dashboard_outcomes` section) replaces the
    one the body holds.
    """
    async with dashboard_lock(redis, repo_id, lock_wait_s):
        issue = await find_dashboard(gh)
        if issue is None:
            if not waiting and status is None:
                return None
            first = render(merge((), waiting), status)
            created = await gh.create_issue(DASHBOARD_TITLE, with_section(first, outcomes or ""))
            await gh.add_labels(created.number, [DASHBOARD_LABEL])
            return created.number
        current = parse(issue.body)
        merged = merge(current, waiting)
        body = render(merged, status or status_of(issue.body))
        body = with_section(body, section_of(issue.body) if outcomes is None else outcomes)
        if issue.state != "open" and len(merged) == len(current):
            # Closed by a maintainer, and nothing new to ask: it stays closed.
            if body != issue.body:
                await gh.update_issue(issue.number, body=body, state=issue.state)
            return None
        if body != issue.body or issue.state != "open":
            await gh.update_issue(issue.number, body=body)
        return issue.number


def _ticked_in(body: str | None) -> set[str] | None:
    return None if body is None else {e.branch for e in parse(body) if e.checked}


def _approvable(entry: Entry, earlier: set[str], now: set[str] | None) -> bool:
    fresh = entry.checked and not entry.pull_number and entry.branch not in earlier
    mine = now is None or entry.branch in now
    return fresh and mine and entry.branch.startswith("ambient/sweep/")


async def approve_ticked(
    redis: Redis,
    gh: InstallationClient,
    repo_id: int,
    number: int,
    base: str,
    approver: str,
    *,
    draft: bool,
    before: str | None = None,
    after: str | None = None,
    lock_wait_s: float = LOCK_WAIT_S,
) -> tuple[int, ...]:
    """Open the PR of every box on dashboard `number` that `approver` ticked and mark it opened.

    The caller has checked that `approver` may write. `before` and `after` are the body around
    the edit: boxes ticked before were not this edit's, and with `after` only the boxes this edit
    ticked count (another edit's ticks are that edit's job). A box must still be ticked now; one
    already opened is never opened again, and one whose branch is gone stays ticked and
    unopened. Returns the PR numbers opened (or found) now.
    """
    earlier, now = _ticked_in(before) or set(), _ticked_in(after)
    async with dashboard_lock(redis, repo_id, lock_wait_s):
        issue = await gh.get_issue(number)
        entries = list(parse(issue.body))
        opened: list[int] = []
        for index, entry in enumerate(entries):
            if not _approvable(entry, earlier, now):
                continue
            sha = await gh.branch_sha(entry.branch)
            if sha is None:
                continue
            found = await gh.app_check_run(sha, SWEEP_CHECK)
            evidence = found.summary if found is not None and found.completed else ""
            body = approved_body(approver, number, evidence)
            pull, created = await gh.open_pull_request(
                entry.branch, base, entry.title, body, draft=draft
            )
            if created:
                files = await gh.pull_files(pull.number)
                await gh.request_codeowner_reviews(pull.number, base, files, gh.bot_login or "")
            entries[index] = replace(entry, pull_number=pull.number)
            opened.append(pull.number)
        if opened:
            body = render(entries, status_of(issue.body))
            await gh.update_issue(number, body=with_section(body, section_of(issue.body)))
    return tuple(opened)
