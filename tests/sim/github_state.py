"""In-memory state of the GitHub simulator: users, repos, installations, tokens, issues, checks.

Git objects and refs are not kept here: the bare repositories under the data directory are
the one source of truth for them, so a clone and the REST API always agree.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "PERMISSION_LEVELS",
    "CheckRun",
    "CheckSuite",
    "Comment",
    "Delivery",
    "Fault",
    "Installation",
    "Issue",
    "Repo",
    "Review",
    "ReviewComment",
    "SimState",
    "Token",
    "User",
    "WorkflowJob",
    "WorkflowRun",
    "iso",
]

Permission = Literal["admin", "maintain", "write", "triage", "read", "none"]
PERMISSION_LEVELS: dict[str, int] = {
    "none": 0,
    "read": 1,
    "triage": 2,
    "write": 3,
    "maintain": 4,
    "admin": 5,
}

# What the simulated App asks for when it is registered; tokens may narrow it, never widen it.
DEFAULT_APP_PERMISSIONS: dict[str, str] = {
    "actions": "read",
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "read",
}


def iso(ts: float) -> str:
    """GitHub's timestamp format: UTC, second precision, a trailing Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass
class User:
    login: str
    id: int
    type: Literal["User", "Organization", "Bot"] = "User"


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    path: Path
    default_branch: str
    private: bool
    created_at: float
    fork_of: int | None = None
    collaborators: dict[str, str] = field(default_factory=dict)
    # classic branch protection, keyed by branch name, in the sim's own compact form
    protection: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class Installation:
    id: int
    account: str
    repo_ids: set[int]
    permissions: dict[str, str]
    created_at: float


@dataclass
class Token:
    value: str
    installation_id: int
    repo_ids: frozenset[int]
    permissions: dict[str, str]
    expires_at: float
    selection: Literal["all", "selected"]


@dataclass
class Issue:
    """An issue or a pull request: GitHub numbers both from one sequence per repository."""

    repo_id: int
    number: int
    id: int
    title: str
    body: str | None
    user: str
    created_at: float
    updated_at: float
    state: Literal["open", "closed"] = "open"
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    # pull requests only
    is_pull: bool = False
    head_repo_id: int | None = None
    head_ref: str = ""
    base_ref: str = ""
    draft: bool = False
    maintainer_can_modify: bool = False
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    closed_at: float | None = None
    reactions: dict[str, int] = field(default_factory=dict)
    # merged pull requests only
    merged_at: float | None = None
    merge_commit_sha: str | None = None
    merged_by: str | None = None


@dataclass
class Comment:
    id: int
    repo_id: int
    issue_number: int
    body: str
    user: str
    created_at: float
    updated_at: float
    reactions: dict[str, int] = field(default_factory=dict)


@dataclass
class ReviewComment:
    """A comment on a line of a pull request's diff."""

    id: int
    repo_id: int
    pull_number: int
    body: str
    user: str
    path: str
    line: int
    position: int
    commit_id: str
    diff_hunk: str
    created_at: float
    updated_at: float
    review_id: int | None = None
    in_reply_to: int | None = None


@dataclass
class Review:
    """A pull request review; a PENDING one has no `submitted_at`."""

    id: int
    repo_id: int
    pull_number: int
    body: str
    user: str
    state: str
    commit_id: str
    submitted_at: float | None


@dataclass
class CheckRun:
    id: int
    repo_id: int
    suite_id: int
    head_sha: str
    name: str
    status: str
    conclusion: str | None
    started_at: float | None
    completed_at: float | None
    external_id: str | None = None
    details_url: str | None = None
    output: dict[str, Any] = field(default_factory=dict)
    app_owned: bool = True


@dataclass
class CheckSuite:
    id: int
    repo_id: int
    head_sha: str
    head_branch: str | None
    status: str
    conclusion: str | None
    created_at: float
    app_owned: bool = False


@dataclass
class WorkflowJob:
    id: int
    run_id: int
    name: str
    conclusion: str | None
    log: str
    started_at: float


@dataclass
class WorkflowRun:
    id: int
    repo_id: int
    head_sha: str
    head_branch: str | None
    conclusion: str | None
    event: str
    suite_id: int
    created_at: float
    pull_requests: list[int]
    jobs: list[WorkflowJob]
    name: str = "CI"


@dataclass
class Delivery:
    id: int
    guid: str
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None
    delivered_at: float
    status_code: int
    duration: float
    redelivery: bool
    request_headers: dict[str, str]
    body: bytes
    response_headers: dict[str, str]
    response_body: str


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    retry_after: float | None
    delay_s: float
    body: dict[str, Any] | None
    headers: dict[str, str]


@dataclass
class SimState:
    """Everything the simulator remembers; guard mutations that await with `lock`."""

    data_dir: Path
    base_url: str
    app_id: int
    app_slug: str
    webhook_secret: str
    app_permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_APP_PERMISSIONS))
    users: dict[str, User] = field(default_factory=dict)
    repos: dict[int, Repo] = field(default_factory=dict)
    installations: dict[int, Installation] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    issues: dict[tuple[int, int], Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    review_comments: dict[int, ReviewComment] = field(default_factory=dict)
    reviews: dict[int, Review] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    check_suites: dict[int, CheckSuite] = field(default_factory=dict)
    workflow_runs: dict[int, WorkflowRun] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    verified: set[str] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    webhook_url: str | None = None
    webhook_hook_secret: str | None = None
    created_at: float = field(default_factory=time.time)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def next_id(self) -> int:
        return next(self._ids)

    def user(self, login: str) -> User:
        """The user with this login, created on first mention (bots end in "[bot]")."""
        found = self.users.get(login)
        if found is None:
            kind: Literal["User", "Bot"] = "Bot" if login.endswith("[bot]") else "User"
            found = User(login=login, id=self.next_id(), type=kind)
            self.users[login] = found
        return found

    @property
    def bot_login(self) -> str:
        return f"{self.app_slug}[bot]"

    def find_repo(self, owner: str, name: str) -> Repo | None:
        for repo in self.repos.values():
            if repo.owner.lower() == owner.lower() and repo.name.lower() == name.lower():
                return repo
        return None

    def installation_for(self, owner: str) -> Installation | None:
        for inst in self.installations.values():
            if inst.account.lower() == owner.lower():
                return inst
        return None

    def install(self, repo: Repo) -> Installation:
        """Put a repository into the App's installation on its owner's account."""
        inst = self.installation_for(repo.owner)
        if inst is None:
            inst = Installation(
                id=self.next_id(),
                account=repo.owner,
                repo_ids=set(),
                permissions=dict(self.app_permissions),
                created_at=time.time(),
            )
            self.installations[inst.id] = inst
        inst.repo_ids.add(repo.id)
        return inst

    def mint_token(
        self,
        inst: Installation,
        repo_ids: frozenset[int] | None,
        permissions: dict[str, str],
    ) -> Token:
        """A new installation token; real tokens vary in length, so these do too."""
        value = "ghs_" + secrets.token_urlsafe(secrets.choice([27, 30, 33, 36]))
        selection: Literal["all", "selected"] = "selected" if repo_ids is not None else "all"
        token = Token(
            value=value,
            installation_id=inst.id,
            repo_ids=repo_ids if repo_ids is not None else frozenset(inst.repo_ids),
            permissions=permissions,
            expires_at=time.time() + 3600,
            selection=selection,
        )
        self.tokens[value] = token
        return token

    def next_issue_number(self, repo_id: int) -> int:
        numbers = [number for (rid, number) in self.issues if rid == repo_id]
        return max(numbers, default=0) + 1

    def permission_of(self, repo: Repo, login: str) -> str:
        """A user's role on a repository: the owner is admin; strangers read public repos."""
        if login.lower() == repo.owner.lower():
            return "admin"
        if login in repo.collaborators:
            return repo.collaborators[login]
        return "none" if repo.private else "read"
