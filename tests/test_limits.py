"""`limits.jobs_per_user_per_day`: the pure decision, the Redis counter, and the fix flow's
refusal against the GitHub simulator and a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio

from bot.config import load_settings
from bot.deps import Deps
from bot.flows.fix import fix_pull_request
from bot.flows.limits import KEEP_S, count_job, day_key, decide, job_key, limit_reply
from bot.flows.sweep import SweepRequest, sweep_repository
from bot.github.client import GitHubApp
from tests.fixtures.redis import RedisServer
from tests.sim.github_client import GitHubSim
from tests.test_flow_fix import NAME, OWNER, _comment, _request, _setup

NOON = datetime(2026, 3, 4, 12, 30, tzinfo=UTC)


def test_the_limit_admits_up_to_its_number_and_resets_at_the_next_utc_midnight() -> None:
    assert decide(10, 10, NOON).allowed
    over = decide(11, 10, NOON)
    assert not over.allowed
    assert over.resets_at == datetime(2026, 3, 5, tzinfo=UTC)
    assert decide(0, 1, NOON).allowed
    reply = limit_reply("maint", over)
    assert "\n" not in reply
    assert "limit of 10 jobs a day" in reply
    assert "2026-03-05 00:00 UTC" in reply


def test_keys_name_the_repository_the_user_and_the_day() -> None:
    key = day_key("Octo/Flow", "Maint", date(2026, 3, 4))
    assert key == "ambient:limit:octo/flow:maint:2026-03-04"
    assert job_key("comment:1:7") == "ambient:limit:job:comment:1:7"


async def test_a_job_counts_once_however_often_it_is_retried(redis_server: RedisServer) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        first = await count_job(client, "octo/flow", "maint", "job-1", 2, NOON)
        again = await count_job(client, "octo/flow", "maint", "job-1", 2, NOON)
        second = await count_job(client, "octo/flow", "maint", "job-2", 2, NOON)
        third = await count_job(client, "octo/flow", "maint", "job-3", 2, NOON)
        other = await count_job(client, "octo/flow", "someone", "job-4", 2, NOON)
        key = day_key("octo/flow", "maint", NOON.date())
        assert [a.count for a in (first, again, second, third, other)] == [1, 1, 2, 3, 1]
        assert [a.allowed for a in (first, again, second, third)] == [True, True, True, False]
        assert other.allowed
        assert await client.get(key) == b"3"
        assert 0 < await client.ttl(key) <= KEEP_S
        assert 0 < await client.ttl(job_key("job-1")) <= KEEP_S
    finally:
        await client.aclose()


@pytest.fixture
async def deps(
    github_sim: GitHubSim, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[Deps]:
    """No model and no sandbox: a refused job must never reach them."""
    settings = load_settings(
        {
            "AMBIENT_APP_SLUG": github_sim.app.slug,
            "AMBIENT_WORKSPACE_ROOT": str(tmp_path / "workspaces"),
        }
    )
    client = redis.asyncio.Redis.from_url(redis_server.url)
    app = GitHubApp(
        app_id=github_sim.app.id,
        private_key=github_sim.app.private_key_pem,
        base_url=github_sim.api_url,
        app_slug=github_sim.app.slug,
        redis=client,
    )
    try:
        yield Deps(settings, client, app)
    finally:
        await app.aclose()
        await client.aclose()


async def test_a_fix_over_the_days_limit_gets_one_polite_reply_and_nothing_else(
    deps: Deps, github_sim: GitHubSim, tmp_path: Path
) -> None:
    number, installation = _setup(github_sim, tmp_path)
    comment = _comment(github_sim, number)
    # Ten jobs already ran today (the default limit); a test at midnight may see the next day.
    today = datetime.now(UTC).date()
    for day in (today, today + timedelta(days=1)):
        await deps.redis.set(day_key(f"{OWNER}/{NAME}", "maint", day), 10)
    request = _request(number, installation, comment_id=comment)
    first = await fix_pull_request(deps, request)
    retried = await fix_pull_request(deps, request)
    assert first["status"] == retried["status"] == "refused"
    assert first["reason"] == "daily job limit"
    assert first["count"] == retried["count"] == 11
    state = github_sim.repo_state(OWNER, NAME)
    replies = [c for c in state["comments"] if str(c["user"]).endswith("[bot]")]
    assert len(replies) == 1
    assert "limit of 10 jobs a day" in replies[0]["body"]
    assert not state["check_runs"]
    assert not [p for p in state["pulls"] if p["head"].startswith("ambient/")]


async def test_a_sweep_asked_for_over_the_limit_is_refused_once_and_cron_is_never_counted(
    deps: Deps, github_sim: GitHubSim, tmp_path: Path
) -> None:
    number, installation = _setup(github_sim, tmp_path)
    today = datetime.now(UTC).date()
    for day in (today, today + timedelta(days=1)):
        await deps.redis.set(day_key(f"{OWNER}/{NAME}", "maint", day), 10)
    asked = SweepRequest(
        "comment:2", installation, OWNER, NAME, trigger="comment", requester="maint", number=number
    )
    first = await sweep_repository(deps, asked)
    retried = await sweep_repository(deps, asked)
    assert first == retried == {"status": "refused", "reason": "daily job limit", "count": 11}
    replies = [
        c
        for c in github_sim.repo_state(OWNER, NAME)["comments"]
        if str(c["user"]).endswith("[bot]")
    ]
    assert len(replies) == 1
    assert "resets at" in replies[0]["body"]
    assert not github_sim.repo_state(OWNER, NAME)["issues"]


def test_a_sweep_asked_by_comment_names_who_asked_and_where_the_cron_does_not() -> None:
    from bot.events.job import Received
    from bot.events.payloads import parse_payload
    from bot.events.spec import JobSpec
    from handlers.sweep import _sweep_request
    from tests.webhook_corpus import selected

    sample = selected("issue_comment.created.on_issue.with-installation")
    spec = JobSpec("sweep_repo", "comment:1:2", "issue_comment.created", "d", "o/r", 1)
    payload = parse_payload("issue_comment", sample.body)
    asked = _sweep_request(Received(spec, payload))
    comment = sample.payload["comment"]
    issue = sample.payload["issue"]
    assert isinstance(comment, dict)
    assert isinstance(issue, dict)
    assert asked.requester == comment["user"]["login"]
    assert asked.number == issue["number"]
    cron_body = '{"full_name": "o/r", "installation": {"id": 1}}'
    cron_spec = JobSpec("sweep_repo", "sweep:o/r:2026-W47", "sweep.cron", "cron")
    cron = _sweep_request(Received(cron_spec, parse_payload("sweep", cron_body)))
    assert (cron.requester, cron.number) == ("", 0)
