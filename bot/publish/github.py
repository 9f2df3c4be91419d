"""The GitHub publisher: a verified fix becomes a signed commit on the PR's branch, or a branch
and a pull request into it when Ambient may not push there.

Where it goes is decided from the PR and the branch's policy (`fix_target`): a PR from
this repository whose branch may be pushed, with `push_to_pr_branch` on, gets the commit
fast-forwarded onto its branch; a fork's PR, a protected branch or one whose rules require a
PR gets `ambient/fix-pr-<n>-<sha7>` and a PR. A fix that changes files a protected owner owns
(CODEOWNERS read from the PR's base) goes to a PR too, once its files are known
(`owners_target`). Nothing is ever force-pushed or merged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from agents.proposal import Proposal
from bot.errors import Permanent
from bot.git import FileChange, Workspace
from bot.github import BranchMoved, BranchPolicy, InstallationClient, PullRequest, Reviewers
from bot.github.codeowners import CodeOwnersFile
from bot.pipeline import Publication
from bot.publish.fingerprint import fingerprint, fingerprint_marker, fingerprint_trailer
from bot.publish.local import commit_message

__all__ = [
    "FixTarget",
    "GitHubPublisher",
    "HeadMoved",
    "Published",
    "fix_branch",
    "fix_pull_body",
    "fix_target",
    "owners_target",
    "protected_paths",
    "protected_text",
]

log = logging.getLogger("ambient.publish")

Mode = Literal["push", "pull-request"]


class HeadMoved(Permanent):
    """The PR's branch moved while the job ran: nothing was published."""


@dataclass(frozen=True, slots=True)
class FixTarget:
    """Where a fix for one PR goes: `branch` receives the commit; in "pull-request" mode a PR
    from `branch` into `base` is opened. `reason` says why, for the reply."""

    mode: Mode
    branch: str
    base: str
    reason: str


@dataclass(frozen=True, slots=True)
class Published:
    """What the publisher did, for the check run and the reply; `url` is the commit's page
    (empty when a retried job reused the branch it made and GitHub was not asked again)."""

    mode: Mode
    branch: str
    commit: str
    verified: bool
    url: str
    pull_number: int
    pull_url: str
    reviewers: tuple[str, ...] = ()


def fix_branch(pull: PullRequest) -> str:
    """The branch a fix of `pull` at its current head lives on when it cannot be pushed."""
    return f"ambient/fix-pr-{pull.number}-{pull.head_sha[:7]}"


def fix_target(
    pull: PullRequest, policy: BranchPolicy | None, push_to_pr_branch: bool
) -> FixTarget:
    """Decide push or pull request; `policy` is the PR branch's (None for a fork's PR)."""
    if pull.from_fork or policy is None:
        # A PR in this repository cannot target a fork's branch: the fix goes to the PR's base,
        # carrying the contributor's commits and the fix on top.
        reason = "the pull request comes from a fork, which Ambient does not push to"
        return FixTarget("pull-request", fix_branch(pull), pull.base_ref, reason)
    if not push_to_pr_branch:
        reason = "the repository config sets push_to_pr_branch: false"
        return FixTarget("pull-request", fix_branch(pull), pull.head_ref, reason)
    if not policy.may_push:
        reason = f"{pull.head_ref} may not be pushed to: {'; '.join(policy.reasons)}"
        return FixTarget("pull-request", fix_branch(pull), pull.head_ref, reason)
    return FixTarget("push", pull.head_ref, pull.head_ref, f"{pull.head_ref} accepts pushes")


def fix_pull_body(pull: PullRequest, proposal: Proposal, reason: str, evidence: str) -> str:
    """The body of a fix opened as a pull request: what it fixes, why it is a PR, and the same
    verification section a pushed fix's report has (`evidence`)."""
    parts = (
        f"Fixes #{pull.number} ({pull.title}).",
        proposal.description,
        f"Opened as a pull request because {reason}.",
        evidence,
    )
    return "\n\n".join(part for part in parts if part)


def protected_paths(
    owners: CodeOwnersFile | None, paths: Iterable[str], protects: Callable[[Iterable[str]], bool]
) -> tuple[str, ...]:
    """The `paths` whose CODEOWNERS owners `protects` names protected (`RepoConfig.protects`)."""
    if owners is None:
        return ()
    return tuple(path for path in paths if protects(owners.owners(path)))


def protected_text(held: Sequence[str]) -> str:
    """Why a change waits for a person: "`a.py` is owned by a protected owner"."""
    shown = ", ".join(f"`{path}`" for path in held[:3])
    more = f" and {len(held) - 3} more" if len(held) > 3 else ""
    verb = "is" if len(held) == 1 else "are"
    return f"{shown}{more} {verb} owned by a protected owner"


def owners_target(pull: PullRequest, held: Sequence[str]) -> FixTarget:
    """Where a fix of `pull` goes when it changes `held`, files of a protected owner: a PR into
    the PR's branch, which a person approves."""
    reason = f"{protected_text(held)}, so a person approves the change"
    return FixTarget("pull-request", fix_branch(pull), pull.head_ref, reason)


class GitHubPublisher:
    """Publishes the one gated proposal of a fix job (the `Publisher` protocol); `target` says
    where it went in the end."""

    def __init__(
        self,
        gh: InstallationClient,
        workspace: Workspace,
        pull: PullRequest,
        target: FixTarget,
        *,
        draft: bool = False,
        trailer: str = "",
        evidence: str = "",
        protects: Callable[[Iterable[str]], bool] | None = None,
    ) -> None:
        self._gh = gh
        self._workspace = workspace
        self._pull = pull
        self._target = target
        self._draft = draft
        self._trailer = trailer
        self._evidence = evidence
        self._protects = protects
        self.published: Published | None = None

    @property
    def target(self) -> FixTarget:
        """Where the fix goes: the target given, or a PR when it changes a protected owner's
        files."""
        return self._target

    async def publish(
        self, proposal: Proposal, source_repo: Path, worktree: Path, diff: str, number: int
    ) -> Publication:
        """Commit what is staged in `worktree` through the Git Data API (signed by GitHub),
        then open the PR when the target says so, and ask the CODEOWNERS to review."""
        changes = await self._workspace.changed_files(worktree)
        message = commit_message(proposal) + (f"\n{self._trailer}" if self._trailer else "")
        if self._target.mode == "push" and self._protects is not None:
            codeowners = await self._gh.codeowners(self._pull.base_ref)
            held = protected_paths(codeowners, sorted(changes), self._protects)
            if held:
                self._target = owners_target(self._pull, held)
        if self._target.mode == "push":
            published = await self._push(changes, message)
        else:
            published = await self._pull_request(proposal, changes, message)
        owners = await self._gh.request_codeowner_reviews(
            published.pull_number, self._pull.base_ref, sorted(changes), self._pull.author
        )
        self.published = _with_reviewers(published, owners)
        return Publication(
            published.branch, published.commit, url=published.url or published.pull_url
        )

    async def _push(self, changes: dict[str, FileChange], message: str) -> Published:
        pull = self._pull
        try:
            result = await self._gh.publish_commit(
                pull.head_sha, pull.head_ref, changes, message, create_branch=False
            )
        except BranchMoved:
            raise HeadMoved(
                f"{pull.head_ref} moved while the fix was made; nothing was pushed"
            ) from None
        return Published(
            "push", pull.head_ref, result.sha, result.verified, result.url, pull.number, pull.url
        )

    async def _pull_request(
        self, proposal: Proposal, changes: dict[str, FileChange], message: str
    ) -> Published:
        pull, target = self._pull, self._target
        # The fingerprint lets a later fix of the same change find this PR closed unmerged.
        fp = fingerprint(proposal.agent, proposal.diff)
        message += f"\n{fingerprint_trailer(fp)}"
        existing = await self._gh.branch_sha(target.branch)
        if existing is None:
            result = await self._gh.publish_commit(
                pull.head_sha, target.branch, changes, message, create_branch=True
            )
            sha, verified, url = result.sha, result.verified, result.url
        else:
            # A retried job finds the branch it made before: the same fix, so it is reused.
            log.info("fix branch exists; reusing it", extra={"branch": target.branch})
            sha, verified, url = existing, True, ""
        body = f"{fix_pull_body(pull, proposal, target.reason, self._evidence)}\n\n"
        body += fingerprint_marker(fp)
        opened, _created = await self._gh.open_pull_request(
            target.branch,
            target.base,
            f"Fix #{pull.number}: {proposal.title}",
            body,
            draft=self._draft,
        )
        return Published(
            "pull-request", target.branch, sha, verified, url, opened.number, opened.url
        )


def _with_reviewers(published: Published, owners: Reviewers) -> Published:
    names = tuple(owners.users) + tuple(f"@{team}" for team in owners.teams)
    return replace(published, reviewers=names)
