"""Deliveries missed while the receiver was down, end to end: the GitHub simulator attempts 100
webhooks while nothing listens, then real `ambient serve` and `ambient worker` processes with
a real Redis run the redelivery cron, and each of the 100 events is processed exactly once.

The cron is run the way arq runs it on schedule: its job, `cron:redeliver_failed`, is put in
the worker's queue. The worker's own schedule (here minute 0 of each hour) may fire during the
test as well; the assertions hold whichever run does the asking, as they must in production.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import redis
from arq.connections import RedisSettings, create_pool

from bot.events.spec import deserialize, serialize
from tests.fixtures.app_processes import AppProcesses, wait_until
from tests.fixtures.redis import RedisServer
from tests.sim.github_client import GitHubSim
from tests.support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.bwrap, pytest.mark.timeout(240)]

OWNER = "octo"
COUNT = 100


async def _run_cron(url: str, name: str) -> dict[str, Any]:
    """Queue the redelivery cron's job and wait for its result; again while another run holds
    the lock (the scheduled one)."""
    pool = await create_pool(
        RedisSettings.from_dsn(url), job_serializer=serialize, job_deserializer=deserialize
    )
    try:
        for attempt in range(10):
            job = await pool.enqueue_job(
                "cron:redeliver_failed", _job_id=f"cron:redeliver_failed:e2e:{name}:{attempt}"
            )
            assert job is not None
            result: dict[str, Any] = await job.result(timeout=120, poll_delay=0.1)
            if result["status"] != "skipped":
                return result
            await asyncio.sleep(1)
    finally:
        await pool.aclose()
    pytest.fail("the redelivery cron was skipped ten times")


def _attempts(sim: GitHubSim) -> dict[str, list[int]]:
    """Status codes of each guid's attempts, oldest first."""
    seen: dict[str, list[int]] = {}
    for delivery in reversed(sim.deliveries()):
        seen.setdefault(delivery["guid"], []).append(delivery["status_code"])
    return seen


def _processed(app: AppProcesses) -> Counter[str]:
    """Delivery ids of the installation jobs the worker finished, from its JSON log lines."""
    done: Counter[str] = Counter()
    for line in app.log_path.read_text(errors="replace").splitlines():
        if '"installation changed"' not in line:
            continue
        entry = json.loads(line)
        if entry.get("msg") == "installation changed":
            done[str(entry["delivery_id"])] += 1
    return done


def test_deliveries_missed_while_the_receiver_was_down_are_each_processed_once(
    github_sim: GitHubSim, redis_server: RedisServer, app_factory: Callable[..., AppProcesses]
) -> None:
    app = app_factory("bwrap", {"AMBIENT_REDELIVERY_INTERVAL_MIN": "60"})
    repo = github_sim.create_repo(OWNER, "hooks", files={"a.txt": "a\n"})
    # The receiver is down: nothing listens where GitHub sends the webhooks.
    github_sim.set_webhook(f"http://127.0.0.1:{free_port()}/webhook")
    guids = [github_sim.emit("installation_repositories", owner=OWNER) for _ in range(COUNT)]
    assert len(set(guids)) == COUNT
    assert all(codes == [0] for codes in _attempts(github_sim).values())

    # A run while it is still down: each guid is asked for, and each redelivery fails too.
    down = asyncio.run(_run_cron(redis_server.url, "down"))
    assert down["status"] == "done"
    attempts = _attempts(github_sim)
    assert all(len(attempts[g]) >= 2 for g in guids)
    assert not any(200 <= code < 300 for codes in attempts.values() for code in codes)

    github_sim.set_webhook(f"{app.url}/webhook")
    back = asyncio.run(_run_cron(redis_server.url, "back"))
    assert back["status"] == "done"
    wait_until(lambda: len(_processed(app)) == COUNT, "the 100 events processed", app, 120)
    assert set(_processed(app)) == set(guids)

    # Nothing is left to ask for: a further run asks nothing, and GitHub sends nothing more.
    before = len(github_sim.deliveries())
    again = asyncio.run(_run_cron(redis_server.url, "again"))
    assert (again["status"], again["requested"]) == ("done", 0)
    assert len(github_sim.deliveries()) == before

    attempts = _attempts(github_sim)
    successes = {g: [c for c in attempts[g] if 200 <= c < 300] for g in guids}
    assert all(codes == [202] for codes in successes.values()), successes
    assert all(count == 1 for count in _processed(app).values())
    client = redis.Redis.from_url(redis_server.url)
    try:
        key = f"ambient:installation:{repo.installation_id}:repos"
        assert client.smembers(key) == {f"{OWNER}/hooks".encode()}
    finally:
        client.close()
