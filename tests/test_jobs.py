"""The per-job wrapper: failures are classified, and a job that cannot report is reported."""

from __future__ import annotations

import json

import pytest
from arq import Retry

from bot.errors import Permanent, Retryable
from bot.events.job import MAX_TRIES, JobResult, Received, job
from bot.events.spec import JobSpec
from tests.webhook_corpus import selected

SPEC = JobSpec("work", "comment:1:2", "issue_comment.created", "delivery-7").to_json()
BODY = selected("issue_comment.created.on_issue").body.decode()


def _wrapped(error: Exception, told: list[str]):  # type: ignore[no-untyped-def]
    async def work(deps: object, received: Received) -> JobResult:
        raise error

    async def unfinished(deps: object, received: Received, why: str) -> None:
        told.append(why)

    return job(work, unfinished=unfinished)  # type: ignore[arg-type]


async def test_a_crash_is_reported_in_one_line_naming_the_delivery() -> None:
    told: list[str] = []
    result = await _wrapped(KeyError("x"), told)({"deps": None, "job_try": 1}, SPEC, BODY)
    assert result["status"] == "crashed"
    (why,) = told
    assert "KeyError" in why
    assert "delivery-7" in why
    assert "\n" not in why


async def test_a_transient_failure_retries_until_the_last_try_then_is_reported() -> None:
    told: list[str] = []
    run = _wrapped(Retryable("GitHub answered 502"), told)
    with pytest.raises(Retry):
        await run({"deps": None, "job_try": MAX_TRIES - 1}, SPEC, BODY)
    assert told == []
    result = await run({"deps": None, "job_try": MAX_TRIES}, SPEC, BODY)
    assert result == {"status": "failed", "error": "GitHub answered 502"}
    assert told == [f"GitHub answered 502 (after {MAX_TRIES} tries)"]


async def test_a_permanent_failure_is_the_jobs_own_report() -> None:
    told: list[str] = []
    result = await _wrapped(Permanent("no access"), told)({"deps": None, "job_try": 1}, SPEC, BODY)
    assert result == {"status": "failed", "error": "no access"}
    assert told == []
    assert json.loads(SPEC)["delivery_id"] == "delivery-7"
