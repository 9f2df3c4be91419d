"""The dashboard body (pure), the cron's jobs and the sweep schedule (pure), and the cron and
the period claims against a real Redis."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import redis.asyncio
from arq.connections import ArqRedis, RedisSettings, create_pool

from agents.rotation import Cursor, SweepRecord, cursor_from_json
from bot.config import load_settings
from bot.deps import Deps
from bot.events.payloads import SweepPayload, parse_payload
from bot.events.spec import JobSpec, deserialize, serialize
from bot.flows.schedule import Schedule, claim_key, claim_period, sweep_period
from bot.publish.dashboard import MARKER, Entry, Status, merge, parse, render, status_of, ticked
from handlers.sweep import scheduled_sweep, sweep_jobs
from tests.fixtures.redis import RedisServer

A = Entry("Find duplicates in linear time", "ambient/sweep/find-duplicates")
B = Entry("Drop the eval", "ambient/sweep/drop-the-eval")


def test_a_rendered_body_parses_back_to_its_entries() -> None:
    body = render([A, B])
    assert body.startswith(MARKER)
    assert "- [ ] Find duplicates in linear time (`ambient/sweep/find-duplicates`)" in body
    assert parse(body) == (A, B)
    assert ticked(body) == ()


def test_ticked_boxes_are_the_unopened_ones_and_opened_lines_say_their_pr() -> None:
    body = render([A, B]).replace("- [ ] Drop", "- [x] Drop")
    assert ticked(body) == (Entry(B.title, B.branch, checked=True),)
    opened = render([A, Entry(B.title, B.branch, True, 12)])
    assert "- [x] Drop the eval (`ambient/sweep/drop-the-eval`) — opened #12" in opened
    assert ticked(opened) == ()
    assert parse(opened)[1].pull_number == 12


def test_a_title_cannot_forge_a_line_and_foreign_branches_are_ignored() -> None:
    forged = Entry("x (`ambient/sweep/evil`)\n- [x] y", "ambient/sweep/real")
    (entry,) = parse(render([forged]))
    assert entry.branch == "ambient/sweep/real"
    assert "\n" not in entry.title
    assert parse("- [x] Something (`main`)\n") == ()


def test_merge_keeps_ticks_and_prs_and_appends_new_branches_once() -> None:
    current = (Entry(A.title, A.branch, True, 3),)
    merged = merge(current, [A, B, B])
    assert merged == (Entry(A.title, A.branch, True, 3), B)
    assert render([]).endswith("Nothing waits for approval.\n")


def test_the_sweeps_coverage_and_cursor_ride_below_the_boxes_and_read_back() -> None:
    cursor = Cursor("src/b.py", (SweepRecord("sweep:1", "", ("src/a.py", "src/b.py")),))
    line = "Coverage: 2 of 9 source files shown in the last 1 sweep (22%)"
    entries = (Entry("Fix it", "ambient/sweep/fix-it"),)
    body = render(entries, Status(line, cursor.to_json()))
    assert body.splitlines()[-2:] == [line, f"<!-- ambient:sweep-cursor {cursor.to_json()} -->"]
    assert parse(body) == entries
    status = status_of(body)
    assert status is not None
    assert status.coverage == line
    assert cursor_from_json(status.cursor) == cursor
    # No status, none read back; a forged comment closer cannot end the hidden line early.
    assert status_of(render(entries)) is None
    hostile = render((), Status(line, '{"after": "x --> y"}'))
    assert hostile.count("-->") == 2  # the marker's and the cursor line's own


def test_the_cron_makes_one_job_per_repository_and_day_spread_over_an_hour() -> None:
    day = date(2026, 11, 23)
    jobs = sweep_jobs([(7, "octo/a"), (7, "octo/b"), (7, "octo/a")], day)
    assert [spec.job_id for spec, _, _ in jobs] == [
        "sweep:octo/a:2026-11-23",
        "sweep:octo/b:2026-11-23",
    ]
    spec, body, defer = jobs[0]
    assert JobSpec.from_json(spec.to_json()) == spec
    assert (spec.function, spec.option("trigger"), spec.option("day")) == (
        "sweep_repo",
        "cron",
        "2026-11-23",
    )
    assert 0 <= defer < 3600
    payload = parse_payload("sweep", body)
    assert isinstance(payload, SweepPayload)
    assert (payload.full_name, payload.installation.id) == ("octo/a", 7)
    assert sweep_jobs([(7, "octo/a")], day) == jobs[:1]
    (tomorrow, _, _), *_ = sweep_jobs([(7, "octo/a")], day + timedelta(days=1))
    assert tomorrow.job_id == "sweep:octo/a:2026-11-24"


@pytest.mark.parametrize(
    ("schedule", "day", "period"),
    [
        ("daily", date(2026, 11, 23), "2026-11-23"),
        ("weekly", date(2026, 11, 23), "2026-W48"),
        ("weekly", date(2026, 11, 29), "2026-W48"),
        ("weekly", date(2026, 11, 30), "2026-W49"),
        ("monthly", date(2026, 11, 30), "2026-11"),
        ("monthly", date(2026, 12, 1), "2026-12"),
        # ISO years: the week of 1 January belongs to the year holding its Thursday.
        ("weekly", date(2026, 12, 31), "2026-W53"),
        ("weekly", date(2027, 1, 3), "2026-W53"),
        ("weekly", date(2027, 1, 4), "2027-W01"),
        ("weekly", date(2024, 12, 30), "2025-W01"),
        ("weekly", date(2021, 1, 3), "2020-W53"),
        ("monthly", date(2027, 1, 1), "2027-01"),
        ("daily", date(2024, 2, 29), "2024-02-29"),
    ],
)
def test_the_period_a_day_falls_in(schedule: Schedule, day: date, period: str) -> None:
    assert sweep_period(schedule, day) == period


def _due_days(schedule: Schedule, first: date, days: int, down: set[date]) -> list[date]:
    """The days a daily cron sweeps, the first run of each period claiming it (no Redis)."""
    claimed: set[str] = set()
    swept = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        period = sweep_period(schedule, day)
        if day not in down and period not in claimed:
            claimed.add(period)
            swept.append(day)
    return swept


def test_a_weekly_repository_is_swept_once_a_week_even_when_monday_was_missed() -> None:
    monday = date(2026, 12, 28)
    assert _due_days("weekly", monday, 14, set()) == [monday, date(2027, 1, 4)]
    # The workers were down on Monday and Tuesday: Wednesday's run sweeps that week.
    down = {monday, monday + timedelta(days=1)}
    assert _due_days("weekly", monday, 14, down) == [date(2026, 12, 30), date(2027, 1, 4)]
    assert _due_days("monthly", date(2026, 12, 30), 40, {date(2027, 1, 1)}) == [
        date(2026, 12, 30),
        date(2027, 1, 2),
        date(2027, 2, 1),
    ]
    assert len(_due_days("daily", monday, 7, set())) == 7


async def test_a_period_is_claimed_by_one_job_and_its_retries(redis_server: RedisServer) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        assert await claim_period(client, 42, "2026-W48", "sweep:octo/a:2026-11-23", 60)
        # The same job, retried after a crash, still holds it.
        assert await claim_period(client, 42, "2026-W48", "sweep:octo/a:2026-11-23", 60)
        # Tuesday's job finds the week swept; another repository, or week, is free.
        assert not await claim_period(client, 42, "2026-W48", "sweep:octo/a:2026-11-24", 60)
        assert await claim_period(client, 43, "2026-W48", "sweep:octo/b:2026-11-24", 60)
        assert await claim_period(client, 42, "2026-W49", "sweep:octo/a:2026-11-30", 60)
        assert 0 < await client.ttl(claim_key(42, "2026-W48")) <= 60
    finally:
        await client.aclose()


async def test_the_cron_enqueues_each_installed_repository_once_a_day(
    redis_server: RedisServer,
) -> None:
    settings = load_settings({"AMBIENT_REDIS_URL": redis_server.url})
    # As the worker's own pool: JSON job encoding.
    pool: ArqRedis = await create_pool(
        RedisSettings.from_dsn(redis_server.url),
        job_serializer=serialize,
        job_deserializer=deserialize,
    )
    try:
        async with pool.pipeline(transaction=True) as pipe:
            pipe.sadd("ambient:installation:7:repos", "octo/a", "octo/b")
            pipe.sadd("ambient:installation:9:repos", "other/c")
            await pipe.execute()
        ctx = {"deps": Deps(settings, pool, None, None), "redis": pool}
        first = await scheduled_sweep(ctx)
        assert (first["repositories"], first["enqueued"]) == (3, 3)
        again = await scheduled_sweep(ctx)
        assert (again["repositories"], again["enqueued"]) == (3, 0)
        queued = await pool.queued_jobs()
        assert len(queued) == 3
        bodies = sorted(json.loads(job.args[1])["full_name"] for job in queued)
        assert bodies == ["octo/a", "octo/b", "other/c"]
    finally:
        await pool.aclose()
