"""Redelivery of failed webhook deliveries: the pure plan, then runs against the GitHub simulator
with a real Redis and a stand-in receiver that can be made to fail."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis.asyncio
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from bot.config import load_settings
from bot.deps import Deps
from bot.flows.redelivery import (
    LOST_AFTER_S,
    OVERLAP_S,
    RETENTION_S,
    Asked,
    Checkpoint,
    delivered_at,
    horizon,
    keep_paging,
    plan,
    unsettled,
)
from bot.github.client import GitHubApp
from bot.github.retry import RetryPolicy
from bot.github.values import Delivery
from bot.jobs.worker import create_worker, crons
from handlers import redelivery
from handlers.redelivery import ASKED_PREFIX, CHECKPOINT_KEY, redeliver_failed, redeliver_once
from tests.fixtures.redis import RedisServer
from tests.sim.github_client import GitHubSim
from tests.support import free_port, wait_for_port

NOW = 1_700_000_000.0


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def attempt(id: int, guid: str, at: float, status: int = 0) -> Delivery:
    return Delivery(
        id=id,
        guid=guid,
        event="push",
        action=None,
        status_code=status,
        redelivery=False,
        delivered_at=iso(at),
        installation_id=1,
        repository_id=2,
    )


# The plan


def test_a_guid_never_asked_for_is_asked_for_its_newest_attempt_and_a_2xx_one_is_done() -> None:
    log = [
        attempt(3, "b", NOW - 10, 202),
        attempt(2, "a", NOW - 20, 502),
        attempt(1, "a", NOW - 30, 0),
    ]
    decided = plan(log, {}, None, NOW)
    assert [(a.guid, a.delivery_id) for a in decided.asks] == [("a", 2)]
    assert decided.asks[0].record == Asked(2, NOW, NOW - 30)
    # "a" stays unsettled until an attempt succeeds: the floor waits at its first attempt.
    assert decided.checkpoint == Checkpoint(NOW - 30)
    assert unsettled(log) == ["a"]


def test_a_failure_followed_by_a_successful_redelivery_is_done() -> None:
    log = [attempt(2, "a", NOW - 5, 200), attempt(1, "a", NOW - 30, 0)]
    decided = plan(log, {"a": Asked(1, NOW - 20, NOW - 30)}, None, NOW)
    assert decided.asks == ()
    assert decided.checkpoint == Checkpoint(NOW - 5)


def test_a_pending_redelivery_is_not_asked_twice_within_the_cooldown() -> None:
    log = [attempt(1, "a", NOW - 300, 0)]
    record = Asked(1, NOW - 200, NOW - 300)
    decided = plan(log, {"a": record}, Checkpoint(NOW - 300), NOW)
    assert (decided.asks, decided.pending) == ((), 1)
    assert decided.checkpoint == Checkpoint(NOW - 300)
    lost = plan(log, {"a": record}, Checkpoint(NOW - 300), NOW - 200 + LOST_AFTER_S)
    assert [a.delivery_id for a in lost.asks] == [1]


def test_a_redelivery_that_failed_too_is_asked_again_keeping_the_first_time() -> None:
    log = [attempt(9, "a", NOW - 60, 0), attempt(1, "a", NOW - 900, 0)]
    decided = plan(log, {"a": Asked(1, NOW - 61, NOW - 900)}, Checkpoint(NOW - 900), NOW)
    (ask,) = decided.asks
    assert (ask.delivery_id, ask.record) == (9, Asked(9, NOW, NOW - 900))


def test_an_event_older_than_github_keeps_it_is_given_up() -> None:
    # Only redeliveries are left in the log; the record remembers the first attempt.
    log = [attempt(9, "a", NOW - 60, 0)]
    record = Asked(5, NOW - 120, NOW - RETENTION_S - 1)
    decided = plan(log, {"a": record}, None, NOW)
    assert (decided.asks, decided.expired) == ((), 1)
    # Attempts older than the retention are not read at all.
    stale = plan([attempt(1, "b", NOW - RETENTION_S - 5, 0)], {}, None, NOW)
    assert (stale.asks, stale.examined, stale.checkpoint) == ((), 0, None)


def test_attempts_before_the_checkpoint_less_the_overlap_are_not_examined() -> None:
    checkpoint = Checkpoint(NOW - 1000)
    log = [
        attempt(3, "new", NOW - 10, 0),
        attempt(2, "overlap", NOW - 1000 - OVERLAP_S + 1, 0),
        attempt(1, "settled", NOW - 1000 - OVERLAP_S - 1, 0),
    ]
    decided = plan(log, {}, checkpoint, NOW)
    assert {a.guid for a in decided.asks} == {"new", "overlap"}
    assert decided.examined == 2


def test_paging_stops_once_a_page_passes_the_horizon() -> None:
    since = horizon(Checkpoint(NOW - 100), NOW)
    assert since == NOW - 100 - OVERLAP_S
    assert horizon(None, NOW) == NOW - RETENTION_S
    assert horizon(Checkpoint(NOW - 2 * RETENTION_S), NOW) == NOW - RETENTION_S
    newer = [attempt(2, "a", NOW - 5), attempt(1, "b", since + 1)]
    older = [attempt(2, "a", NOW - 5), attempt(1, "b", since - 1)]
    assert keep_paging(newer, "v1_1", since)
    assert not keep_paging(older, "v1_1", since)
    assert not keep_paging(newer, None, since)
    assert not keep_paging([], "v1_1", since)


def test_a_run_after_a_quiet_interval_reads_one_page_of_a_busy_log() -> None:
    # Three days of a delivery a minute, all delivered; the last run was 15 minutes ago.
    log = [attempt(i, f"g{i}", NOW - (4320 - i) * 60, 202) for i in range(4320, 0, -1)]
    previous = plan([d for d in log if delivered_at(d) <= NOW - 900], {}, None, NOW - 900)
    since = horizon(previous.checkpoint, NOW)
    pages = [log[i : i + 100] for i in range(0, len(log), 100)]
    read = 1
    while keep_paging(pages[read - 1], "more", since):
        read += 1
    assert read == 1
    assert plan(pages[0], {}, previous.checkpoint, NOW).asks == ()


def test_past_the_limit_never_asked_guids_go_first_and_the_rest_wait() -> None:
    log = [
        attempt(4, "d", NOW - 10, 0),
        attempt(3, "c", NOW - 20, 0),
        attempt(2, "b", NOW - 30, 0),
        attempt(1, "old-retry", NOW - 40, 0),
    ]
    asked = {"old-retry": Asked(0, NOW - LOST_AFTER_S, NOW - 50)}
    decided = plan(log, asked, None, NOW, max_asks=2)
    assert [a.guid for a in decided.asks] == ["b", "c"]
    assert decided.deferred == 2
    assert decided.checkpoint == Checkpoint(NOW - 40)


def test_an_empty_window_keeps_the_checkpoint() -> None:
    assert plan([], {}, Checkpoint(NOW - 5), NOW).checkpoint == Checkpoint(NOW - 5)
    assert plan([], {}, None, NOW).checkpoint is None


def test_records_and_checkpoints_survive_redis() -> None:
    record = Asked(12, NOW, NOW - 3)
    assert Asked.from_json(record.to_json().encode()) == record
    assert Checkpoint.from_json(Checkpoint(NOW).to_json()) == Checkpoint(NOW)
    assert delivered_at(attempt(1, "a", NOW)) == NOW


_attempts = st.lists(
    st.tuples(
        st.sampled_from("abcde"),
        st.integers(0, 2 * RETENTION_S),
        st.sampled_from([0, 200, 202, 500]),
    ),
    max_size=30,
)


@given(_attempts, st.sets(st.sampled_from("abcde")))
def test_a_plan_never_asks_for_a_delivered_guid_nor_twice_for_one(
    rows: list[tuple[str, int, int]], asked_guids: set[str]
) -> None:
    # GitHub numbers attempts in the order it makes them: older attempts, smaller ids.
    rows = sorted(rows, key=lambda row: -row[1])
    log = [attempt(i + 1, guid, NOW - age, status) for i, (guid, age, status) in enumerate(rows)]
    asked = {g: Asked(0, NOW - 10, NOW - 20) for g in asked_guids}
    decided = plan(log, asked, None, NOW)
    guids = [a.guid for a in decided.asks]
    seen = [d for d in log if delivered_at(d) >= horizon(None, NOW)]
    delivered = {d.guid for d in seen if d.status_code in (200, 202)}
    assert len(guids) == len(set(guids))
    assert not set(guids) & delivered
    newest = {g: max(d.id for d in seen if d.guid == g) for g in guids}
    assert all(a.delivery_id == newest[a.guid] for a in decided.asks)
    if decided.checkpoint is not None:
        assert all(delivered_at(d) >= decided.checkpoint.floor for d in seen if d.guid in guids)


# The worker's crons


async def test_the_cron_runs_every_interval_and_not_at_all_at_zero() -> None:
    names = {job.name: job for job in crons(15)}
    assert names["cron:redeliver_failed"].minute == {0, 15, 30, 45}
    assert names["cron:redeliver_failed"].unique
    assert [job.name for job in crons(0)] == [n for n in names if n != "cron:redeliver_failed"]
    worker = create_worker(load_settings({"AMBIENT_REDELIVERY_INTERVAL_MIN": "20"}))
    assert worker.functions["cron:redeliver_failed"].minute == {0, 20, 40}  # type: ignore[union-attr]


# Runs against the simulator


class Receiver(ThreadingHTTPServer):
    """A stand-in receiver: answers `status` and notes each guid it answered 2xx."""

    def __init__(self) -> None:
        self.status = 503
        self.accepted: list[str] = []
        super().__init__(("127.0.0.1", free_port()), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        status = self.server.status
        if 200 <= status < 300:
            self.server.accepted.append(self.headers["X-GitHub-Delivery"])
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def receiver(github_sim: GitHubSim) -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    wait_for_port(server.server_address[1])
    github_sim.set_webhook(server.url)
    yield server
    github_sim.set_webhook(None)
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def app(github_sim: GitHubSim) -> AsyncIterator[GitHubApp]:
    # One attempt per call: a rate limit or a 5xx ends the run at once instead of waiting.
    gateway = GitHubApp(
        app_id=github_sim.app.id,
        private_key=github_sim.app.private_key_pem,
        base_url=github_sim.api_url,
        retry=RetryPolicy(max_attempts=1),
    )
    yield gateway
    await gateway.aclose()


def _emit(sim: GitHubSim, count: int) -> list[str]:
    sim.create_repo("octo", "hooks", files={"a.txt": "a\n"})
    return [sim.emit("installation_repositories", owner="octo") for _ in range(count)]


def _counted(outcome: str) -> float:
    value = REGISTRY.get_sample_value("ambient_redeliveries_total", {"outcome": outcome})
    return value or 0.0


def _attempts_of(sim: GitHubSim) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for d in reversed(sim.deliveries()):
        seen.setdefault(d["guid"], []).append(d["status_code"])
    return seen


async def test_a_down_receiver_is_asked_for_again_until_it_answers_and_then_never(
    github_sim: GitHubSim, receiver: Receiver, app: GitHubApp, store: redis.asyncio.Redis
) -> None:
    guids = _emit(github_sim, 5)
    counted = _counted("requested")
    first = await redeliver_once(app, store, time.time())
    assert (first["status"], first["requested"]) == ("done", 5)
    # The redeliveries failed as well (still 503): each guid is asked for again, once.
    again = await redeliver_once(app, store, time.time())
    assert again["requested"] == 5
    receiver.status = 202
    back = await redeliver_once(app, store, time.time())
    assert back["requested"] == 5
    assert sorted(receiver.accepted) == sorted(guids)
    quiet = await redeliver_once(app, store, time.time())
    assert quiet["requested"] == 0
    assert _counted("requested") - counted == 15
    attempts = _attempts_of(github_sim)
    assert {g: a[-1] for g, a in attempts.items()} == dict.fromkeys(guids, 202)
    assert all(len(a) == 4 for a in attempts.values())
    checkpoint = Checkpoint.from_json(await store.get(CHECKPOINT_KEY) or b"")
    newest = max(delivered_at(d) for d in (await app.deliveries())[0])
    assert checkpoint.floor == newest


async def test_a_redelivery_still_pending_is_not_asked_for_again(
    github_sim: GitHubSim, receiver: Receiver, app: GitHubApp, store: redis.asyncio.Redis
) -> None:
    (guid,) = _emit(github_sim, 1)
    (listed,), _ = await app.deliveries()
    # What a run that asked a moment ago left, while GitHub has not sent the redelivery yet.
    record = Asked(listed.id, time.time(), delivered_at(listed))
    await store.set(ASKED_PREFIX + guid, record.to_json())
    waiting = await redeliver_once(app, store, time.time())
    assert (waiting["requested"], waiting["pending"]) == (0, 1)
    assert len(github_sim.deliveries()) == 1
    receiver.status = 202
    lost = await redeliver_once(app, store, record.at + LOST_AFTER_S)
    assert lost["requested"] == 1
    assert receiver.accepted == [guid]


async def test_a_rate_limit_ends_the_run_and_the_next_run_goes_on(
    github_sim: GitHubSim,
    receiver: Receiver,
    app: GitHubApp,
    store: redis.asyncio.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    guids = _emit(github_sim, 3)
    receiver.status = 202
    kept = Checkpoint(time.time() - 60).to_json()
    await store.set(CHECKPOINT_KEY, kept)
    github_sim.fault("POST", r"/attempts$", 429, retry_after=30)
    failed = _counted("failed")
    with caplog.at_level(logging.WARNING, logger="ambient"):
        stopped = await redeliver_once(app, store, time.time())
    assert (stopped["status"], stopped["requested"]) == ("failed", 0)
    assert "rate limited" in str(stopped["error"])
    (line,) = [r.getMessage() for r in caplog.records if r.name == redelivery.log.name]
    assert line.startswith("redelivery stopped after 0 requests")
    assert "\n" not in line
    assert await store.get(CHECKPOINT_KEY) == kept.encode()
    assert _counted("failed") - failed == 1
    resumed = await redeliver_once(app, store, time.time())
    assert resumed["requested"] == 3
    assert sorted(receiver.accepted) == sorted(guids)


async def test_an_unreadable_delivery_log_keeps_the_checkpoint(
    github_sim: GitHubSim, receiver: Receiver, app: GitHubApp, store: redis.asyncio.Redis
) -> None:
    _emit(github_sim, 2)
    kept = Checkpoint(time.time() - 60).to_json()
    await store.set(CHECKPOINT_KEY, kept)
    github_sim.fault("GET", r"/app/hook/deliveries$", 502)
    failed = await redeliver_once(app, store, time.time())
    assert (failed["status"], failed["requested"]) == ("failed", 0)
    assert await store.get(CHECKPOINT_KEY) == kept.encode()
    assert (await redeliver_once(app, store, time.time()))["requested"] == 2


async def test_a_refused_redelivery_waits_like_a_pending_one(
    github_sim: GitHubSim, receiver: Receiver, app: GitHubApp, store: redis.asyncio.Redis
) -> None:
    guids = _emit(github_sim, 3)
    receiver.status = 202
    github_sim.fault("POST", r"/attempts$", 422, body={"message": "Validation Failed"})
    now = time.time()
    first = await redeliver_once(app, store, now)
    assert (first["requested"], first["refused"]) == (2, 1)
    assert len(receiver.accepted) == 2
    assert (await redeliver_once(app, store, now + 1))["requested"] == 0
    later = await redeliver_once(app, store, now + LOST_AFTER_S)
    assert later["requested"] == 1
    assert sorted(receiver.accepted) == sorted(guids)


async def test_the_first_run_reads_every_page_of_the_log(
    github_sim: GitHubSim, receiver: Receiver, app: GitHubApp, store: redis.asyncio.Redis
) -> None:
    _emit(github_sim, 230)
    receiver.status = 202
    github_sim.clear_requests()
    done = await redeliver_once(app, store, time.time())
    assert (done["requested"], done["examined"]) == (230, 230)
    pages = [r for r in github_sim.requests() if r["path"] == "/app/hook/deliveries"]
    assert len(pages) == 3
    assert len(set(receiver.accepted)) == 230


async def test_without_an_app_the_cron_says_so_once(
    store: redis.asyncio.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    redelivery._say_cannot_run.cache_clear()
    ctx = {"deps": Deps(load_settings({}), store)}
    with caplog.at_level(logging.WARNING, logger="ambient"):
        for _ in range(3):
            assert (await redeliver_failed(ctx))["status"] == "skipped"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "AMBIENT_GITHUB_APP_ID" in lines[0]


async def test_a_second_run_while_one_is_going_on_does_nothing(
    github_sim: GitHubSim, receiver: Receiver, app: GitHubApp, store: redis.asyncio.Redis
) -> None:
    _emit(github_sim, 1)
    ctx = {"deps": Deps(load_settings({}), store, app)}
    lock = store.lock(redelivery.LOCK_KEY, timeout=60)
    assert await lock.acquire()
    assert (await redeliver_failed(ctx))["status"] == "skipped"
    await lock.release()
    result = await redeliver_failed(ctx)
    assert (result["status"], result["requested"]) == ("done", 1)
    assert json.loads(await store.get(CHECKPOINT_KEY) or b"{}")["floor"] > 0


async def test_a_run_past_its_time_limit_stops_and_says_so(
    github_sim: GitHubSim, receiver: Receiver, app: GitHubApp, store: redis.asyncio.Redis
) -> None:
    _emit(github_sim, 2)
    stopped = await redeliver_once(app, store, time.time(), timeout_s=0.000_001)
    assert (stopped["status"], stopped["error"]) == ("failed", "over 0 s")
    resumed = await redeliver_once(app, store, time.time())
    assert resumed["requested"] == 2
