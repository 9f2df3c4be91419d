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
from bot.errors import GitHubRateLimited, Permanent, Retryable, WebhookMalformed
from bot.payloads import Payload, parse_payload
from bot.queue import JobSpec
from bot.telemetry import JOB_SECONDS, JOBS, bound

__all__ = ["JobFunction", "JobResult", "Received", "expect", "job"]

log = logging.getLogger("ambient.jobs")

MAX_DEFER_S: Final = 300.0

JobResult = dict[str, object]
JobFunction = Callable[[dict[str, Any], str, str], Awaitable[JobResult]]


@dataclass(frozen=True, slots=True)
class Received:
    """A job's input: its spec and its typed payload."""

    spec: JobSpec
    payload: Payload


Work = Callable[[Deps, Received], Awaitable[JobResult]]
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


def job(work: Work) -> JobFunction:
    """Turn `work(deps, received)` into an arq job `(ctx, spec_json, body) -> dict`."""
    name = work.__name__

    async def run(ctx: dict[str, Any], spec_json: str, body: str) -> JobResult:
        spec = JobSpec.from_json(spec_json)
        started = time.monotonic()
        with bound(
            delivery_id=spec.delivery_id,
            job_id=spec.job_id,
            job=name,
            repository=spec.repository,
            installation_id=spec.installation_id,
        ):
            outcome = "crashed"
            try:
                payload = parse_payload(spec.event.split(".")[0], body)
                log.info("received", extra={"event": spec.event, "try": ctx.get("job_try", 1)})
                result = await work(ctx["deps"], Received(spec, payload))
            except Retryable as exc:
                outcome = "retry"
                defer = _defer_s(exc, int(ctx.get("job_try", 1)))
                log.warning("retrying in %.0fs: %s", defer, exc)
                raise Retry(defer=defer) from exc
            except Permanent as exc:
                outcome = "failed"
                # One line, no traceback: a permanent failure is an expected outcome.
                log.error("failed: %s", exc)  # noqa: TRY400
                return {"status": "failed", "error": str(exc)}
            except Exception as exc:
                log.exception("crashed: %s", type(exc).__name__)
                return {"status": "crashed", "error": f"{type(exc).__name__}: {exc}"}
            else:
                outcome = str(result.get("status", "done"))
                return result
            finally:
                JOBS.labels(job=name, outcome=outcome).inc()
                JOB_SECONDS.labels(job=name).observe(time.monotonic() - started)

    run.__name__ = name
    run.__qualname__ = name
    run.__doc__ = work.__doc__
    return run
