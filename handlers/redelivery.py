"""The redelivery cron: ask GitHub again for webhook deliveries that never reached the receiver.

GitHub does not redeliver a failed delivery by itself and keeps it for three days. Every
`AMBIENT_REDELIVERY_INTERVAL_MIN` minutes this cron reads the App's delivery log back to its
checkpoint, asks once for each guid that has no successful attempt, and keeps what it asked and
the new checkpoint in Redis. The rules are `bot.flows.redelivery`'s (its docstring says why);
this module only reads, asks, and writes. A redelivery keeps its guid, and the receiver
drops a guid it has accepted before, so asking is always safe.

A failure (GitHub refuses the list, a rate limit, GitHub down) is logged in one line and ends
the run; the checkpoint stays where it was and the next run picks up from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import LockNotOwnedError

from bot.deps import Deps
from bot.errors import GitHubError, Retryable
from bot.events import JobResult
from bot.flows import (
    MAX_ASKS,
    RETENTION_S,
    Asked,
    Checkpoint,
    horizon,
    keep_paging,
    plan,
    unsettled,
)
from bot.github import Delivery, GitHubApp
from bot.telemetry import REDELIVERIES, bound

__all__ = [
    "ASKED_PREFIX",
    "CHECKPOINT_KEY",
    "RUN_TIMEOUT_S",
    "redeliver_failed",
    "redeliver_once",
]

log = logging.getLogger("ambient.handlers.redelivery")

CHECKPOINT_KEY: Final = "ambient:redelivery:checkpoint"
ASKED_PREFIX: Final = "ambient:redelivery:asked:"
LOCK_KEY: Final = "ambient:redelivery:lock"
#: The cron's time limit (bot/jobs/worker.py); the lock outlives it a little, so runs never overlap.
RUN_TIMEOUT_S: Final = 600
PER_PAGE: Final = 100
#: 30,000 deliveries; a run that stops here does not move the checkpoint (see `_listed`).
MAX_PAGES: Final = 300


async def _listed(github: GitHubApp, since: float) -> tuple[list[Delivery], bool]:
    """The log's attempts back to `since`, and whether the read got there."""
    found: list[Delivery] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page, cursor = await github.deliveries(cursor, PER_PAGE)
        found.extend(page)
        if not keep_paging(page, cursor, since):
            return found, True
    # Older failures were not seen: the checkpoint must not pass them.
    log.warning("the delivery log was read for %d pages only; the checkpoint stays", MAX_PAGES)
    return found, False


async def _records(redis: Redis, guids: list[str]) -> dict[str, Asked]:
    if not guids:
        return {}
    raw = await redis.mget([ASKED_PREFIX + guid for guid in guids])
    return {guid: Asked.from_json(text) for guid, text in zip(guids, raw, strict=True) if text}


async def _load_checkpoint(redis: Redis) -> Checkpoint | None:
    raw = await redis.get(CHECKPOINT_KEY)
    return Checkpoint.from_json(raw) if raw else None


async def redeliver_once(
    github: GitHubApp,
    redis: Redis,
    now: float,
    max_asks: int = MAX_ASKS,
    timeout_s: float = RUN_TIMEOUT_S,
) -> JobResult:
    """One run, at most `timeout_s` long (the run lock outlives it): read the log, ask for what
    the plan says, keep the records and the checkpoint.

    Returns the figures of the run; `status` is "failed" when GitHub or the time limit stopped
    it. Each ask is recorded as it is made, so a stopped run loses nothing.
    """
    try:
        async with asyncio.timeout(timeout_s):
            return await _run(github, redis, now, max_asks)
    except TimeoutError:
        log.warning(
            "a redelivery run took over %.0f s and was stopped; the next goes on", timeout_s
        )
        return {"status": "failed", "requested": 0, "error": f"over {timeout_s:.0f} s"}


async def _run(github: GitHubApp, redis: Redis, now: float, max_asks: int) -> JobResult:
    checkpoint = await _load_checkpoint(redis)
    try:
        listed, complete = await _listed(github, horizon(checkpoint, now))
    except (GitHubError, Retryable) as exc:
        log.warning("delivery log not read; the next run tries again: %s", exc)
        return {"status": "failed", "requested": 0, "error": str(exc)}
    decided = plan(listed, await _records(redis, unsettled(listed)), checkpoint, now, max_asks)
    requested, refused = 0, []
    for ask in decided.asks:
        try:
            await github.redeliver(ask.delivery_id)
        except Retryable as exc:
            REDELIVERIES.labels(outcome="failed").inc()
            log.warning(
                "redelivery stopped after %d requests; the next run goes on: %s", requested, exc
            )
            return {"status": "failed", "requested": requested, "error": str(exc)}
        except GitHubError as exc:
            REDELIVERIES.labels(outcome="failed").inc()
            refused.append(str(exc))
        else:
            REDELIVERIES.labels(outcome="requested").inc()
            requested += 1
        # A refused request is recorded too: it waits like a pending one, not asked every run.
        await redis.set(ASKED_PREFIX + ask.guid, ask.record.to_json(), ex=RETENTION_S)
    if refused:
        log.warning("GitHub refused %d redeliveries; the first: %s", len(refused), refused[0])
    if complete and decided.checkpoint is not None:
        await redis.set(CHECKPOINT_KEY, decided.checkpoint.to_json())
    figures: JobResult = {
        "requested": requested,
        "refused": len(refused),
        "examined": decided.examined,
        "pending": decided.pending,
        "expired": decided.expired,
        "deferred": decided.deferred,
    }
    log.info("failed deliveries examined", extra=figures)
    return {"status": "done", **figures}


@functools.cache
def _say_cannot_run() -> None:
    """Once per process: without an App the cron cannot run, and saying so each time is noise."""
    log.warning(
        "failed webhook deliveries are not redelivered: AMBIENT_GITHUB_APP_ID or the App's "
        "private key is not set"
    )


async def redeliver_failed(ctx: dict[str, Any]) -> JobResult:
    """The arq cron: ask GitHub once more for each delivery that never reached the receiver."""
    deps: Deps = ctx["deps"]
    if deps.github is None:
        _say_cannot_run()
        return {"status": "skipped", "reason": "no GitHub App is configured"}
    with bound(job="redeliver_failed"):
        lock = deps.redis.lock(LOCK_KEY, timeout=RUN_TIMEOUT_S + 10, blocking=False)
        if not await lock.acquire():
            log.info("another redelivery run is in progress")
            return {"status": "skipped", "reason": "another run is in progress"}
        try:
            return await redeliver_once(deps.github, deps.redis, time.time())
        finally:
            # Held for longer than a run may last (`redeliver_once`'s time limit).
            with contextlib.suppress(LockNotOwnedError):
                await lock.release()
