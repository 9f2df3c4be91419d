"""Quality sweeps: pushes to the default branch mark hot files; the dashboard issue's boxes."""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, Final

from arq.connections import ArqRedis
from redis.asyncio import Redis

from bot.deps import Deps
from bot.errors import AmbientError, WebhookMalformed
from bot.events import (
    Event,
    IssueCommentPayload,
    IssuesPayload,
    JobResult,
    JobSpec,
    PushPayload,
    Received,
    RouteContext,
    Routed,
    SweepPayload,
    expect,
    get_bool,
    get_int,
    get_str,
    job,
    spec_for,
)
from bot.flows import SweepRequest, approve_from_dashboard, sweep_repository
from bot.publish import DASHBOARD_TITLE
from handlers.comment import comment_by_bot
from handlers.outcomes import revert_specs

__all__ = [
    "DASHBOARD_TITLE",
    "JOBS",
    "installed_repositories",
    "recorded_repositories",
    "route",
    "scheduled_sweep",
    "sweep_jobs",
]

log = logging.getLogger("ambient.handlers.sweep")

#: The cron's jobs start spread over this many seconds.
SPREAD_S: Final = 3600


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
    note = spec_for(event, "note_push", f"push:{repo_id}:{after}")
    return Routed(jobs=(note, *revert_specs(event)))


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


def _sweep_request(received: Received) -> SweepRequest:
    payload = received.payload
    if isinstance(payload, SweepPayload):
        full_name, installation = payload.full_name, payload.installation.id
    elif payload.repository is not None and payload.installation is not None:
        full_name, installation = payload.repository.full_name, payload.installation.id
    else:
        raise WebhookMalformed(f"{received.spec.event} names no repository or installation")
    owner, name = full_name.split("/", 1)
    trigger = received.spec.option("trigger", "cron")
    day = received.spec.option("day")
    # A sweep someone asked for by comment counts against their daily limit; the cron's never.
    asked = payload if isinstance(payload, IssueCommentPayload) else None
    return SweepRequest(
        received.spec.job_id,
        installation,
        owner,
        name,
        trigger,
        date.fromisoformat(day) if day else None,
        requester=asked.comment.user.login if asked else "",
        number=asked.issue.number if asked else 0,
        requester_is_bot=comment_by_bot(asked) if asked else False,
    )


async def sweep_repo(deps: Deps, received: Received) -> JobResult:
    """Run the quality sweep on the repository's default branch."""
    request = _sweep_request(received)
    if isinstance(received.payload, IssueCommentPayload):
        log.info("sweep requested", extra={"by": received.payload.comment.user.login})
    return await sweep_repository(deps, request)


def _body_before(payload: IssuesPayload) -> str | None:
    """The body before the edit, as `changes.body.from` says (None: the body did not change)."""
    change = (payload.changes or {}).get("body")
    before = change.get("from") if isinstance(change, dict) else None
    return before if isinstance(before, str) else None


async def dashboard_edited(deps: Deps, received: Received) -> JobResult:
    """Open the PRs whose boxes a maintainer ticked on the dashboard issue."""
    payload = expect(received, IssuesPayload)
    if payload.repository is None or payload.installation is None or payload.sender is None:
        raise WebhookMalformed(f"{received.spec.event} names no repository, installation or sender")
    before = _body_before(payload)
    if before is None:
        return {"status": "ignored", "reason": "the edit did not change the body"}
    repository = payload.repository
    return await approve_from_dashboard(
        deps,
        payload.installation.id,
        repository.owner.login,
        repository.name,
        payload.issue.number,
        payload.sender.login,
        before,
        payload.issue.body or "",
    )


def sweep_jobs(repos: Iterable[tuple[int, str]], today: date) -> list[tuple[JobSpec, str, float]]:
    """The cron's jobs for `(installation id, full name)` pairs: (spec, body, defer seconds).

    One job per repository and day: the job reads the repository's `sweep.schedule` and sweeps
    only when that period is not swept yet (`bot.flows.schedule`). The job id names the day, so
    a second cron run on the same day (another worker, a restart) enqueues nothing new; each
    repository's start is spread over `SPREAD_S` by a stable hash of its name, so one
    installation's repositories do not all start at once.
    """
    day = today.isoformat()
    jobs: list[tuple[JobSpec, str, float]] = []
    for installation, full_name in sorted(set(repos)):
        spec = JobSpec(
            function="sweep_repo",
            job_id=f"sweep:{full_name}:{day}",
            event="sweep.cron",
            delivery_id=f"cron:{day}",
            repository=full_name,
            installation_id=installation,
            options=(("day", day), ("trigger", "cron")),
        )
        body = json.dumps({"full_name": full_name, "installation": {"id": installation}})
        jobs.append((spec, body, float(zlib.crc32(full_name.encode()) % SPREAD_S)))
    return jobs


async def installed_repositories(deps: Deps) -> list[tuple[int, str]]:
    """Every (installation id, repository) the App is installed on, as GitHub says.

    When GitHub cannot be asked (no App configured, or it fails now), the repositories the
    installation events recorded in Redis stand in, and the log says so.
    """
    if deps.github is not None:
        try:
            return [
                (installation, name)
                for installation, _ in await deps.github.installations()
                for name in await deps.github.installation_repositories(installation)
            ]
        except AmbientError as exc:
            log.warning("installations not listed by GitHub, using the recorded ones: %s", exc)
    return await recorded_repositories(deps.redis)


async def recorded_repositories(redis: Redis) -> list[tuple[int, str]]:
    """Every (installation id, repository) the installation events recorded."""
    found: list[tuple[int, str]] = []
    async for raw in redis.scan_iter(match="ambient:installation:*:repos"):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        installation = int(key.split(":")[2])
        async for name in redis.sscan_iter(key):
            found.append((installation, name.decode() if isinstance(name, bytes) else str(name)))
    return found


async def scheduled_sweep(ctx: dict[str, Any]) -> JobResult:
    """The arq cron (daily): enqueue one `sweep_repo` per installed repository for today; each
    job sweeps only when its repository's schedule is due."""
    deps: Deps = ctx["deps"]
    queue: ArqRedis = ctx["redis"]
    jobs = sweep_jobs(await installed_repositories(deps), datetime.now(UTC).date())
    enqueued = 0
    for spec, body, defer in jobs:
        made = await queue.enqueue_job(
            spec.function, spec.to_json(), body, _job_id=spec.job_id, _defer_by=defer
        )
        enqueued += made is not None
    log.info("scheduled sweeps enqueued", extra={"repositories": len(jobs), "new": enqueued})
    return {"status": "done", "repositories": len(jobs), "enqueued": enqueued}


JOBS = (job(note_push), job(sweep_repo), job(dashboard_edited))
