"""Reads of one repository through the GitHub gateway, as our own values.

`RepoReads` talks to GitHub only through a `GitHubApi` (retries and errors included); the
githubkit-backed implementation lives in `bot.github.client`, which builds `InstallationClient`.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import quote

import httpx

from bot.git import Workspace
from bot.github.branch_policy import BranchPolicy, decide_branch_policy
from bot.github.codeowners import CODEOWNERS_LOCATIONS, CodeOwnersFile
from bot.github.tokens import InstallationToken
from bot.github.values import (
    CheckRunOutput,
    CheckRunRef,
    Issue,
    JobLog,
    PullRequest,
    Repo,
    ReviewNote,
    issue_from_json,
    pull_from_json,
    repo_from_json,
    review_comment_from_json,
    review_from_json,
)

__all__ = ["PAGE", "Absent", "GitHubApi", "Json", "RepoReads"]

T = TypeVar("T")
Json = Any
#: (status, words in GitHub's message) answers that mean "absent", not failure.
Absent = Sequence[tuple[int, str]]

PAGE: Final = 100
_MAX_LOG_BYTES: Final = 512 * 1024
_ROLES: Final = ("admin", "maintain", "write", "triage", "read")


class GitHubApi(Protocol):
    """REST calls with GitHub's retry rules; failures raise one error naming call and repo."""

    async def run(self, call: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation` (made of `request` calls), again while failures are transient."""
        ...

    async def request(
        self, method: str, path: str, *, absent: Absent = (), **kwargs: Any
    ) -> httpx.Response | None:
        """One request, not retried; None for an `absent` answer."""
        ...

    async def send(
        self, call: str, method: str, path: str, *, absent: Absent = (), **kwargs: Any
    ) -> httpx.Response | None:
        """One request, retried; None for an `absent` answer."""
        ...

    async def json(self, call: str, method: str, path: str, **kwargs: Any) -> Json:
        """The JSON answer of a request that must succeed."""
        ...

    async def pages(
        self, call: str, path: str, key: str | None = None, **params: Any
    ) -> list[Json]:
        """Every item of a paginated list."""
        ...


class RepoReads:
    """Reads of one repository; `InstallationClient` adds the writes and the token."""

    def __init__(
        self, api: GitHubApi, token: InstallationToken, owner: str, repo: str, app_slug: str | None
    ) -> None:
        self.owner = owner
        self.repo = repo
        self.full_name = f"{owner}/{repo}"
        self.app_slug = app_slug
        self._api = api
        self._token = token
        self._root = f"/repos/{owner}/{repo}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.full_name}, {dict(self._token.permissions)})"

    @property
    def bot_login(self) -> str | None:
        """The login GitHub shows on the App's comments."""
        return f"{self.app_slug}[bot]" if self.app_slug else None

    async def clone(
        self, sha: str, root: Path, job_id: str, *, branch: str | None = None
    ) -> Workspace:
        """Clone this repository at `sha` into a new workspace under `root` (token via env only)."""
        repo = await self.get_repo()
        return await Workspace.clone(
            repo.clone_url, sha, self._token.token, root, job_id, branch=branch
        )

    async def _json(self, call: str, method: str, path: str = "", **kwargs: Any) -> Json:
        return await self._api.json(call, method, self._root + path, **kwargs)

    async def get_repo(self) -> Repo:
        """The repository."""
        return repo_from_json(await self._json("get repository", "GET"))

    async def branch_sha(self, branch: str) -> str | None:
        """The commit `branch` points at, or None when there is no such branch."""
        path = f"{self._root}/git/ref/heads/{quote(branch)}"
        response = await self._api.send(f"get branch {branch}", "GET", path, absent=[(404, "")])
        return None if response is None else str(response.json()["object"]["sha"])

    async def get_pull(self, number: int) -> PullRequest:
        """One pull request by number."""
        return pull_from_json(
            await self._json(f"get pull request #{number}", "GET", f"/pulls/{number}")
        )

    async def find_open_pull(self, head: str, base: str | None = None) -> PullRequest | None:
        """The open PR whose head is branch `head` of this repository (and base `base`)."""
        params = {
            "state": "open",
            "head": f"{self.owner}:{head}",
            **({"base": base} if base else {}),
        }
        items = await self._json("list pull requests", "GET", "/pulls", params=params)
        pulls = (pull_from_json(item) for item in items)
        return next((p for p in pulls if p.head_ref == head and not p.from_fork), None)

    async def open_pull_heads(self) -> tuple[str, ...]:
        """The head branches of this repository's open PRs (forks' PRs left out)."""
        items = await self._api.pages("list open pull requests", f"{self._root}/pulls")
        pulls = (pull_from_json(item) for item in items)
        return tuple(p.head_ref for p in pulls if p.state == "open" and not p.from_fork)

    async def list_pulls(self, state: str = "all") -> tuple[PullRequest, ...]:
        """This repository's PRs by `state` (open, closed, all), newest first, every page."""
        items = await self._api.pages(
            f"list {state} pull requests",
            f"{self._root}/pulls",
            state=state,
            sort="created",
            direction="desc",
        )
        return tuple(pull_from_json(item) for item in items)

    async def pull_patches(self, number: int) -> tuple[tuple[str, str], ...]:
        """(path, patch) of each file a PR changes; GitHub leaves out the patch of a binary or
        huge file ('' here)."""
        call = f"list files of pull request #{number}"
        items = await self._api.pages(call, f"{self._root}/pulls/{number}/files")
        return tuple((str(item["filename"]), str(item.get("patch") or "")) for item in items)

    async def commit_message(self, sha: str) -> str | None:
        """The message of commit `sha`, or None when there is no such commit."""
        response = await self._api.send(
            f"get commit {sha[:12]}",
            "GET",
            f"{self._root}/git/commits/{sha}",
            absent=[(404, ""), (422, "")],
        )
        return None if response is None else str(response.json().get("message") or "")

    async def pull_files(self, number: int) -> tuple[str, ...]:
        """Paths a PR changes (GitHub lists at most 3000)."""
        call = f"list files of pull request #{number}"
        items = await self._api.pages(call, f"{self._root}/pulls/{number}/files")
        return tuple(str(item["filename"]) for item in items)

    async def list_issues(
        self,
        *,
        state: str = "open",
        creator: str | None = None,
        labels: Sequence[str] = (),
        sort: str = "created",
        direction: str = "desc",
    ) -> tuple[Issue, ...]:
        """This repository's issues by `state`, `creator` and `labels` (all of them), every page.

        GitHub lists pull requests here too (`Issue.is_pull`); filter them out where issues
        alone are meant.
        """
        params: dict[str, str] = {"state": state, "sort": sort, "direction": direction}
        if creator:
            params["creator"] = creator
        if labels:
            params["labels"] = ",".join(labels)
        items = await self._api.pages("list issues", f"{self._root}/issues", **params)
        return tuple(issue_from_json(item) for item in items)

    async def review_notes(self, number: int) -> tuple[ReviewNote, ...]:
        """What reviewers wrote on PR `number`: its line comments, then its reviews' bodies
        (reviews without a body, and pending ones, left out)."""
        comments = await self._api.pages(
            f"list review comments of #{number}", f"{self._root}/pulls/{number}/comments"
        )
        reviews = await self._api.pages(
            f"list reviews of #{number}", f"{self._root}/pulls/{number}/reviews"
        )
        notes = [review_comment_from_json(item) for item in comments]
        notes += [
            review_from_json(item)
            for item in reviews
            if item.get("body") and item.get("state") not in ("PENDING", "DISMISSED")
        ]
        return tuple(notes)

    async def permission_of(self, login: str) -> str:
        """'admin', 'maintain', 'write', 'triage', 'read' or 'none' for a user on this repo."""
        response = await self._api.send(
            f"get permission of {login}",
            "GET",
            f"{self._root}/collaborators/{quote(login)}/permission",
            absent=[(404, "")],
        )
        body = {} if response is None else response.json()
        role = body.get("role_name") or body.get("permission")
        return role if role in _ROLES else "none"

    async def read_file(self, path: str, ref: str) -> bytes | None:
        """A file's bytes at `ref`, or None when it does not exist there."""
        call = f"read {path} at {ref[:12]}"
        response = await self._api.send(
            call,
            "GET",
            f"{self._root}/contents/{quote(path)}",
            params={"ref": ref},
            absent=[(404, "")],
        )
        body = None if response is None else response.json()
        if not isinstance(body, Mapping) or body.get("type") != "file":
            return None
        if body.get("encoding") != "base64":
            # Files over 1 MB come without content: read their blob instead.
            body = await self._json(call, "GET", f"/git/blobs/{body['sha']}")
        return base64.b64decode(body.get("content", ""))

    async def codeowners(self, ref: str) -> CodeOwnersFile | None:
        """The CODEOWNERS file GitHub uses at `ref` (first of .github/, root, docs/), if any."""
        for location in CODEOWNERS_LOCATIONS:
            content = await self.read_file(location, ref)
            if content is not None:
                return CodeOwnersFile.parse(content.decode("utf-8", "replace"), location)
        return None

    async def branch_policy(self, branch: str) -> BranchPolicy:
        """Whether Ambient may push to `branch`, from its protection and rulesets.

        Classic protection is read only with administration permission; without it GitHub
        answers 403 or 404 and the decision falls back to "protected, so open a PR".
        """
        info = await self._api.send(
            f"get branch {branch}",
            "GET",
            f"{self._root}/branches/{quote(branch)}",
            absent=[(404, "")],
        )
        branch_json: Json = {"protected": False} if info is None else info.json()
        rules = await self._api.pages(
            f"get rules of branch {branch}", f"{self._root}/rules/branches/{quote(branch)}"
        )
        protection = None
        if branch_json.get("protected"):
            visible = await self._api.send(
                f"get protection of branch {branch}",
                "GET",
                f"{self._root}/branches/{quote(branch)}/protection",
                absent=[(404, ""), (403, "")],
            )
            protection = None if visible is None else visible.json()
        return decide_branch_policy(
            branch,
            protected=bool(branch_json.get("protected")),
            rules=rules,
            protection=protection,
            protection_summary=branch_json.get("protection"),
            app_slug=self.app_slug,
        )

    async def app_check_run(self, sha: str, name: str) -> CheckRunOutput | None:
        """The newest check run named `name` that this App made on commit `sha`, or None.

        Another App's run of the same name is never taken for ours: its text is not ours.
        """
        if self.app_slug is None:
            return None
        runs = await self._api.pages(
            f"list check runs {name} of {sha[:12]}",
            f"{self._root}/commits/{sha}/check-runs",
            key="check_runs",
            check_name=name,
        )
        for run in runs:
            if run.get("name") == name and (run.get("app") or {}).get("slug") == self.app_slug:
                ref = CheckRunRef(int(run["id"]), str(run.get("html_url") or ""))
                summary = str((run.get("output") or {}).get("summary") or "")
                return CheckRunOutput(ref, run.get("status") == "completed", summary)
        return None

    async def failed_check_logs(
        self, sha: str, *, skip: str = "", max_bytes: int = _MAX_LOG_BYTES
    ) -> tuple[JobLog, ...]:
        """Logs of the failed check runs on commit `sha` (Actions jobs; other checks have none),
        each cut to its last `max_bytes`; the check run named `skip` (our own) is left out."""
        runs = await self._api.pages(
            f"list check runs of {sha[:12]}",
            f"{self._root}/commits/{sha}/check-runs",
            key="check_runs",
        )
        logs: list[JobLog] = []
        for run in runs:
            if run.get("conclusion") not in ("failure", "timed_out") or run.get("name") == skip:
                continue
            path = f"{self._root}/actions/jobs/{run['id']}/logs"
            response = await self._api.send(
                f"download log of {run['name']}", "GET", path, absent=[(404, "")]
            )
            if response is not None:
                text = response.content[-max_bytes:].decode("utf-8", "replace")
                logs.append(JobLog(int(run["id"]), str(run["name"]), run.get("conclusion"), text))
        return tuple(logs)

    async def failed_job_logs(
        self, run_id: int, max_bytes: int = _MAX_LOG_BYTES
    ) -> tuple[JobLog, ...]:
        """Logs of the failed jobs of a workflow run, each cut to its last `max_bytes`."""
        jobs = await self._api.pages(
            f"list jobs of run {run_id}",
            f"{self._root}/actions/runs/{run_id}/jobs",
            key="jobs",
            filter="latest",
        )
        logs: list[JobLog] = []
        for job in jobs:
            if job.get("conclusion") not in ("failure", "timed_out"):
                continue
            # GitHub answers with a redirect to blob storage; httpx follows it.
            path = f"{self._root}/actions/jobs/{job['id']}/logs"
            response = await self._api.send(f"download log of job {job['id']}", "GET", path)
            content = b"" if response is None else response.content
            text = content[-max_bytes:].decode("utf-8", "replace")
            logs.append(JobLog(int(job["id"]), str(job["name"]), job.get("conclusion"), text))
        return tuple(logs)
