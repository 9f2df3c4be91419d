"""Publishes a sweep's proposals: each gated proposal becomes a signed commit on its own
`ambient/sweep/<slug>` branch; which of them become PRs is decided after the gates (the risk)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from redis.asyncio import Redis

from agents.proposal import Proposal
from bot.dashboard import MARKER, Entry, merge, parse, render
from bot.github import InstallationClient
from bot.github_retry import GitHubNotFound
from bot.github_values import FileChange
from bot.github_writes import IssueText
from bot.publish_local import Publication, commit_message, slugify
from bot.workspace import Workspace

__all__ = [
    "DASHBOARD_TITLE",
    "Pushed",
    "SweepPublisher",
    "approve_ticked",
    "open_pulls",
    "pull_body",
    "sweep_branch",
    "upsert_dashboard",
]

DASHBOARD_TITLE: Final = "Ambient quality dashboard"


@dataclass(frozen=True, slots=True)
class Pushed:
    """One proposal's branch, pushed: what its PR will say when it is opened."""

    branch: str
    title: str
    body: str
    files: tuple[str, ...]


def sweep_branch(proposal: Proposal) -> str:
    """The branch of one sweep proposal: the same proposal always lands on the same branch."""
    return f"ambient/sweep/{slugify(proposal.title)}"


def pull_body(proposal: Proposal) -> str:
    """The PR description of a sweep proposal."""
    return (
        f"{proposal.description}\n\n**Why:** {proposal.rationale}\n\n"
        f"Proposed by the `{proposal.agent}` specialist in Ambient's weekly sweep "
        f"(risk: {proposal.risk_level}); verified in a sandbox and secret-scanned."
    )


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
        sha, url = await self._commit(branch, changes, commit_message(proposal))
        self.pushed[branch] = Pushed(
            branch, proposal.title[:200], pull_body(proposal), tuple(sorted(changes))
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
    gh: InstallationClient, base: str, pushed: Sequence[Pushed], room: int, *, draft: bool
) -> tuple[tuple[str, int], ...]:
    """Open (or find) the PR of each of `pushed` into `base`, at most `room` new ones; the rest
    wait on their branches for the next sweep. Returns (branch, PR number) of each PR."""
    opened: list[tuple[str, int]] = []
    for item in pushed:
        pull = await gh.find_open_pull(item.branch, base)
        if pull is None:
            if room <= 0:
                continue
            pull, _ = await gh.open_pull_request(
                item.branch, base, item.title, item.body, draft=draft
            )
            room -= 1
        opened.append((item.branch, pull.number))
    return tuple(opened)


def _dashboard_key(repo_id: int) -> str:
    return f"ambient:dashboard:{repo_id}"


async def _known_dashboard(redis: Redis, gh: InstallationClient, repo_id: int) -> IssueText | None:
    raw = await redis.get(_dashboard_key(repo_id))
    if raw is None:
        return None
    try:
        issue = await gh.get_issue(int(raw))
    except GitHubNotFound:
        return None
    ours = gh.bot_login is None or issue.author == gh.bot_login
    return issue if ours and issue.title == DASHBOARD_TITLE and MARKER in issue.body else None


async def upsert_dashboard(
    redis: Redis, gh: InstallationClient, repo_id: int, waiting: Sequence[Entry]
) -> int | None:
    """Add `waiting` to the dashboard issue, edited in place (created on first need and
    remembered in Redis); returns its number, or None when there is none and nothing waits."""
    issue = await _known_dashboard(redis, gh, repo_id)
    if issue is None:
        if not waiting:
            return None
        issue = await gh.create_issue(DASHBOARD_TITLE, render(merge((), waiting)))
        await redis.set(_dashboard_key(repo_id), issue.number)
        return issue.number
    body = render(merge(parse(issue.body), waiting))
    if body != issue.body or issue.state != "open":
        await gh.update_issue(issue.number, body=body)
    return issue.number


def _approvable(entry: Entry, earlier: set[str]) -> bool:
    fresh = entry.checked and not entry.pull_number and entry.branch not in earlier
    return fresh and entry.branch.startswith("ambient/sweep/")


async def approve_ticked(
    gh: InstallationClient,
    number: int,
    base: str,
    approver: str,
    *,
    draft: bool,
    before: str | None = None,
) -> tuple[int, ...]:
    """Open the PR of every box on dashboard `number` that `approver` ticked and mark it opened.

    The caller has checked that `approver` may write. `before` is the body before the edit:
    boxes ticked there already were not this edit's (None: every ticked box is). A box whose
    branch is gone stays ticked and unopened. Returns the PR numbers opened (or found) now.
    """
    issue = await gh.get_issue(number)
    entries = list(parse(issue.body))
    earlier = {e.branch for e in parse(before or "") if e.checked}
    opened: list[int] = []
    for index, entry in enumerate(entries):
        if not _approvable(entry, earlier):
            continue
        if await gh.branch_sha(entry.branch) is None:
            continue
        body = (
            f"Approved by @{approver} on the quality dashboard (#{number}).\n\n"
            "Proposed by Ambient's weekly sweep as high risk; verified in a sandbox and "
            "secret-scanned."
        )
        pull, _ = await gh.open_pull_request(entry.branch, base, entry.title, body, draft=draft)
        entries[index] = replace(entry, pull_number=pull.number)
        opened.append(pull.number)
    if opened:
        await gh.update_issue(number, body=render(entries))
    return tuple(opened)
