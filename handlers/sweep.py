"""Quality sweeps: pushes to the default branch mark hot files; the dashboard issue's boxes."""

from __future__ import annotations

import hashlib
import logging
from typing import Final

from bot.deps import Deps
from bot.events import Event, get_bool, get_int, get_str
from bot.jobs import JobResult, Received, expect, job
from bot.payloads import IssueCommentPayload, IssuesPayload, PushPayload
from bot.routing import RouteContext, Routed, spec_for

__all__ = ["DASHBOARD_TITLE", "JOBS", "route"]

log = logging.getLogger("ambient.handlers.sweep")

DASHBOARD_TITLE: Final = "Ambient quality dashboard"


def _route_push(event: Event) -> Routed:
    default = get_str(event.payload, "repository", "default_branch")
    ref = get_str(event.payload, "ref") or ""
    if default is None or ref != f"refs/heads/{default}":
        return Routed.ignore("push is not to the default branch")
    if get_bool(event.payload, "deleted"):
        return Routed.ignore("push deletes the branch")
    repo_id = get_int(event.payload, "repository", "id")
    after = get_str(event.payload, "after")
    if repo_id is None or not after:
        return Routed.ignore("push has no repository or after sha")
    return Routed(jobs=(spec_for(event, "note_push", f"push:{repo_id}:{after}"),))


def _route_dashboard(event: Event, context: RouteContext) -> Routed:
    if event.action != "edited":
        return Routed.ignore(f"issues.{event.action} is not acted on")
    is_dashboard = get_str(event.payload, "issue", "title") == DASHBOARD_TITLE and (
        get_str(event.payload, "issue", "user", "login") == context.bot_login
    )
    if not is_dashboard:
        return Routed.ignore("edited issue is not the quality dashboard")
    repo_id = get_int(event.payload, "repository", "id")
    number = get_int(event.payload, "issue", "number")
    if repo_id is None or number is None:
        return Routed.ignore("issue has no repository or number")
    body = get_str(event.payload, "issue", "body") or ""
    # The same edited state, delivered twice or edited back and forth, is one job.
    state = hashlib.sha256(body.encode()).hexdigest()[:16]
    job_id = f"dashboard:{repo_id}:{number}:{state}"
    return Routed(jobs=(spec_for(event, "dashboard_edited", job_id, number=str(number)),))


def route(event: Event, context: RouteContext) -> Routed | None:
    """Pushes to the default branch and edits of the dashboard issue."""
    if event.name == "push":
        return _route_push(event)
    if event.name == "issues":
        return _route_dashboard(event, context)
    return None


async def note_push(deps: Deps, received: Received) -> JobResult:
    """Record the files a push to the default branch changed: the next sweep looks there first."""
    payload = expect(received, PushPayload)
    files: set[str] = set()
    for commit in payload.commits:
        for key in ("added", "modified"):
            changed = commit.get(key)
            if isinstance(changed, list):
                files.update(str(path) for path in changed)
    repository = payload.repository.full_name if payload.repository else "unknown"
    if files:
        key = f"ambient:hot:{repository}"
        async with deps.redis.pipeline(transaction=True) as pipe:
            for path in files:
                pipe.zincrby(key, 1.0, path)
            pipe.expire(key, 30 * 24 * 3600)
            await pipe.execute()
    log.info("push noted", extra={"after": payload.after, "files": len(files)})
    return {"status": "done", "hot_files": len(files)}


async def sweep_repo(deps: Deps, received: Received) -> JobResult:
    """Run the quality sweep on the repository's default branch."""
    payload = received.payload
    repository = payload.repository.full_name if payload.repository else None
    trigger = received.spec.option("trigger", "cron")
    if isinstance(payload, IssueCommentPayload):
        log.info("sweep requested", extra={"trigger": trigger, "by": payload.comment.user.login})
    return {"status": "received", "repository": repository, "trigger": trigger}


async def dashboard_edited(deps: Deps, received: Received) -> JobResult:
    """Open the PRs whose boxes a maintainer ticked on the dashboard issue."""
    payload = expect(received, IssuesPayload)
    ticked = (payload.issue.body or "").count("- [x]")
    log.info("dashboard edited", extra={"issue": payload.issue.number, "ticked": ticked})
    return {"status": "received", "ticked": ticked}


JOBS = (job(note_push), job(sweep_repo), job(dashboard_edited))
