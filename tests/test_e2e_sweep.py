"""The scheduled sweep end to end: real `ambient serve` and `ambient worker` processes, the GitHub
simulator installing the App and sending a signed `issues.edited` webhook, a real Redis, the
scripted model and the bubblewrap sandbox verifying each proposal.

The daily cron defers each repository's job by up to an hour to spread the load; the test lets
that hour pass by moving the deferred job's due time in arq's queue to now. The repository keeps
the default weekly schedule, so that job claims this ISO week and sweeps.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from arq.connections import RedisSettings, create_pool

from bot.events.spec import deserialize, serialize
from bot.publish.dashboard import parse
from bot.publish.sweep import DASHBOARD_TITLE
from tests.fixtures.app_processes import AppProcesses, wait_until
from tests.fixtures.llm_sim import LLMSim
from tests.fixtures.redis import RedisServer
from tests.sim.github_client import GitHubSim
from tests.test_flow_sweep import (
    HIGH_BRANCH,
    LOW_BRANCH,
    NAME,
    OWNER,
    setup_repository,
    sweep_script,
)

pytestmark = [pytest.mark.slow, pytest.mark.bwrap, pytest.mark.timeout(240)]

QUEUE = "arq:queue"


async def _run_cron(url: str) -> None:
    """Enqueue the cron job now, as arq does every day at 06:00."""
    pool = await create_pool(
        RedisSettings.from_dsn(url), job_serializer=serialize, job_deserializer=deserialize
    )
    try:
        await pool.enqueue_job("cron:scheduled_sweep", _job_id="cron:scheduled_sweep:e2e")
    finally:
        await pool.aclose()


def _deferred_sweep(client: redis.Redis) -> bytes | None:
    members: list[bytes] = client.zrange(QUEUE, 0, -1)  # type: ignore[assignment]
    return next((m for m in members if m.startswith(b"sweep:")), None)


def _pulls(sim: GitHubSim) -> dict[str, dict[str, Any]]:
    return {p["head"]: p for p in sim.repo_state(OWNER, NAME)["pulls"]}


def _dashboard(sim: GitHubSim) -> dict[str, Any] | None:
    issues = sim.repo_state(OWNER, NAME)["issues"]
    return next((i for i in issues if i["title"] == DASHBOARD_TITLE), None)


def _tick(sim: GitHubSim, number: int, body: str) -> None:
    """A maintainer ticks the box: the body changes, and GitHub sends `issues.edited`."""
    token = sim.installation_token(OWNER, NAME)
    url = f"{sim.api_url}/repos/{OWNER}/{NAME}/issues/{number}"
    headers = {"Authorization": f"token {token}"}
    ticked = body.replace("- [ ]", "- [x]")
    httpx.patch(url, json={"body": ticked}, headers=headers, timeout=30).raise_for_status()
    changes = {"body": {"from": body}}
    sim.emit("issues", owner=OWNER, name=NAME, number=number, user="maint", changes=changes)


def test_a_cron_sweep_opens_low_risk_prs_and_a_dashboard_whose_ticked_box_opens_a_pr(
    github_sim: GitHubSim,
    llm_sim: LLMSim,
    redis_server: RedisServer,
    app_processes: AppProcesses,
    tmp_path: Path,
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    llm_sim.set_script(sweep_script())
    client = redis.Redis.from_url(redis_server.url)
    try:
        github_sim.emit("installation", owner=OWNER)
        key = f"ambient:installation:{installation}:repos"
        wait_until(
            lambda: client.sismember(key, f"{OWNER}/{NAME}"),
            "the installation bookkeeping",
            app_processes,
        )
        asyncio.run(_run_cron(redis_server.url))
        job = wait_until(lambda: _deferred_sweep(client), "the cron's sweep job", app_processes)
        client.zadd(QUEUE, {job: int(time.time() * 1000)})

        pulls = wait_until(lambda: _pulls(github_sim), "the low-risk PR", app_processes, 150)
        assert set(pulls) == {LOW_BRANCH}
        dashboard = wait_until(lambda: _dashboard(github_sim), "the dashboard", app_processes)
        assert f"(`{HIGH_BRANCH}`)" in dashboard["body"]

        _tick(github_sim, dashboard["number"], dashboard["body"])
        wait_until(lambda: HIGH_BRANCH in _pulls(github_sim), "the approved PR", app_processes, 60)
        opened = wait_until(
            lambda: parse((_dashboard(github_sim) or {}).get("body") or "")[0].pull_number,
            "the dashboard's opened mark",
            app_processes,
        )
        assert opened == _pulls(github_sim)[HIGH_BRANCH]["number"]
        # The ticked box's PR says what, why, how it was verified and its risk.
        approved = _pulls(github_sim)[HIGH_BRANCH]["body"]
        assert "**Verification** (in the sandbox, no network):" in approved
        assert "**Risk:** high" in approved
        assert len(github_sim.repo_state(OWNER, NAME)["issues"]) == 1
        # The job claimed this ISO week: the week's later cron runs find it swept.
        claims = [k.decode() for k in client.scan_iter(match="ambient:sweep:*")]
        assert len(claims) == 1
        assert claims[0].split(":")[-1].split("-W")[1].isdigit()
    finally:
        client.close()


def test_a_readers_sweep_comment_gets_one_polite_refusal_and_nothing_runs(
    github_sim: GitHubSim, llm_sim: LLMSim, app_processes: AppProcesses, tmp_path: Path
) -> None:
    setup_repository(github_sim, tmp_path)
    llm_sim.set_script(sweep_script())
    number = github_sim.create_issue(OWNER, NAME, "Please sweep", "")
    body = f"@{github_sim.app.slug} sweep"
    github_sim.emit(
        "issue_comment", owner=OWNER, name=NAME, number=number, body=body, user="reader"
    )
    bot = github_sim.app.bot_login

    def replies() -> list[dict[str, Any]]:
        comments = github_sim.repo_state(OWNER, NAME)["comments"]
        return [c for c in comments if c["user"] == bot]

    (reply,) = wait_until(replies, "the refusal", app_processes, 60)
    assert reply["body"].startswith("Sorry @reader, only people with write")
    assert llm_sim.requests() == []
    assert _pulls(github_sim) == {}
    assert not [r for r in github_sim.requests() if r["path"].startswith("/git/")]
