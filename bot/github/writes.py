"""Writes to one repository, each safe to repeat.

A job retried after a crash, or a call retried after a lost answer, leaves one commit, one
branch, one PR and one comment.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from prometheus_client import Counter

from bot.git import FileChange
from bot.github.codeowners import Reviewers, reviewers_for
from bot.github.repo import RepoReads
from bot.github.retry import GitHubNotFound
from bot.github.values import (
    MAX_ANNOTATIONS,
    Annotation,
    CheckRunRef,
    Comment,
    CommitResult,
    PullRequest,
    annotation_json,
    comment_from_json,
    pull_from_json,
)

__all__ = ["PULLS_OPENED", "IssueText", "RepoWrites"]

PULLS_OPENED: Final = Counter(
    "ambient_pull_requests_opened_total", "Pull requests Ambient opened (not found already open)"
)


@dataclass(frozen=True, slots=True)
class IssueText:
    """An issue's number, title, body, state and author, as the dashboard needs them."""

    number: int
    title: str
    body: str
    state: str
    author: str


def _issue_text(data: Mapping[str, Any]) -> IssueText:
    user = data.get("user") or {}
    return IssueText(
        int(data["number"]),
        str(data.get("title") or ""),
        str(data.get("body") or ""),
        str(data.get("state") or "open"),
        str(user.get("login") or ""),
    )


class RepoWrites(RepoReads):
    """Comments, reactions, labels, check runs, signed commits, PRs and review requests."""

    async def find_or_create_comment(self, issue_number: int, marker: str, body: str) -> Comment:
        """Post `body` on an issue or PR, or update our comment carrying `marker` (idempotent).

        `marker` is a hidden HTML comment (see `hidden_marker`), appended to the body when
        missing, so a retried job edits its own comment instead of adding another.
        """
        text = body if marker in body else f"{body}\n\n{marker}"

        async def upsert() -> Comment:
            existing = await self._find_comment(issue_number, marker)
            if existing is not None and existing.body == text:
                return existing
            if existing is None:
                path = f"{self._root}/issues/{issue_number}/comments"
                response = await self._api.request("POST", path, json={"body": text})
            else:
                path = f"{self._root}/issues/comments/{existing.id}"
                response = await self._api.request("PATCH", path, json={"body": text})
            return comment_from_json(response.json() if response else {})

        # The lookup is retried together with the write: a create that landed although its
        # answer was lost is found on the next try instead of being posted twice.
        return await self._api.run(f"comment on #{issue_number}", upsert)

    async def _find_comment(self, issue_number: int, marker: str) -> Comment | None:
        items = await self._api.pages(
            f"list comments of #{issue_number}", f"{self._root}/issues/{issue_number}/comments"
        )
        for comment in map(comment_from_json, items):
            if (
                self.bot_login is None or comment.author == self.bot_login
            ) and marker in comment.body:
                return comment
        return None

    async def add_reaction(
        self, content: str, *, comment_id: int | None = None, issue_number: int | None = None
    ) -> None:
        """React to a comment, or else to the issue or PR itself (e.g. 'eyes' when work starts)."""
        if comment_id is not None:
            path = f"/issues/comments/{comment_id}/reactions"
        else:
            path = f"/issues/{issue_number}/reactions"
        await self._json(f"react with {content}", "POST", path, json={"content": content})

    async def add_labels(self, issue_number: int, labels: Sequence[str]) -> None:
        """Add labels to an issue or PR (GitHub creates labels it does not know)."""
        path = f"/issues/{issue_number}/labels"
        await self._json(f"label #{issue_number}", "POST", path, json={"labels": list(labels)})

    async def create_check_run(
        self, name: str, head_sha: str, *, title: str, summary: str, details_url: str | None = None
    ) -> CheckRunRef:
        """Start an in-progress check run on `head_sha`."""
        request = {
            "name": name,
            "head_sha": head_sha,
            "status": "in_progress",
            "output": {"title": title, "summary": summary[:65535]},
            **({"details_url": details_url} if details_url else {}),
        }
        body = await self._json(f"create check run {name}", "POST", "/check-runs", json=request)
        return CheckRunRef(int(body["id"]), str(body.get("html_url") or ""))

    async def update_check_run(
        self,
        check: CheckRunRef,
        *,
        title: str,
        summary: str,
        conclusion: str | None = None,
        text: str | None = None,
        annotations: Sequence[Annotation] = (),
    ) -> None:
        """Update a check run's output; with `conclusion` it completes.

        GitHub takes 50 annotations per request and appends them, so more go in batches.
        """
        step = MAX_ANNOTATIONS
        batches = [annotations[i : i + step] for i in range(0, len(annotations), step)] or [()]
        for index, batch in enumerate(batches):
            output: dict[str, Any] = {"title": title, "summary": summary[:65535]}
            if text:
                output["text"] = text[:65535]
            if batch:
                output["annotations"] = [annotation_json(a) for a in batch]
            request: dict[str, Any] = {"output": output}
            if conclusion and index == len(batches) - 1:
                request.update(status="completed", conclusion=conclusion)
            path = f"/check-runs/{check.id}"
            await self._json(f"update check run {check.id}", "PATCH", path, json=request)

    async def publish_commit(
        self,
        base_sha: str,
        branch: str,
        changes: Mapping[str, FileChange],
        message: str,
        *,
        create_branch: bool,
    ) -> CommitResult:
        """Commit `changes` on top of `base_sha` through the Git Data API and move `branch` to it.

        No author or committer is sent, so GitHub signs the commit as the App. The branch is
        created, or moved by fast-forward only (`force=false`): `BranchMoved` when it moved
        since `base_sha` was read, `BranchProtected` when protection or a ruleset refuses.
        """
        base = await self._json(f"get commit {base_sha[:12]}", "GET", f"/git/commits/{base_sha}")
        entries = await asyncio.gather(*(self._tree_entry(p, c) for p, c in changes.items()))
        tree_request = {"base_tree": base["tree"]["sha"], "tree": list(entries)}
        tree = await self._json("create tree", "POST", "/git/trees", json=tree_request)
        commit_request = {"message": message, "tree": tree["sha"], "parents": [base_sha]}
        commit = await self._json("create commit", "POST", "/git/commits", json=commit_request)
        sha = str(commit["sha"])
        created = False
        if create_branch:
            # A retried job meets the branch it created before: it is fast-forwarded below.
            made = await self._api.send(
                f"create branch {branch}",
                "POST",
                f"{self._root}/git/refs",
                json={"ref": f"refs/heads/{branch}", "sha": sha},
                absent=[(422, "already exists")],
            )
            created = made is not None
        if not created:
            update = {"sha": sha, "force": False}
            path = f"/git/refs/heads/{quote(branch)}"
            await self._json(f"fast-forward branch {branch}", "PATCH", path, json=update)
        verified = bool((commit.get("verification") or {}).get("verified"))
        return CommitResult(sha, verified, branch, str(commit.get("html_url", "")), created)

    async def _tree_entry(self, path: str, change: FileChange) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": path, "mode": change.mode, "type": "blob", "sha": None}
        if change.content is not None:
            encoded = base64.b64encode(change.content).decode("ascii")
            request = {"content": encoded, "encoding": "base64"}
            blob = await self._json(f"create blob for {path}", "POST", "/git/blobs", json=request)
            entry["sha"] = blob["sha"]
        return entry

    async def open_pull_request(
        self, head: str, base: str, title: str, body: str, *, draft: bool = False
    ) -> tuple[PullRequest, bool]:
        """Open a PR from branch `head` into `base`, or return the open one: (pull, created)."""
        existing = await self.find_open_pull(head, base)
        if existing is not None:
            return existing, False
        request = {
            "head": head,
            "base": base,
            "title": title,
            "body": body,
            "draft": draft,
            "maintainer_can_modify": True,
        }
        call = f"open pull request {head} -> {base}"
        # "already exists": another worker opened it between our look and our create.
        response = await self._api.send(
            call, "POST", f"{self._root}/pulls", json=request, absent=[(422, "already exists")]
        )
        if response is not None:
            PULLS_OPENED.inc()
            return pull_from_json(response.json()), True
        raced = await self.find_open_pull(head, base)
        if raced is None:
            raise GitHubNotFound(f"GitHub {call} on {self.full_name}: exists but is not listed")
        return raced, False

    async def request_reviewers(self, number: int, reviewers: Reviewers) -> Reviewers:
        """Ask users and teams to review PR `number`; returns who was actually requested.

        GitHub refuses the whole request when one name is not a collaborator, so after a 422
        each name is asked alone and the refused ones are left out.
        """

        async def ask(users: Sequence[str], teams: Sequence[str]) -> bool:
            request = {"reviewers": list(users), "team_reviewers": list(teams)}
            path = f"{self._root}/pulls/{number}/requested_reviewers"
            call = f"request reviewers on #{number}"
            answer = await self._api.send(call, "POST", path, json=request, absent=[(422, "")])
            return answer is not None

        if not reviewers or await ask(reviewers.users, reviewers.teams):
            return reviewers
        users = [u for u in reviewers.users if await ask([u], [])]
        teams = [t for t in reviewers.teams if await ask([], [t])]
        return Reviewers(tuple(users), tuple(teams))

    async def request_codeowner_reviews(
        self, number: int, base_ref: str, paths: Sequence[str], author: str
    ) -> Reviewers:
        """Request reviews from the CODEOWNERS (read from `base_ref`) of `paths`."""
        owners_file = await self.codeowners(base_ref)
        exclude = [author, *([self.bot_login] if self.bot_login else [])]
        return await self.request_reviewers(number, reviewers_for(owners_file, paths, exclude))

    async def get_issue(self, number: int) -> IssueText:
        """Issue `number` (`GitHubNotFound` when it does not exist)."""
        return _issue_text(await self._json(f"get issue #{number}", "GET", f"/issues/{number}"))

    async def create_issue(self, title: str, body: str) -> IssueText:
        """Open an issue; the caller remembers its number (a retry would open another)."""
        request = {"title": title, "body": body}
        return _issue_text(await self._json("create issue", "POST", "/issues", json=request))

    async def update_issue(self, number: int, *, body: str, state: str = "open") -> IssueText:
        """Replace issue `number`'s body (and set its state): the same call twice is one edit."""
        request = {"body": body, "state": state}
        path = f"/issues/{number}"
        return _issue_text(await self._json(f"update issue #{number}", "PATCH", path, json=request))

    async def issue_comments(self, number: int) -> tuple[Comment, ...]:
        """The conversation comments of issue or PR `number`, oldest first."""
        items = await self._api.pages(
            f"list comments of #{number}", f"{self._root}/issues/{number}/comments"
        )
        return tuple(comment_from_json(item) for item in items)

    async def reply_to_review_comment(
        self, pull_number: int, comment_id: int, marker: str, body: str
    ) -> int:
        """Answer review comment `comment_id` in its thread, once: a reply of ours carrying
        `marker` is found again instead of posting another. Returns the reply's id."""
        text = body if marker in body else f"{body}\n\n{marker}"

        async def once() -> int:
            items = await self._api.pages(
                f"list review comments of #{pull_number}",
                f"{self._root}/pulls/{pull_number}/comments",
            )
            for item in items:
                author = str((item.get("user") or {}).get("login") or "")
                if (
                    item.get("in_reply_to_id") == comment_id
                    and marker in str(item.get("body") or "")
                    and (self.bot_login is None or author == self.bot_login)
                ):
                    return int(item["id"])
            path = f"{self._root}/pulls/{pull_number}/comments/{comment_id}/replies"
            response = await self._api.request("POST", path, json={"body": text})
            return int((response.json() if response else {}).get("id", 0))

        return await self._api.run(f"reply to review comment {comment_id}", once)
