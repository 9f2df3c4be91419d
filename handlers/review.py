"""Reviews on Ambient's own pull requests: a review with changes requested
(`pull_request_review.submitted`) or a review comment (`pull_request_review_comment.created`)
on a pull request the App opened from an `ambient/` branch starts a follow-up job.

The job id is the pull request, its head and the reviewer: the review and the line comments
one person submits together are one job, and a follow-up's new commit opens the next round.
"""

from __future__ import annotations

import logging
from typing import Final

from bot.deps import Deps
from bot.errors import WebhookMalformed
from bot.events import (
    Event,
    JobResult,
    PullRequestReviewCommentPayload,
    PullRequestReviewPayload,
    Received,
    RouteContext,
    Routed,
    get_int,
    get_str,
    job,
    spec_for,
)
from bot.flows import FollowupRequest, follow_up

__all__ = ["JOBS", "follow_up_review", "route"]

log = logging.getLogger("ambient.handlers.review")

_EVENTS: Final = {"pull_request_review": "submitted", "pull_request_review_comment": "created"}


def route(event: Event, context: RouteContext) -> Routed | None:
    """Claim reviews and review comments; only those on the App's own PRs make a job."""
    wanted = _EVENTS.get(event.name)
    if wanted is None:
        return None
    action = wanted
    if event.action != action:
        return Routed.ignore(f"{event.full_name} is not acted on")
    if event.name == "pull_request_review":
        state = (get_str(event.payload, "review", "state") or "").lower()
        if state != "changes_requested":
            return Routed.ignore(f"a review that is {state or 'of no state'} asks for no change")
    author = get_str(event.payload, "pull_request", "user", "login") or ""
    head_ref = get_str(event.payload, "pull_request", "head", "ref") or ""
    if author != context.bot_login or not head_ref.startswith("ambient/"):
        return Routed.ignore("not a pull request of this app")
    repo_id = get_int(event.payload, "repository", "id")
    number = get_int(event.payload, "pull_request", "number")
    head = get_str(event.payload, "pull_request", "head", "sha")
    # The sender is who submitted the review or wrote the comment.
    reviewer = get_str(event.payload, "sender", "login")
    if repo_id is None or number is None or not head or not reviewer:
        return Routed.ignore(f"{event.full_name} without repository, pull, head or reviewer")
    job_id = f"followup:{repo_id}:{number}:{head[:12]}:{reviewer.lower()}"
    return Routed(jobs=(spec_for(event, "follow_up_review", job_id, number=str(number)),))


def _request(received: Received) -> FollowupRequest:
    payload = received.payload
    if isinstance(payload, PullRequestReviewPayload):
        user = payload.review.user
    elif isinstance(payload, PullRequestReviewCommentPayload):
        user = payload.comment.user
    else:
        raise WebhookMalformed(f"{received.spec.event} reached the follow-up job")
    if user is None or payload.repository is None:
        raise WebhookMalformed(f"{received.spec.event} without a reviewer or repository")
    installation = received.spec.installation_id or (
        payload.installation.id if payload.installation else None
    )
    if installation is None:
        raise WebhookMalformed(f"{received.spec.event} without an installation")
    return FollowupRequest(
        job_id=received.spec.job_id,
        installation_id=installation,
        owner=payload.repository.owner.login,
        repo=payload.repository.name,
        number=payload.pull_request.number,
        reviewer=user.login,
        reviewer_is_bot=user.is_bot,
    )


async def follow_up_review(deps: Deps, received: Received) -> JobResult:
    """Address the review on the App's pull request (see `bot.flows.followup`)."""
    request = _request(received)
    log.info("follow-up requested", extra={"pr": request.number, "reviewer": request.reviewer})
    return await follow_up(deps, request)


JOBS = (job(follow_up_review),)
