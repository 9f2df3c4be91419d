"""Where an issue's task goes: a signed commit on `ambient/issue-<n>` and a pull request into
the default branch that closes the issue, carrying the plan, what changed and why, the
verification before and after, the risk, and the tokens and cost spent. Also the texts of the
task's check run and its one reply on the issue.

The branch name comes from the issue, so a retried job (or a second trigger on the same issue)
finds the branch and its pull request instead of opening another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from agents.proposal import Proposal
from bot.git import Workspace
from bot.github import InstallationClient
from bot.pipeline import Publication
from bot.publish.local import commit_message
from bot.publish.report import FixSummary

__all__ = [
    "TaskFacts",
    "TaskPublisher",
    "question_summary",
    "task_body",
    "task_branch",
    "task_failed",
    "task_published",
]

log = logging.getLogger("ambient.publish.task")


def task_branch(number: int) -> str:
    """The branch the task of issue `number` is published on."""
    return f"ambient/issue-{number}"


@dataclass(frozen=True, slots=True)
class TaskFacts:
    """What a task's pull request, check run and reply cite."""

    issue: int
    plan: str
    before: str
    reproduction: str
    after: str
    risk: str
    scan: str
    usage: str
    budget: str
    models: str
    rounds: str


def task_body(facts: TaskFacts, proposal: Proposal) -> str:
    """The pull request's body (also the evidence on its check run)."""
    why = "\n\n".join(p for p in (proposal.description, proposal.rationale) if p)
    parts = [
        f"Closes #{facts.issue}.",
        f"## Plan\n\n{facts.plan}",
        f"## What changed and why\n\n{why or proposal.title}",
        "## Verification (in the sandbox, no network)",
        f"**Before** (the base commit):\n{facts.before or 'no checks ran'}",
    ]
    if facts.reproduction:
        parts.append(f"**Reproduction:** {facts.reproduction}")
    parts += [
        f"**After** (this pull request):\n{facts.after or 'no checks ran'}",
        f"**Secret scan:** {facts.scan or 'not run'}",
        f"**Risk:** {facts.risk or 'unknown'}",
        f"**Fix rounds:**\n{facts.rounds}",
        f"**Tokens and cost:** {facts.usage}",
        f"**Budget:** {facts.budget}",
        f"**Models:** {facts.models}",
        "A person decides whether this merges.",
    ]
    return "\n\n".join(parts)


def task_published(
    title: str, body: str, pull_number: int, pull_url: str, commit: str
) -> FixSummary:
    """The report of a task that became pull request `pull_number`."""
    reply = f"I opened #{pull_number} for this: **{title}**. It closes this issue when merged."
    return FixSummary(
        "success",
        f"Task: {title}"[:120],
        body,
        reply,
        commit,
        f"The task's change is {commit[:7]}, the head of #{pull_number} ({pull_url}).",
    )


def task_failed(reason: str, details: str = "") -> FixSummary:
    """The report of a task that published nothing (`reason` is one line)."""
    text = f"Nothing was published ({reason}).\n\n{details}".strip()
    reply = f"I could not do this: {reason}. Nothing was published."
    return FixSummary("failure", "No pull request opened", text, reply)


def question_summary(question: str) -> FixSummary:
    """The one question asked when the task is too vague to act on."""
    reply = f"Before I start, one question: {question}"
    return FixSummary("neutral", "Waiting for an answer", reply, reply)


class TaskPublisher:
    """Publishes a task's one gated proposal (the `Publisher` protocol) as a pull request."""

    def __init__(
        self,
        gh: InstallationClient,
        workspace: Workspace,
        *,
        base_sha: str,
        base_ref: str,
        branch: str,
        body: str,
        author: str,
        trailer: str,
        draft: bool = False,
    ) -> None:
        self._gh = gh
        self._workspace = workspace
        self._base_sha = base_sha
        self._base_ref = base_ref
        self._branch = branch
        self._body = body
        self._author = author
        self._trailer = trailer
        self._draft = draft
        self.pull_number = 0
        self.pull_url = ""
        self.commit = ""

    async def publish(
        self, proposal: Proposal, source_repo: Path, worktree: Path, diff: str, number: int
    ) -> Publication:
        """Commit what `worktree` changed through the Git Data API (signed by GitHub) on the
        task's branch, open the pull request, and ask the CODEOWNERS to review."""
        changes = await self._workspace.changed_files(worktree)
        existing = await self._gh.branch_sha(self._branch)
        if existing is None:
            message = f"{commit_message(proposal)}\n{self._trailer}"
            result = await self._gh.publish_commit(
                self._base_sha, self._branch, changes, message, create_branch=True
            )
            self.commit = result.sha
        else:
            # A retried job (or another trigger on the issue) finds the branch made before.
            log.info("task branch exists; reusing it", extra={"branch": self._branch})
            self.commit = existing
        opened, _created = await self._gh.open_pull_request(
            self._branch, self._base_ref, proposal.title, self._body, draft=self._draft
        )
        self.pull_number, self.pull_url = opened.number, opened.url
        await self._gh.request_codeowner_reviews(
            opened.number, self._base_ref, sorted(changes), self._author
        )
        return Publication(self._branch, self.commit, url=opened.url)
