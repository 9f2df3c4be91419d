"""What became of Ambient's PRs: one closed (merged or not) or reopened, and a revert of one
of its merged commits pushed to the default branch."""

from __future__ import annotations

import logging

from bot.deps import Deps
from bot.errors import ConfigError, WebhookMalformed
from bot.events import (
    Event,
    JobResult,
    JobSpec,
    PushPayload,
    Received,
    RouteContext,
    Routed,
    expect,
    get_int,
    get_str,
    job,
    spec_for,
)
from bot.flows.fix import PERMISSIONS
from bot.flows.outcomes import record_pull_event, record_reverts, reverted_shas
from bot.github import InstallationClient

__all__ = ["JOBS", "revert_specs", "route"]

log = logging.getLogger("ambient.handlers.outcomes")


def route(event: Event, context: RouteContext) -> Routed | None:
    """`pull_request.closed` and `.reopened` of a PR the App opened."""
    if event.name != "pull_request":
        return None
    if event.action not in ("closed", "reopened"):
        return Routed.ignore(f"pull_request.{event.action} is not acted on")
    if get_str(event.payload, "pull_request", "user", "login") != context.bot_login:
        return Routed.ignore("the pull request is not Ambient's")
    repo_id = get_int(event.payload, "repository", "id")
    number = get_int(event.payload, "pull_request", "number")
    if repo_id is None or number is None:
        return Routed.ignore("pull_request has no repository or number")
    # One job per PR and transition: the same close delivered twice (or redelivered) has the
    # same time, so it is one job and one comment; a later close of the reopened PR is another.
    when = get_str(event.payload, "pull_request", "closed_at") if event.action == "closed" else ""
    when = when or get_str(event.payload, "pull_request", "updated_at") or event.delivery_id
    job_id = f"outcome:{repo_id}:{number}:{event.action}:{when}"
    return Routed(jobs=(spec_for(event, "pull_request_outcome", job_id, number=str(number)),))


def revert_specs(event: Event) -> tuple[JobSpec, ...]:
    """The job that records reverts, for a push to the default branch whose commits revert
    something (handlers.sweep routes the push)."""
    commits = event.payload.get("commits") if isinstance(event.payload, dict) else None
    messages = [str(c.get("message") or "") for c in commits or [] if isinstance(c, dict)]
    if not reverted_shas(messages):
        return ()
    repo_id = get_int(event.payload, "repository", "id")
    after = get_str(event.payload, "after")
    return (spec_for(event, "note_reverts", f"reverts:{repo_id}:{after}"),)


async def _client(deps: Deps, received: Received) -> InstallationClient:
    payload = received.payload
    if payload.repository is None or payload.installation is None:
        raise WebhookMalformed(f"{received.spec.event} names no repository or installation")
    if deps.github is None:
        raise ConfigError("AMBIENT_GITHUB_APP_ID and the App's private key are not set")
    owner, name = payload.repository.full_name.split("/", 1)
    return await deps.github.installation_client(payload.installation.id, owner, name, PERMISSIONS)


async def pull_request_outcome(deps: Deps, received: Received) -> JobResult:
    """Count a maintainer's decision on one of Ambient's PRs; a PR closed unmerged gets the
    one comment that says it is not proposed again and how to undo that."""
    gh = await _client(deps, received)
    number = int(received.spec.option("number", "0") or 0)
    action = received.payload.action or ""
    result = await record_pull_event(gh, number, action)
    log.info("pull request outcome", extra={"number": number, **result})
    return result


async def note_reverts(deps: Deps, received: Received) -> JobResult:
    """Mark the merged Ambient PRs a push to the default branch reverts."""
    payload = expect(received, PushPayload)
    gh = await _client(deps, received)
    messages = [str(c.get("message") or "") for c in payload.commits]
    return await record_reverts(gh, messages)


JOBS = (job(pull_request_outcome), job(note_reverts))
