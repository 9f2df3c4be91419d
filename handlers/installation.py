"""The App installed, removed, or given other repositories: bookkeeping only."""

from __future__ import annotations

import logging
from typing import Final

from bot.deps import Deps
from bot.errors import WebhookMalformed
from bot.events import (
    Event,
    InstallationPayload,
    JobResult,
    Received,
    RouteContext,
    Routed,
    expect,
    get_int,
    job,
    spec_for,
)

__all__ = ["JOBS", "route"]

log = logging.getLogger("ambient.handlers.installation")

EVENTS: Final = frozenset({"installation", "installation_repositories"})


def route(event: Event, context: RouteContext) -> Routed | None:
    """Every installation change becomes one bookkeeping job."""
    if event.name not in EVENTS:
        return None
    installation_id = get_int(event.payload, "installation", "id")
    if installation_id is None:
        return Routed.ignore(f"{event.full_name} has no installation id")
    job_id = f"installation:{installation_id}:{event.delivery_id}"
    return Routed(jobs=(spec_for(event, "installation_changed", job_id),))


def _names(entries: list[dict[str, object]] | None) -> list[str]:
    return sorted(str(e.get("full_name")) for e in entries or [] if e.get("full_name"))


async def installation_changed(deps: Deps, received: Received) -> JobResult:
    """Keep the set of installed repositories in Redis (the weekly sweep iterates it)."""
    payload = expect(received, InstallationPayload)
    if payload.installation is None:
        raise WebhookMalformed(f"{received.spec.event} has no installation")
    key = f"ambient:installation:{payload.installation.id}:repos"
    added = _names(payload.repositories) + _names(payload.repositories_added)
    removed = _names(payload.repositories_removed)
    async with deps.redis.pipeline(transaction=True) as pipe:
        if payload.action == "deleted":
            pipe.delete(key)
        else:
            if added:
                pipe.sadd(key, *added)
            if removed:
                pipe.srem(key, *removed)
        await pipe.execute()
    log.info(
        "installation changed",
        extra={"action": payload.action, "added": len(added), "removed": len(removed)},
    )
    return {"status": "done", "action": payload.action, "added": added, "removed": removed}


JOBS = (job(installation_changed),)
