"""`@<app-slug> fix this | fix <instructions> | sweep | help` in a PR or issue comment."""

from __future__ import annotations

import logging
from typing import Final

from bot.deps import Deps
from bot.errors import ConfigError, WebhookMalformed
from bot.events import (
    Event,
    IssueCommentPayload,
    JobResult,
    Received,
    Repository,
    RouteContext,
    Routed,
    expect,
    get_int,
    get_obj,
    get_str,
    job,
    spec_for,
)
from bot.flows import FixRequest, fix_pull_request, report_fix_unfinished
from bot.github import hidden_marker
from handlers.commands import parse_command
from handlers.help_text import help_reply

__all__ = ["JOBS", "comment_by_bot", "fix_pr", "reply_help", "route"]

log = logging.getLogger("ambient.handlers.comment")

_HELP_PERMISSIONS: Final = {"issues": "write", "pull_requests": "write", "metadata": "read"}


def route(event: Event, context: RouteContext) -> Routed | None:
    """Route an issue comment that addresses the App to the job its command asks for."""
    if event.name != "issue_comment":
        return None
    if event.action != "created":
        return Routed.ignore(f"issue_comment.{event.action} is not acted on")
    command = parse_command(get_str(event.payload, "comment", "body") or "", context.app_slug)
    if command is None:
        return Routed.ignore(f"comment does not address @{context.app_slug}")
    repo_id = get_int(event.payload, "repository", "id")
    comment_id = get_int(event.payload, "comment", "id")
    number = get_int(event.payload, "issue", "number")
    if repo_id is None or comment_id is None or number is None:
        return Routed.ignore("comment has no repository, comment id or issue number")
    job_id = f"comment:{repo_id}:{comment_id}"
    on_pr = get_obj(event.payload, "issue", "pull_request") is not None
    if command.kind == "fix" and on_pr:
        spec = spec_for(
            event, "fix_pr", job_id, number=str(number), instructions=command.instructions
        )
    elif command.kind == "sweep":
        spec = spec_for(event, "sweep_repo", job_id, number=str(number), trigger="comment")
    else:
        note = "" if command.kind == "help" else f"unknown command: {command.text[:80]}"
        spec = spec_for(event, "reply_help", job_id, number=str(number), note=note)
    return Routed(jobs=(spec,))


def _fix_request(received: Received) -> FixRequest:
    payload = expect(received, IssueCommentPayload)
    spec = received.spec
    repository = _repository(payload)
    return FixRequest(
        job_id=spec.job_id,
        installation_id=_installation(received, payload),
        owner=repository.owner.login,
        repo=repository.name,
        number=int(spec.option("number") or payload.issue.number),
        comment_id=payload.comment.id,
        commenter=payload.comment.user.login,
        commenter_is_bot=comment_by_bot(payload),
        instructions=spec.option("instructions"),
    )


async def fix_pr(deps: Deps, received: Received) -> JobResult:
    """Fix the pull request the comment is on (see `bot.flows.fix`)."""
    request = _fix_request(received)
    log.info("fix requested", extra={"pr": request.number, "commenter": request.commenter})
    return await fix_pull_request(deps, request)


async def fix_pr_unfinished(deps: Deps, received: Received, why: str) -> None:
    """Report a fix job that ended without its own report (see `bot.events.job.job`)."""
    await report_fix_unfinished(deps, _fix_request(received), why)


async def reply_help(deps: Deps, received: Received) -> JobResult:
    """Answer with the commands the App understands (once per comment)."""
    payload = expect(received, IssueCommentPayload)
    if comment_by_bot(payload):
        return {"status": "ignored", "reason": "bots get no help replies"}
    if deps.github is None:
        raise ConfigError("AMBIENT_GITHUB_APP_ID and the App's private key are not set")
    repository = _repository(payload)
    gh = await deps.github.installation_client(
        _installation(received, payload),
        repository.owner.login,
        repository.name,
        _HELP_PERMISSIONS,
    )
    body = help_reply(deps.settings.app_slug, received.spec.option("note"))
    marker = hidden_marker(f"job:{received.spec.job_id}")
    comment = await gh.find_or_create_comment(payload.issue.number, marker, body)
    return {"status": "replied", "issue": payload.issue.number, "comment": comment.id}


def _repository(payload: IssueCommentPayload) -> Repository:
    if payload.repository is None:
        raise WebhookMalformed("issue_comment without a repository")
    return payload.repository


def _installation(received: Received, payload: IssueCommentPayload) -> int:
    installation = received.spec.installation_id or (
        payload.installation.id if payload.installation else None
    )
    if installation is None:
        raise WebhookMalformed("issue_comment without an installation: is the App installed?")
    return installation


def comment_by_bot(payload: IssueCommentPayload) -> bool:
    """Whether a bot wrote the comment: bots never trigger work (DESIGN invariant 5)."""
    return payload.comment.user.is_bot


JOBS = (job(fix_pr, unfinished=fix_pr_unfinished), job(reply_help))
