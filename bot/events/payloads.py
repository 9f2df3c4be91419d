"""Typed webhook payloads for the events Ambient routes, parsed leniently.

githubkit's webhook models are strict: they reject 80 of octokit's 273 real payload examples
(installation events among them, for fields GitHub added later) and a real 2019 capture of a
PR comment. A receiver must not fail on an older or newer shape, so these models declare only
the fields Ambient reads, ignore the rest, and default what GitHub has not always sent.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import WebhookMalformed

__all__ = [
    "CheckSuitePayload",
    "InstallationPayload",
    "IssueCommentPayload",
    "IssuesPayload",
    "Payload",
    "PullRequestReviewCommentPayload",
    "PullRequestReviewPayload",
    "PushPayload",
    "SweepPayload",
    "WorkflowRunPayload",
    "parse_payload",
]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Account(_Lenient):
    login: str
    id: int
    type: str = "User"

    @property
    def is_bot(self) -> bool:
        """Whether the account is a bot: bots never trigger work (DESIGN invariant 5)."""
        return self.type == "Bot" or self.login.endswith("[bot]")


class Installation(_Lenient):
    id: int


class Repository(_Lenient):
    id: int
    full_name: str
    name: str
    owner: Account
    default_branch: str = "main"
    private: bool = False
    fork: bool = False
    clone_url: str | None = None


class Comment(_Lenient):
    id: int
    body: str = ""
    user: Account
    html_url: str | None = None


class Issue(_Lenient):
    number: int
    title: str = ""
    body: str | None = None
    user: Account
    state: str = "open"
    pull_request: dict[str, object] | None = None


class PullRequestRef(_Lenient):
    number: int
    head: dict[str, object] = {}
    base: dict[str, object] = {}


class CheckSuite(_Lenient):
    id: int
    head_branch: str | None = None
    head_sha: str
    status: str | None = None
    conclusion: str | None = None
    pull_requests: list[PullRequestRef] = []


class WorkflowRun(_Lenient):
    id: int
    name: str | None = None
    head_branch: str | None = None
    head_sha: str
    status: str | None = None
    conclusion: str | None = None
    event: str | None = None
    pull_requests: list[PullRequestRef] = []


class Payload(_Lenient):
    """Fields every routed event may carry."""

    action: str | None = None
    sender: Account | None = None
    installation: Installation | None = None
    repository: Repository | None = None


class IssueCommentPayload(Payload):
    issue: Issue
    comment: Comment


class Label(_Lenient):
    name: str


class IssuesPayload(Payload):
    issue: Issue
    changes: dict[str, object] | None = None
    assignee: Account | None = None
    label: Label | None = None


class PullSide(_Lenient):
    ref: str
    sha: str


class PullRequestBrief(_Lenient):
    number: int
    title: str = ""
    user: Account
    head: PullSide
    base: PullSide
    state: str = "open"


class Review(_Lenient):
    id: int
    body: str | None = None
    state: str
    user: Account | None = None


class ReviewComment(Comment):
    path: str = ""
    line: int | None = None
    pull_request_review_id: int | None = None
    in_reply_to_id: int | None = None


class PullRequestReviewPayload(Payload):
    review: Review
    pull_request: PullRequestBrief


class PullRequestReviewCommentPayload(Payload):
    comment: ReviewComment
    pull_request: PullRequestBrief


class CheckSuitePayload(Payload):
    check_suite: CheckSuite


class WorkflowRunPayload(Payload):
    workflow_run: WorkflowRun


class PushPayload(Payload):
    ref: str
    before: str
    after: str
    deleted: bool = False
    commits: list[dict[str, object]] = []


class InstallationPayload(Payload):
    repositories: list[dict[str, object]] | None = None
    repositories_added: list[dict[str, object]] = []
    repositories_removed: list[dict[str, object]] = []


class SweepPayload(Payload):
    """The weekly cron's own body for one repository (no webhook carries it)."""

    full_name: str = Field(pattern=r"^[^/\s]+/[^/\s]+$")
    installation: Installation


_MODELS: Final[dict[str, type[Payload]]] = {
    "issue_comment": IssueCommentPayload,
    "issues": IssuesPayload,
    "pull_request_review": PullRequestReviewPayload,
    "pull_request_review_comment": PullRequestReviewCommentPayload,
    "check_suite": CheckSuitePayload,
    "workflow_run": WorkflowRunPayload,
    "push": PushPayload,
    "installation": InstallationPayload,
    "installation_repositories": InstallationPayload,
    "sweep": SweepPayload,
}


def parse_payload(event_name: str, body: bytes | str | dict[str, Any]) -> Payload:
    """Parse a webhook body (its JSON text, or the object the receiver queued) into the model
    for `event_name` (a generic `Payload` otherwise).

    Raises `WebhookMalformed` naming the first field that is missing or of the wrong type.
    """
    model = _MODELS.get(event_name, Payload)
    try:
        if isinstance(body, dict):
            return model.model_validate(body)
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise WebhookMalformed(f"{event_name} payload: {where}: {first['msg']}") from None
