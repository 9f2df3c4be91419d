"""Publishes a CI fix: a branch made through the Git Data API and a PR into the failing branch."""

from __future__ import annotations

from pathlib import Path

from agents.proposal import Proposal
from bot.git import FileChange, Workspace
from bot.github import InstallationClient
from bot.pipeline import Publication
from bot.publish.ci_report import Diagnosis, ci_fix_branch, pull_body
from bot.publish.fingerprint import fingerprint, fingerprint_marker, fingerprint_trailer
from bot.publish.github import Published
from bot.publish.local import commit_message

__all__ = ["CiPublisher"]


class CiPublisher:
    """Publishes the one gated proposal of a CI fix as a branch and a PR into the failing
    branch (the `Publisher` protocol); a retried job reuses the branch and finds the PR."""

    def __init__(
        self, gh: InstallationClient, workspace: Workspace, diagnosis: Diagnosis, *, draft: bool
    ) -> None:
        self._gh = gh
        self._workspace = workspace
        self._diagnosis = diagnosis
        self._draft = draft
        self.published: Published | None = None

    async def publish(
        self, proposal: Proposal, source_repo: Path, worktree: Path, diff: str, number: int
    ) -> Publication:
        """Commit what is staged in `worktree` (signed by GitHub) on the fix branch, open the
        PR, and ask the CODEOWNERS of the changed files to review."""
        d = self._diagnosis
        branch = ci_fix_branch(d.branch, d.head_sha)
        changes: dict[str, FileChange] = await self._workspace.changed_files(worktree)
        fp = fingerprint(proposal.agent, proposal.diff)
        message = f"{commit_message(proposal)}\n{fingerprint_trailer(fp)}"
        sha, verified, url = await self._commit(branch, changes, message)
        title = f"Fix CI on {d.branch}: {proposal.title}"[:200]
        body = f"{pull_body(d, proposal)}\n\n{fingerprint_marker(fp)}"
        opened, _ = await self._gh.open_pull_request(
            branch, d.branch, title, body, draft=self._draft
        )
        owners = await self._gh.request_codeowner_reviews(
            opened.number, d.branch, sorted(changes), ""
        )
        reviewers = tuple(owners.users) + tuple(f"@{t}" for t in owners.teams)
        self.published = Published(
            "pull-request", branch, sha, verified, url, opened.number, opened.url, reviewers
        )
        return Publication(branch, sha, url=opened.url)

    async def _commit(
        self, branch: str, changes: dict[str, FileChange], message: str
    ) -> tuple[str, bool, str]:
        existing = await self._gh.branch_sha(branch)
        if existing is not None:
            # A retried job finds the branch it made before: the same fix, so it is reused.
            return existing, True, ""
        result = await self._gh.publish_commit(
            self._diagnosis.head_sha, branch, changes, message, create_branch=True
        )
        return result.sha, result.verified, result.url
