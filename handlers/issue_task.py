"""An issue handed to the App: `@<app-slug> <instructions>` (or `fix this`) in an issue comment
or in the body of a new issue, the issue assigned to the App, or a label (`tasks.label`; which
label is read from the repository's config by the job, since routing reads no config).

One job per issue and trigger: the comment's id, `body`, `assigned`, or the label's name.
"""

from __future__ import annotations

import logging

from bot.deps import Deps
from bot.errors import WebhookMalformed
from bot.events import (
    Event,
    IssueCommentPayload,
    IssuesPayload,
    JobResult,
    Received,
    RouteContext,
    Routed,
    expect,
    get_int,
    get_obj,
    get_str,
    job,
    spec_for,
)
from bot.flows import TaskRequest, TaskTrigger, report_task_unfinished, run_task
from handlers.commands import parse_command

__all__ = ["JOBS", "route", "task_issue"]

log = logging.getLogger("ambient.handlers.issue_task")

#: Commands that stay with handlers/comment.py wherever they are written.
_OTHER_COMMANDS = frozenset({"sweep", "help"})


def _assigned_to_app(event: Event, context: RouteContext) -> bool:
    # GitHub lets an App's bot be assigned where the App may write issues; a self-hoster may
    # also use a machine account named like the App's slug.
    login = (get_str(event.payload, "assignee", "login") or "").lower()
    return login in (context.bot_login.lower(), context.app_slug.lower())


def _from_comment(event: Event, context: RouteContext) -> Routed | None:
    if event.action != "created" or get_obj(event.payload, "issue", "pull_request") is not None:
        return None
    command = parse_command(get_str(event.payload, "comment", "body") or "", context.app_slug)
    if command is None or command.kind in _OTHER_COMMANDS:
        return None
    comment_id = get_int(event.payload, "comment", "id")
    return _spec(event, "comment", str(comment_id) if comment_id is not None else None)


def _from_issue(event: Event, context: RouteContext) -> Routed | None:
    if event.action == "opened":
        command = parse_command(get_str(event.payload, "issue", "body") or "", context.app_slug)
        if command is None or command.kind in _OTHER_COMMANDS:
            return None
        return _spec(event, "body", "body")
    if event.action == "assigned" and _assigned_to_app(event, context):
        return _spec(event, "assigned", "assigned")
    if event.action == "labeled":
        name = get_str(event.payload, "label", "name")
        if name:
            return _spec(event, "label", f"label:{name}", label=name)
    return None


def _spec(event: Event, trigger: TaskTrigger, key: str | None, **extra: str) -> Routed:
    repo_id = get_int(event.payload, "repository", "id")
    number = get_int(event.payload, "issue", "number")
    if repo_id is None or number is None or key is None:
        return Routed.ignore("issue event without repository, issue number or trigger id")
    job_id = f"task:{repo_id}:{number}:{key}"
    spec = spec_for(event, "task_issue", job_id, number=str(number), trigger=trigger, **extra)
    return Routed(jobs=(spec,))


def route(event: Event, context: RouteContext) -> Routed | None:
    """Claim the issue events that hand an issue to the App; None for every other event (the
    dashboard's edits and PR comments go on to their own routes)."""
    if event.name == "issue_comment":
        return _from_comment(event, context)
    if event.name == "issues":
        return _from_issue(event, context)
    return None


_TRIGGERS: dict[str, TaskTrigger] = {
    "comment": "comment",
    "body": "body",
    "assigned": "assigned",
    "label": "label",
}


def _request(deps: Deps, received: Received) -> TaskRequest:
    spec = received.spec
    trigger = _TRIGGERS.get(spec.option("trigger"))
    if trigger is None:
        raise WebhookMalformed(f"task job with an unknown trigger {spec.option('trigger')!r}")
    payload: IssueCommentPayload | IssuesPayload
    if trigger == "comment":
        payload = expect(received, IssueCommentPayload)
        person, comment_id = payload.comment.user, payload.comment.id
        command = parse_command(payload.comment.body, deps.settings.app_slug)
        instructions = command.instructions if command else ""
    else:
        payload = expect(received, IssuesPayload)
        sender = payload.sender if trigger != "body" else payload.issue.user
        if sender is None:
            raise WebhookMalformed(f"{spec.event} without a sender")
        person, comment_id, instructions = sender, 0, ""
    if payload.repository is None:
        raise WebhookMalformed(f"{spec.event} without a repository")
    installation = spec.installation_id or (
        payload.installation.id if payload.installation else None
    )
    if installation is None:
        raise WebhookMalformed(f"{spec.event} without an installation: is the App installed?")
    return TaskRequest(
        job_id=spec.job_id,
        installation_id=installation,
        owner=payload.repository.owner.login,
        repo=payload.repository.name,
        number=payload.issue.number,
        trigger=trigger,
        person=person.login,
        person_is_bot=person.is_bot,
        comment_id=comment_id,
        instructions=instructions,
        label=spec.option("label"),
    )


async def task_issue(deps: Deps, received: Received) -> JobResult:
    """Turn the issue into a verified pull request (see `bot.flows.task`)."""
    request = _request(deps, received)
    log.info("task requested", extra={"issue": request.number, "trigger": request.trigger})
    return await run_task(deps, request)


async def task_issue_unfinished(deps: Deps, received: Received, why: str) -> None:
    """Reply on the issue when the task ended without its own report."""
    await report_task_unfinished(deps, _request(deps, received), why)


JOBS = (job(task_issue, unfinished=task_issue_unfinished),)
