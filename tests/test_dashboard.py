"""The dashboard body (pure), the cron's jobs (pure), and the cron against a real Redis."""

from __future__ import annotations

import json
from datetime import date

from arq.connections import ArqRedis, RedisSettings, create_pool

from bot.config import load_settings
from bot.dashboard import MARKER, Entry, merge, parse, render, ticked
from bot.deps import Deps
from bot.payloads import SweepPayload, parse_payload
from bot.queue import JobSpec, deserialize, serialize
from handlers.sweep import sweep_jobs, weekly_sweep
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


def test_the_cron_makes_one_job_per_repository_and_week_spread_over_an_hour() -> None:
    day = date(2026, 11, 23)
    jobs = sweep_jobs([(7, "octo/a"), (7, "octo/b"), (7, "octo/a")], day)
    assert [spec.job_id for spec, _, _ in jobs] == [
        "sweep:octo/a:2026-W48",
        "sweep:octo/b:2026-W48",
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


async def test_the_cron_enqueues_each_installed_repository_once_a_week(
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
        first = await weekly_sweep(ctx)
        assert (first["repositories"], first["enqueued"]) == (3, 3)
        again = await weekly_sweep(ctx)
        assert (again["repositories"], again["enqueued"]) == (3, 0)
        queued = await pool.queued_jobs()
        assert len(queued) == 3
        bodies = sorted(json.loads(job.args[1])["full_name"] for job in queued)
        assert bodies == ["octo/a", "octo/b", "other/c"]
    finally:
        await pool.aclose()
