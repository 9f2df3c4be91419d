"""Receiver → Redis → arq worker, for real: each job parses its payload and logs `received`."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
import redis
from arq.jobs import Job

from bot.config import load_settings
from bot.events.spec import JobSpec, deserialize
from bot.ingress.enqueue import Enqueuer
from bot.ingress.redis_pipe import PipelinedConnection
from bot.jobs.worker import create_worker
from bot.telemetry import JsonFormatter
from tests.fixtures.ingress import Receiver
from tests.fixtures.redis import RedisServer
from tests.support import free_port
from tests.webhook_corpus import selected


async def _run_worker(server: RedisServer) -> None:
    settings = load_settings({"AMBIENT_REDIS_URL": server.url})
    worker = create_worker(settings, burst=True, poll_delay=0.01, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()


async def _result(server: RedisServer, job_id: str) -> object:
    from redis.asyncio import Redis

    client = Redis.from_url(server.url)
    try:
        job = Job(job_id, client, _deserializer=deserialize)  # type: ignore[arg-type]
        return await job.result(timeout=5)
    finally:
        await client.aclose()


async def test_queued_deliveries_run_as_jobs_with_their_delivery_id_in_the_logs(
    receiver: Receiver, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    installed = selected("installation.created")
    pushed = selected("push.new-branch")
    first = receiver.deliver("installation", installed.body, "delivery-install")
    second = receiver.deliver("push", pushed.body, "delivery-push")
    (install_job,) = first.json()["queued"]
    (push_job,) = second.json()["queued"]
    with caplog.at_level(logging.INFO, logger="ambient"):
        await _run_worker(redis_server)
    install_result = await _result(redis_server, install_job)
    assert install_result == {
        "status": "done",
        "action": "created",
        "added": ["Codertocat/Hello-World"],
        "removed": [],
    }
    assert await _result(redis_server, push_job) == {"status": "done", "hot_files": 1}
    received = [r for r in caplog.records if r.getMessage() == "received"]
    lines = [json.loads(JsonFormatter().format(r)) for r in received]
    assert {line["delivery_id"] for line in lines} == {"delivery-install", "delivery-push"}
    client = redis.Redis.from_url(redis_server.url)
    members = client.smembers("ambient:installation:957387:repos")
    client.close()
    assert members == {b"Codertocat/Hello-World"}


async def test_a_job_with_a_malformed_payload_fails_in_one_line_and_is_not_retried(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_server.url)
    spec = JobSpec(
        function="fix_ci", job_id="ci:1:abc", event="check_suite.completed", delivery_id="d-broken"
    )
    async with PipelinedConnection.like(client) as connection:
        outcome = await Enqueuer(connection, delivery_ttl_s=3600).submit(
            "d-broken", [spec], json.dumps({"check_suite": {"id": 1}}).encode()
        )
    await client.aclose()
    assert outcome.queued == ("ci:1:abc",)
    with caplog.at_level(logging.INFO, logger="ambient"):
        await _run_worker(redis_server)
    result = await _result(redis_server, "ci:1:abc")
    assert result == {
        "status": "failed",
        "error": "check_suite payload: check_suite.head_sha: Field required",
    }
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert "\n" not in failures[0].getMessage()


def test_json_log_lines_carry_context_and_never_a_token() -> None:
    from bot.telemetry import bound

    token = "ghs_" + "A1b2C3d4E5f6G7h8I9j0" * 2
    logger = logging.getLogger("ambient.test")
    with bound(delivery_id="d-9", note=f"Authorization: token {token}"):
        record = logger.makeRecord(
            "ambient.test", logging.ERROR, __file__, 1, "cloned %s", (token,), None
        )
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["delivery_id"] == "d-9"
    assert token not in line
    assert "REDACTED" in entry["msg"]


def test_a_worker_that_cannot_reach_redis_says_so_in_one_line() -> None:
    env = {
        **os.environ,
        "AMBIENT_REDIS_URL": f"redis://:hunter2@127.0.0.1:{free_port()}/0",
        "AMBIENT_LOG_LEVEL": "ERROR",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("ambient: redis unreachable at redis://127.0.0.1:")
    assert "hunter2" not in done.stderr


async def test_the_worker_runs_as_many_jobs_at_once_as_configured() -> None:
    # Built inside the running loop: arq's Worker takes the current loop, and makes one
    # (never closed) when there is none.
    settings = load_settings({"AMBIENT_WORKER_MAX_JOBS": "25"})
    worker = create_worker(settings, handle_signals=False)
    assert worker.max_jobs == 25


async def test_a_job_of_a_dead_worker_runs_again_one_job_timeout_later() -> None:
    # arq keeps a taken job's in-progress lock for the longest timeout of any function + 10 s:
    # no cron or job may carry a timeout longer than the configured one.
    settings = load_settings({"AMBIENT_JOB_TIMEOUT_S": "20"})
    worker = create_worker(settings, handle_signals=False)
    assert worker.in_progress_timeout_s == 30
