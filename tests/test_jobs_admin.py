"""`ambient jobs` against a real Redis and a real arq worker running small jobs in-process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from arq.connections import RedisSettings
from arq.jobs import JobResult as ArqResult
from arq.worker import Worker
from click.testing import CliRunner, Result

from bot.cli.main import cli
from bot.errors import Permanent, PolicyDenied
from bot.events.job import MAX_TRIES, JobResult, Received, job
from bot.events.spec import JobSpec, serialize
from bot.ingress.enqueue import Enqueuer
from bot.ingress.redis_pipe import PipelinedConnection
from bot.jobs.admin import open_store
from bot.jobs.records import JobRecord, attempt_of, finished_record, plan_retries
from bot.jobs.worker import WorkerSettings
from bot.redact import without_password
from tests.fixtures.redis import RedisServer
from tests.support import free_port

TOKEN = "ghs_" + "Zq7Xw2Vb9Nc4Md1Lk8Jh5Gf3" * 2
BODY = json.dumps({"full_name": "octo/demo", "installation": {"id": 7}}, separators=(",", ":"))
HEALED = threading.Event()
RELEASE = threading.Event()


async def greet(deps: object, received: Received) -> JobResult:
    return {"status": "done", "greeted": received.spec.repository}


async def refuse(deps: object, received: Received) -> JobResult:
    raise PolicyDenied(f"push refused with {TOKEN}\nsecond line")


async def flaky(deps: object, received: Received) -> JobResult:
    if not HEALED.is_set():
        raise Permanent("the upstream was down")
    return {"status": "done"}


async def crash(deps: object, received: Received) -> JobResult:
    raise RuntimeError(f"boom Authorization: token {TOKEN}")


async def hold(deps: object, received: Received) -> JobResult:
    while not RELEASE.is_set():
        await asyncio.sleep(0.01)
    return {"status": "ignored", "reason": "held"}


async def explode(ctx: dict[str, Any], spec_json: str, body: object) -> None:
    """A function outside the job wrapper: what it raises reaches arq, like a timeout would."""
    raise ValueError("outside the wrapper")


FUNCTIONS: list[Any] = [job(w) for w in (greet, refuse, flaky, crash, hold)] + [explode]


def _worker(url: str, **options: Any) -> Worker:
    return Worker(
        functions=FUNCTIONS,
        redis_settings=RedisSettings.from_dsn(url),
        ctx={"deps": None},
        keep_result=WorkerSettings.keep_result,
        max_tries=MAX_TRIES,
        job_serializer=WorkerSettings.job_serializer,
        job_deserializer=WorkerSettings.job_deserializer,
        poll_delay=0.01,
        handle_signals=False,
        **options,
    )


class WorkerThread:
    """A long-running arq worker on its own event loop, so the CLI can run beside it."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        # Built here: arq's Worker binds the event loop current at construction.
        worker = _worker(self._url)
        task = asyncio.create_task(worker.main())
        await self._stop.wait()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await _settle()
        await worker.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=20)
        self._loop.close()


def _spec(function: str, job_id: str) -> JobSpec:
    return JobSpec(
        function=function,
        job_id=job_id,
        event="sweep.cron",
        delivery_id=f"delivery-{job_id}",
        repository="octo/demo",
        installation_id=7,
    )


async def _enqueue(url: str, *, running: bool = True) -> None:
    """greet, refuse, flaky, crash, explode (+ hold and the deferred later:1 when `running`)."""
    from arq.connections import create_pool

    pool = await create_pool(RedisSettings.from_dsn(url), job_serializer=serialize)
    try:
        names = ("greet", "refuse", "flaky", "crash", "explode") + (("hold",) if running else ())
        specs = [_spec(name, f"{name}:1") for name in names]
        async with PipelinedConnection.like(pool) as connection:
            outcome = await Enqueuer(connection, delivery_ttl_s=3600).submit(
                "delivery-1", specs, BODY.encode()
            )
        assert len(outcome.queued) == len(names)
        if not running:
            return
        later = _spec("greet", "later:1")
        await pool.enqueue_job("greet", later.to_json(), BODY, _job_id="later:1", _defer_by=3600)
    finally:
        await pool.aclose()


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.02)


def _keys(url: str, pattern: str) -> set[str]:
    client = redis.Redis.from_url(url)
    try:
        keys: list[bytes] = client.keys(pattern)  # type: ignore[assignment]
        return {key.decode() for key in keys}
    finally:
        client.close()


def _settled(url: str) -> bool:
    results = _keys(url, "arq:result:*")
    return len(results) == 5 and "arq:in-progress:hold:1" in _keys(url, "arq:in-progress:*")


@pytest.fixture
def queue(redis_server: RedisServer) -> Iterator[str]:
    """Redis holding one job in each state: queued, running (hold:1), 4 failed, 1 done."""
    HEALED.clear()
    RELEASE.clear()
    asyncio.run(_enqueue(redis_server.url))
    worker = WorkerThread(redis_server.url)
    worker.start()
    try:
        _wait_for(lambda: _settled(redis_server.url), "the jobs to settle")
        yield redis_server.url
    finally:
        RELEASE.set()
        worker.stop()


def _jobs(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["jobs", *args], env={"AMBIENT_REDIS_URL": url})


def _rows(output: str) -> dict[str, str]:
    return {line.split()[0]: line for line in output.splitlines()[1:-1]}


def test_list_shows_every_state_with_utc_times_and_one_line_redacted_reasons(queue: str) -> None:
    result = _jobs(queue, "list")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == [
        "ID",
        "FUNCTION",
        "STATE",
        "TRIES",
        "ENQUEUED",
        "STARTED",
        "FINISHED",
        "DETAIL",
    ]
    rows = _rows(result.stdout)
    states = {job_id: row.split()[2] for job_id, row in rows.items()}
    assert states == {
        "greet:1": "done",
        "refuse:1": "failed",
        "flaky:1": "failed",
        "crash:1": "failed",
        "explode:1": "failed",
        "hold:1": "running",
        "later:1": "queued",
    }
    assert rows["refuse:1"].endswith("push refused with [REDACTED:github-token]")
    assert "RuntimeError: boom Authorization: token [REDACTED:authorization]" in rows["crash:1"]
    assert rows["explode:1"].endswith("ValueError: outside the wrapper")
    later = rows["later:1"].split()
    assert later[3:4] + later[5:8] == ["0", "-", "-", "due"]
    assert rows["hold:1"].split()[3] == "1"
    started = rows["greet:1"].split()[5]
    assert datetime.fromisoformat(started).tzinfo == UTC
    assert TOKEN not in result.output
    assert "Traceback" not in result.output
    assert result.stdout.splitlines()[-1] == (
        "7 of 7 job(s) shown; in Redis: 1 queued, 1 running, 4 failed, 1 done"
    )


def test_list_filters_by_state_and_prints_json_records(queue: str) -> None:
    failed = _jobs(queue, "list", "--state", "failed")
    assert set(_rows(failed.stdout)) == {"refuse:1", "flaky:1", "crash:1", "explode:1"}
    records = json.loads(_jobs(queue, "list", "--state", "running", "--json").stdout)
    assert [(r["id"], r["state"], r["tries"], r["started_at"]) for r in records] == [
        ("hold:1", "running", 1, None)
    ]
    assert records[0]["delivery_id"] == "delivery-hold:1"


def test_show_summarizes_the_call_and_prints_the_body_only_with_full(queue: str) -> None:
    shown = _jobs(queue, "show", "greet:1")
    assert shown.exit_code == 0
    assert "repository:      octo/demo" in shown.stdout
    assert "event:           sweep.cron" in shown.stdout
    assert "delivery id:     delivery-greet:1" in shown.stdout
    assert f"body bytes:      {len(BODY)}" in shown.stdout
    assert '"greeted":"octo/demo"' in shown.stdout
    assert BODY not in shown.stdout
    assert BODY in _jobs(queue, "show", "greet:1", "--full").stdout
    crashed = _jobs(queue, "show", "crash:1")
    assert "outcome:         crashed" in crashed.stdout
    assert TOKEN not in crashed.output
    missing = _jobs(queue, "show", "nope:1")
    assert missing.exit_code == 1
    assert missing.stderr == "ambient: no job nope:1 in Redis (results are kept for 24 h)\n"


def test_retry_failed_enqueues_each_failure_once_and_a_worker_runs_it(queue: str) -> None:
    RELEASE.set()
    _wait_for(lambda: "arq:result:hold:1" in _keys(queue, "arq:result:*"), "hold:1 to finish")
    dry = _jobs(queue, "retry-failed", "--dry-run")
    assert "would retry flaky:1 (flaky) as flaky:1:retry1" in dry.stdout
    assert dry.stdout.splitlines()[-1] == "would enqueue 4 job(s); 0 failed job(s) skipped"
    assert _keys(queue, "arq:job:*") == {"arq:job:later:1"}
    only = _jobs(queue, "retry-failed", "--function", "flaky", "--dry-run")
    assert only.stdout.splitlines()[:-1] == ["would retry flaky:1 (flaky) as flaky:1:retry1"]

    HEALED.set()
    first = _jobs(queue, "retry-failed")
    assert "retried refuse:1 (refuse) as refuse:1:retry1" in first.stdout
    _wait_for(lambda: len(_keys(queue, "arq:result:*")) == 10, "the retries to finish")
    states = {r["id"]: r for r in json.loads(_jobs(queue, "list", "--json").stdout)}
    assert states["flaky:1:retry1"]["state"] == "done"
    assert states["flaky:1"]["retried_as"] == "flaky:1:retry1"
    assert states["refuse:1:retry1"]["state"] == "failed"

    second = _jobs(queue, "retry-failed")
    assert "skipped flaky:1 (flaky): retried as flaky:1:retry1 (done)" in second.stdout
    assert "retried refuse:1:retry1 (refuse) as refuse:1:retry2" in second.stdout
    assert "skipped refuse:1 (refuse): retried as refuse:1:retry1 (failed)" in second.stdout


def test_retry_failed_twice_enqueues_no_duplicate_while_the_retry_waits(
    redis_server: RedisServer,
) -> None:
    HEALED.clear()
    asyncio.run(_enqueue(redis_server.url, running=False))
    asyncio.run(_run_burst(redis_server.url))
    first = _jobs(redis_server.url, "retry-failed")
    assert first.stdout.splitlines()[-1] == "enqueued 4 job(s); 0 failed job(s) skipped"
    second = _jobs(redis_server.url, "retry-failed")
    assert second.stdout.splitlines()[-1] == "enqueued 0 job(s); 4 failed job(s) skipped"
    assert "skipped crash:1 (crash): retried as crash:1:retry1 (queued)" in second.stdout
    assert _keys(redis_server.url, "arq:job:*") == {
        f"arq:job:{n}:1:retry1" for n in ("refuse", "flaky", "crash", "explode")
    }
    HEALED.set()
    asyncio.run(_run_burst(redis_server.url))
    shown = _jobs(redis_server.url, "show", "flaky:1")
    assert "retried as:      flaky:1:retry1" in shown.stdout
    assert "state:           done" in _jobs(redis_server.url, "show", "flaky:1:retry1").stdout


async def _run_burst(url: str) -> None:
    worker = _worker(url, burst=True)
    try:
        await worker.main()
    finally:
        await _settle()
        await worker.close()


async def _settle() -> None:
    """Let arq's own bookkeeping tasks (each job's `finish_job`) end before its pool closes: a
    burst worker returns as the queue empties, not when they are done."""
    # A task that ends may have started another (finish_job's pipeline): wait until none is
    # left, within a bound, rather than for the first set alone.
    deadline = asyncio.get_running_loop().time() + 30
    while others := [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            break
        await asyncio.wait(others, timeout=left)


def test_export_writes_every_record_atomically_and_round_trips(queue: str, tmp_path: Path) -> None:
    target = tmp_path / "jobs.json"
    target.write_text("old")
    result = _jobs(queue, "export", str(target))
    assert result.stdout == f"exported 7 job(s) to {target}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["jobs.json"]
    exported = json.loads(target.read_text())
    assert [set(item) for item in exported] == [set(exported[0])] * 7
    records = asyncio.run(_snapshot(queue))
    finished = [r for r in records if r.state in ("done", "failed")]
    loaded = {r.id: r for r in map(JobRecord.from_json, exported)}
    assert [loaded[r.id] for r in finished] == finished
    assert json.loads(_jobs(queue, "export", "-").stdout)[0]["id"] == exported[0]["id"]


def test_export_to_an_unwritable_place_is_one_line_and_leaves_nothing(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    result = _jobs(redis_server.url, "export", str(tmp_path / "missing" / "jobs.json"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"ambient: {tmp_path / 'missing' / 'jobs.json'}: cannot be")
    assert list(tmp_path.iterdir()) == []


async def _snapshot(url: str) -> list[JobRecord]:
    async with open_store(url) as store:
        return await store.snapshot()


def test_an_undecodable_record_is_listed_and_never_retried(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("arq:result:garbled", b"\x80not json")
    client.close()
    listed = _jobs(redis_server.url, "list")
    assert "garbled  ?" in listed.stdout
    assert "its stored record does not decode (JSONDecodeError)" in listed.stdout
    retried = _jobs(redis_server.url, "retry-failed")
    assert "skipped garbled (?): its definition was lost, nothing to re-run" in retried.stdout


def test_unreachable_redis_is_one_line_without_the_password_and_exit_2() -> None:
    port = free_port()
    result = _jobs(f"redis://ops:hunter2secret@127.0.0.1:{port}/0", "list")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"ambient: redis unreachable at redis://ops@127.0.0.1:{port}/0: ")
    assert "hunter2secret" not in result.output
    assert result.stdout == ""


def test_the_ambient_command_has_the_jobs_group(redis_server: RedisServer) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "jobs", "list", "--state", "failed"],
        env={**os.environ, "AMBIENT_REDIS_URL": redis_server.url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "0 of 0 job(s) shown; in Redis: 0 queued, 0 running, 0 failed, 0 done"
    )


@pytest.mark.parametrize(
    ("job_id", "attempt"),
    [("ci:1:abc", ("ci:1:abc", 0)), ("ci:1:abc:retry12", ("ci:1:abc", 12))],
)
def test_attempts_are_numbered_from_the_original_id(job_id: str, attempt: tuple[str, int]) -> None:
    assert attempt_of(job_id) == attempt


def test_plan_retries_skips_jobs_whose_later_attempt_exists() -> None:
    records = [
        JobRecord("a", "fix_ci", "failed", reason="x"),
        JobRecord("a:retry1", "fix_ci", "running"),
        JobRecord("b", "fix_pr", "failed", reason="y"),
        JobRecord("c", "fix_pr", "done"),
    ]
    steps = plan_retries(records)
    assert [(s.job.id, s.new_id, s.why) for s in steps] == [
        ("a", None, "retried as a:retry1 (running)"),
        ("b", "b:retry1", ""),
    ]
    assert plan_retries(records, "fix_ci")[0].job.id == "a"


def test_arq_giving_up_is_named_with_the_try_count() -> None:
    moment = datetime(2024, 5, 1, tzinfo=UTC)
    result = ArqResult(
        function="fix_ci",
        args=(),
        kwargs={},
        job_try=MAX_TRIES + 1,
        enqueue_time=moment,
        score=None,
        job_id="ci:1:abc",
        success=False,
        result="unable to serialize result",
        start_time=moment,
        finish_time=moment,
        queue_name="arq:queue",
    )
    record = finished_record("ci:1:abc", result)
    assert record.state == "failed"
    assert record.reason == f"arq gave up after {MAX_TRIES} tries (max {MAX_TRIES}): each try " + (
        "was interrupted"
    )
    assert JobRecord.from_json(record.to_json()) == record


def test_safe_url_drops_only_the_password() -> None:
    assert without_password("redis://:pw@h:6379/0") == "redis://h:6379/0"
    assert without_password("rediss://u:p@w@h/1") == "rediss://u@h/1"
    assert without_password("redis://h:6379/0") == "redis://h:6379/0"
