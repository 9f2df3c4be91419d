"""The values the GitHub gateway hands out and takes in: ours, frozen, free of githubkit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "Annotation",
    "CheckRunOutput",
    "CheckRunRef",
    "Comment",
    "CommitResult",
    "Delivery",
    "Issue",
    "JobLog",
    "PullRequest",
    "Repo",
    "ReviewNote",
    "annotation_json",
    "comment_from_json",
    "delivery_from_json",
    "hidden_marker",
    "issue_from_json",
    "pull_from_json",
    "repo_from_json",
    "review_comment_from_json",
    "review_from_json",
]

CheckConclusion = Literal[
    "success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"
]

#: GitHub accepts at most 50 annotations per check run request.
MAX_ANNOTATIONS: Final = 50


@dataclass(frozen=True, slots=True)
class Repo:
    """A repository as GitHub describes it."""

    id: int
    owner: str
    name: str
    full_name: str
    default_branch: str
    clone_url: str
    private: bool
    archived: bool
    fork: bool


@dataclass(frozen=True, slots=True)
class PullRequest:
    """A pull request; `head_repo` differs from the base repository for a fork's PR."""

    number: int
    state: str
    title: str
    body: str
    author: str
    head_ref: str
    head_sha: str
    head_repo: str | None
    base_ref: str
    base_sha: str
    base_repo: str
    draft: bool
    merged: bool
    maintainer_can_modify: bool
    url: str
    #: ISO 8601 UTC times ('' when not merged) and the commit a merge made on the base.
    created_at: str = ""
    merged_at: str = ""
    merge_commit_sha: str = ""
    labels: tuple[str, ...] = ()

    @property
    def from_fork(self) -> bool:
        """True when the head branch lives in another repository (or a deleted one)."""
        return self.head_repo != self.base_repo


@dataclass(frozen=True, slots=True)
class Comment:
    """An issue or PR conversation comment."""

    id: int
    body: str
    author: str
    url: str


@dataclass(frozen=True, slots=True)
class Issue:
    """An issue as GitHub lists it; `is_pull` for the pull requests the same list holds."""

    number: int
    title: str
    body: str
    state: str
    author: str
    labels: tuple[str, ...]
    is_pull: bool


@dataclass(frozen=True, slots=True)
class ReviewNote:
    """What a reviewer wrote on a PR: a line comment (`path`, `line`) or a review's body
    (`state`: APPROVED, CHANGES_REQUESTED, COMMENTED). `when` is ISO 8601 UTC, so it sorts."""

    id: int
    author: str
    author_is_bot: bool
    body: str
    when: str
    path: str = ""
    line: int | None = None
    state: str = ""


@dataclass(frozen=True, slots=True)
class CommitResult:
    """A commit published through the Git Data API; `verified` is GitHub's signature verdict."""

    sha: str
    verified: bool
    branch: str
    url: str
    created_branch: bool


@dataclass(frozen=True, slots=True)
class CheckRunRef:
    """A check run we created, to update later."""

    id: int
    url: str


@dataclass(frozen=True, slots=True)
class CheckRunOutput:
    """A check run found on a commit: which one, whether it completed, and its summary."""

    check: CheckRunRef
    completed: bool
    summary: str


@dataclass(frozen=True, slots=True)
class Annotation:
    """One check run annotation on a file line range."""

    path: str
    start_line: int
    end_line: int
    message: str
    level: Literal["notice", "warning", "failure"] = "failure"
    title: str | None = None


@dataclass(frozen=True, slots=True)
class JobLog:
    """The log of one job of a workflow run."""

    job_id: int
    name: str
    conclusion: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery as the App's hook log lists it."""

    id: int
    guid: str
    event: str
    action: str | None
    status_code: int
    redelivery: bool
    delivered_at: str
    installation_id: int | None
    repository_id: int | None


def hidden_marker(key: str) -> str:
    """The HTML comment that identifies a comment of ours across retries, e.g. a job id."""
    safe = "".join(c if c.isalnum() or c in ":._-" else "-" for c in key)
    return f"<!-- ambient:{safe} -->"


def repo_from_json(data: Mapping[str, Any]) -> Repo:
    """A `Repo` from GitHub's repository JSON."""
    return Repo(
        id=data["id"],
        owner=data["owner"]["login"],
        name=data["name"],
        full_name=data["full_name"],
        default_branch=data.get("default_branch") or "main",
        clone_url=data["clone_url"],
        private=bool(data.get("private")),
        archived=bool(data.get("archived")),
        fork=bool(data.get("fork")),
    )


def pull_from_json(data: Mapping[str, Any]) -> PullRequest:
    """A `PullRequest` from GitHub's pull request JSON (full or simple)."""
    head, base = data["head"], data["base"]
    head_repo = head.get("repo")
    return PullRequest(
        number=data["number"],
        state=data["state"],
        title=data["title"],
        body=data.get("body") or "",
        author=(data.get("user") or {}).get("login", ""),
        head_ref=head["ref"],
        head_sha=head["sha"],
        head_repo=head_repo["full_name"] if head_repo else None,
        base_ref=base["ref"],
        base_sha=base["sha"],
        base_repo=base["repo"]["full_name"],
        draft=bool(data.get("draft")),
        merged=bool(data.get("merged") or data.get("merged_at")),
        maintainer_can_modify=bool(data.get("maintainer_can_modify")),
        url=data["html_url"],
        created_at=str(data.get("created_at") or ""),
        merged_at=str(data.get("merged_at") or ""),
        merge_commit_sha=str(data.get("merge_commit_sha") or ""),
        labels=tuple(
            str(x["name"] if isinstance(x, Mapping) else x) for x in data.get("labels") or []
        ),
    )


def comment_from_json(data: Mapping[str, Any]) -> Comment:
    """A `Comment` from GitHub's issue comment JSON."""
    return Comment(
        id=data["id"],
        body=data.get("body") or "",
        author=(data.get("user") or {}).get("login", ""),
        url=data.get("html_url", ""),
    )


def issue_from_json(data: Mapping[str, Any]) -> Issue:
    """An `Issue` from an item of GitHub's issue list (or one issue)."""
    labels = data.get("labels") or []
    return Issue(
        number=int(data["number"]),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        state=str(data.get("state") or "open"),
        author=str((data.get("user") or {}).get("login") or ""),
        labels=tuple(str(x["name"] if isinstance(x, Mapping) else x) for x in labels),
        is_pull=data.get("pull_request") is not None,
    )


def _is_bot(user: Mapping[str, Any] | None) -> bool:
    # A deleted account shows as null: nobody to listen to either.
    if not user:
        return True
    return user.get("type") == "Bot" or str(user.get("login", "")).endswith("[bot]")


def review_comment_from_json(data: Mapping[str, Any]) -> ReviewNote:
    """A `ReviewNote` from a PR review comment (a comment on a line of the diff)."""
    user = data.get("user")
    line = data.get("line") or data.get("original_line")
    return ReviewNote(
        id=int(data["id"]),
        author=str((user or {}).get("login") or ""),
        author_is_bot=_is_bot(user),
        body=str(data.get("body") or ""),
        when=str(data.get("created_at") or ""),
        path=str(data.get("path") or ""),
        line=int(line) if line else None,
    )


def review_from_json(data: Mapping[str, Any]) -> ReviewNote:
    """A `ReviewNote` from a PR review (its body; a pending review has no `submitted_at`)."""
    user = data.get("user")
    return ReviewNote(
        id=int(data["id"]),
        author=str((user or {}).get("login") or ""),
        author_is_bot=_is_bot(user),
        body=str(data.get("body") or ""),
        when=str(data.get("submitted_at") or ""),
        state=str(data.get("state") or ""),
    )


def delivery_from_json(data: Mapping[str, Any]) -> Delivery:
    """A `Delivery` from an item of GET /app/hook/deliveries."""
    return Delivery(
        id=data["id"],
        guid=data["guid"],
        event=data["event"],
        action=data.get("action"),
        status_code=int(data.get("status_code") or 0),
        redelivery=bool(data.get("redelivery")),
        delivered_at=str(data.get("delivered_at", "")),
        installation_id=data.get("installation_id"),
        repository_id=data.get("repository_id"),
    )


def annotation_json(annotation: Annotation) -> dict[str, Any]:
    """The check run API's shape of an annotation, cut to GitHub's limits."""
    body: dict[str, Any] = {
        "path": annotation.path,
        "start_line": annotation.start_line,
        "end_line": annotation.end_line,
        "annotation_level": annotation.level,
        "message": annotation.message[:64000],
    }
    if annotation.title:
        body["title"] = annotation.title[:255]
    return body
