"""The per-job wrapper: decode the spec, parse the payload, bind log context, classify failure.

This wrapper holds the one broad `except` in Ambient: a job that crashes is logged with its
delivery id and reported, never lost silently, and never retried blindly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from arq import Retry

from bot.deps import Deps
from bot.errors import AmbientError, GitHubRateLimited, Permanent, Retryable, WebhookMalformed
from bot.events.payloads import Payload, parse_payload
from bot.events.spec import JobSpec
from bot.telemetry import JOB_SECONDS, JOBS, bound

__all__ = ["MAX_TRIES", "JobFunction", "JobResult", "Received", "Unfinished", "expect", "job"]

log = logging.getLogger("ambient.jobs")

MAX_DEFER_S: Final = 300.0
#: arq's max_tries for every job (bot/jobs/worker.py); the last try reports instead of retrying.
MAX_TRIES: Final = 4

JobResult = dict[str, object]
JobFunction = Callable[[dict[str, Any], str, str | dict[str, Any]], Awaitable[JobResult]]


@dataclass(frozen=True, slots=True)
class Received:
    """A job's input: its spec and its typed payload."""

    spec: JobSpec
    payload: Payload


Work = Callable[[Deps, Received], Awaitable[JobResult]]
Unfinished = Callable[[Deps, Received, str], Awaitable[None]]
PayloadT = TypeVar("PayloadT", bound=Payload)


def expect(received: Received, model: type[PayloadT]) -> PayloadT:
    """The payload as `model`; a job routed the wrong event fails permanently, in one line."""
    if not isinstance(received.payload, model):
        raise WebhookMalformed(f"{received.spec.event} reached a job that expects {model.__name__}")
    return received.payload


def _defer_s(exc: Retryable, job_try: int) -> float:
    if isinstance(exc, GitHubRateLimited):
        return min(max(float(exc.retry_after_s), 1.0), MAX_DEFER_S)
    return min(5.0 * 2.0 ** max(job_try - 1, 0), MAX_DEFER_S)


async def _tell(unfinished: Unfinished | None, deps: Deps, received: Received, why: str) -> None:
    if unfinished is None:
        return
    try:
        await unfinished(deps, received, why)
    except AmbientError as exc:
        log.error("could not report the unfinished job: %s", exc)  # noqa: TRY400


def job(work: Work, *, unfinished: Unfinished | None = None) -> JobFunction:
    """Turn `work(deps, received)` into an arq job `(ctx, spec_json, body) -> dict`.

    `unfinished(deps, received, why)` tells the user when the job ends without its own report:
    it crashed, or a transient failure outlasted its last try. Never silence.
    """
    name = work.__name__

    async def run(ctx: dict[str, Any], spec_json: str, body: str | dict[str, Any]) -> JobResult:
        spec = JobSpec.from_json(spec_json)
        started = time.monotonic()
        job_try = int(ctx.get("job_try", 1))
        with bound(
            delivery_id=spec.delivery_id,
            job_id=spec.job_id,
            job=name,
            repository=spec.repository,
            installation_id=spec.installation_id,
        ):
            outcome = "crashed"
            received: Received | None = None
            try:
                payload = parse_payload(spec.event.split(".")[0], body)
                received = Received(spec, payload)
                log.info("received", extra={"event": spec.event, "try": job_try})
                result = await work(ctx["deps"], received)
            except Retryable as exc:
                if job_try < MAX_TRIES:
                    outcome = "retry"
                    defer = _defer_s(exc, job_try)
                    log.warning("retrying in %.0fs: %s", defer, exc)
                    raise Retry(defer=defer) from exc
                outcome = "failed"
                log.error("gave up after %d tries: %s", job_try, exc)  # noqa: TRY400
                if received is not None:
                    await _tell(unfinished, ctx["deps"], received, f"{exc} (after {job_try} tries)")
                return {"status": "failed", "error": str(exc)}
            except Permanent as exc:
                outcome = "failed"
                # One line, no traceback: a permanent failure is an expected outcome.
                log.error("failed: %s", exc)  # noqa: TRY400
                return {"status": "failed", "error": str(exc)}
            except Exception as exc:  # the one broad catch: see the module docstring
                log.exception("crashed: %s", type(exc).__name__)
                if received is not None:
                    why = (
                        f"an internal error ({type(exc).__name__}) stopped the job; the worker's "
                        f"log has it under delivery {spec.delivery_id}"
                    )
                    await _tell(unfinished, ctx["deps"], received, why)
                return {"status": "crashed", "error": f"{type(exc).__name__}: {exc}"}
            else:
                outcome = str(result.get("status", "done"))
                return result
            finally:
                JOBS.labels(job=name, outcome=outcome).inc()
                JOB_SECONDS.labels(job=name, outcome=outcome).observe(time.monotonic() - started)

    run.__name__ = name
    run.__qualname__ = name
    run.__doc__ = work.__doc__
    return run
