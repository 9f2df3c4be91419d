"""`@<app-slug> fix this | fix <instructions> | sweep | help` in a PR or issue comment."""

from __future__ import annotations

import logging

from bot.deps import Deps
from bot.events import Event, get_int, get_obj, get_str
from bot.jobs import JobResult, Received, expect, job
from bot.payloads import IssueCommentPayload
from bot.routing import RouteContext, Routed, spec_for
from handlers.commands import parse_command

__all__ = ["JOBS", "fix_pr", "reply_help", "route"]

log = logging.getLogger("ambient.handlers.comment")


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
    elif command.kind == "fix":
        spec = spec_for(
            event, "reply_help", job_id, number=str(number), note="fix works on pull requests"
        )
    elif command.kind == "sweep":
        spec = spec_for(event, "sweep_repo", job_id, number=str(number), trigger="comment")
    else:
        note = "" if command.kind == "help" else f"unknown command: {command.text[:80]}"
        spec = spec_for(event, "reply_help", job_id, number=str(number), note=note)
    return Routed(jobs=(spec,))


async def fix_pr(deps: Deps, received: Received) -> JobResult:
    """Fix the pull request the comment is on."""
    payload = expect(received, IssueCommentPayload)
    log.info(
        "fix requested",
        extra={"pr": payload.issue.number, "commenter": payload.comment.user.login},
    )
    return {"status": "received", "pr": payload.issue.number}


async def reply_help(deps: Deps, received: Received) -> JobResult:
    """Answer with the commands the App understands."""
    payload = expect(received, IssueCommentPayload)
    log.info("help requested", extra={"issue": payload.issue.number})
    return {"status": "received", "issue": payload.issue.number}


JOBS = (job(fix_pr), job(reply_help))
