"""The receiver's enqueue step against a real Redis: dedupe and enqueue in one atomic step,
batched, with the encoded jobs staged outside the script and never left behind."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import orjson
import pytest
from arq.constants import default_queue_name, expires_extra_ms, job_key_prefix
from arq.jobs import serialize_job
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.events.spec import JobSpec, deserialize, serialize
from bot.ingress.enqueue import (
    _ENQUEUE_LUA,
    DELIVERY_KEY_PREFIX,
    STAGING_KEY_PREFIX,
    Enqueuer,
    encode_job,
)
from bot.ingress.redis_pipe import PipelinedConnection
from tests.fixtures.redis import RedisServer

BODY = b'{"action":"completed","check_suite":{"id":1}}'


def _spec(job_id: str, delivery: str = "d") -> JobSpec:
    return JobSpec(function="fix_ci", job_id=job_id, event="check_suite", delivery_id=delivery)


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    redis_server.flush()
    connection = Redis.from_url(redis_server.url)
    yield connection
    await connection.aclose()


@pytest.fixture
async def connection(client: Redis) -> AsyncIterator[PipelinedConnection]:
    async with PipelinedConnection.like(client) as pipelined:
        yield pipelined


async def _staged_left(client: Redis) -> list[bytes]:
    return [key async for key in client.scan_iter(STAGING_KEY_PREFIX + "*")]


async def test_concurrent_deliveries_are_each_queued_once(
    client: Redis, connection: PipelinedConnection
) -> None:
    enqueuer = Enqueuer(connection, delivery_ttl_s=3600, max_in_flight=2)
    deliveries = [(f"d{n}", [_spec(f"job:{n}", f"d{n}")]) for n in range(300)]
    # Every delivery twice, concurrently: the second of each is a duplicate, wherever it lands.
    outcomes = await asyncio.gather(
        *(enqueuer.submit(d, specs, BODY) for d, specs in deliveries + deliveries)
    )
    queued = [job for o in outcomes for job in o.queued]
    assert sorted(queued) == sorted(f"job:{n}" for n in range(300))
    assert sum(o.duplicate for o in outcomes) == 300
    assert await client.zcard(default_queue_name) == 300
    assert await _staged_left(client) == []
    raw = await client.get(job_key_prefix + "job:7")
    assert raw is not None
    job = deserialize(raw)
    assert job["a"] == [_spec("job:7", "d7").to_json(), orjson.loads(BODY)]


async def test_a_job_already_queued_by_another_delivery_is_reported_not_rewritten(
    client: Redis,
    connection: PipelinedConnection,
) -> None:
    enqueuer = Enqueuer(connection, delivery_ttl_s=3600)
    first = await enqueuer.submit("d1", [_spec("ci:1:abc", "d1")], BODY)
    second = await enqueuer.submit("d2", [_spec("ci:1:abc", "d2"), _spec("ci:1:def", "d2")], BODY)
    assert first.queued == ("ci:1:abc",)
    assert (second.duplicate, second.queued, second.existing) == (
        False,
        ("ci:1:def",),
        ("ci:1:abc",),
    )
    raw = await client.get(job_key_prefix + "ci:1:abc")
    assert raw is not None
    assert "d1" in str(deserialize(raw)["a"])
    assert await _staged_left(client) == []


async def test_a_restarted_redis_that_forgot_every_script_still_takes_deliveries(
    client: Redis,
    connection: PipelinedConnection,
) -> None:
    enqueuer = Enqueuer(connection, delivery_ttl_s=3600)
    await enqueuer.submit("d1", [_spec("a", "d1")], BODY)
    await client.script_flush()
    outcome = await enqueuer.submit("d2", [_spec("b", "d2")], BODY)
    assert outcome.queued == ("b",)
    assert await _staged_left(client) == []


async def test_the_script_writes_nothing_when_a_staged_job_is_missing(client: Redis) -> None:
    plan = orjson.dumps([["d-ok", ["one"]], ["d-missing", ["two"]]]).decode()
    await client.set(STAGING_KEY_PREFIX + "t:1", b"{}")
    await client.set(STAGING_KEY_PREFIX + "t:3", b"{}")
    with pytest.raises(ResponseError, match="staged job missing"):
        await client.eval(  # type: ignore[misc]
            _ENQUEUE_LUA,
            1,
            default_queue_name,
            "3600",
            "1",
            "60000",
            STAGING_KEY_PREFIX + "t:",
            DELIVERY_KEY_PREFIX,
            job_key_prefix,
            "arq:result:",
            plan,
        )
    assert await client.exists(DELIVERY_KEY_PREFIX + "d-ok") == 0
    assert await client.exists(job_key_prefix + "one") == 0
    assert await client.zcard(default_queue_name) == 0
    # The batch's staged jobs are gone too; another batch's key is not the script's to touch.
    assert await _staged_left(client) == [(STAGING_KEY_PREFIX + "t:3").encode()]


async def test_queued_jobs_expire_like_arqs_own(
    client: Redis, connection: PipelinedConnection
) -> None:
    await Enqueuer(connection, delivery_ttl_s=3600).submit("d1", [_spec("a", "d1")], BODY)
    job_ttl_ms = await client.pttl(job_key_prefix + "a")
    assert 0 < job_ttl_ms <= expires_extra_ms
    assert 0 < await client.ttl(DELIVERY_KEY_PREFIX + "d1") <= 3600


def test_a_job_spec_from_a_newer_release_still_decodes() -> None:
    spec = _spec("ci:1:abc")
    newer = orjson.loads(spec.to_json())
    newer["priority"] = "high"
    assert JobSpec.from_json(orjson.dumps(newer).decode()) == spec


def test_a_job_whose_body_holds_a_number_too_large_for_a_double_still_decodes() -> None:
    # The receiver accepts any body JSON's grammar allows; orjson alone would refuse this one.
    body = orjson.Fragment(b'{"action":"completed","n":1e999}')
    raw = serialize_job("fix_ci", ("{}", body), {}, None, 1, serializer=serialize)
    assert deserialize(raw)["a"] == ["{}", {"action": "completed", "n": math.inf}]


def test_a_job_encoded_in_pieces_is_arqs_own_encoding_even_when_an_option_holds_the_mark() -> None:
    spec = JobSpec(
        function="fix_ci",
        job_id="ci:1:abc",
        event="check_suite.completed",
        delivery_id="d1",
        options=(("branch", "<ambient:webhook-body>"),),
    )
    pieces = encode_job(spec, BODY, 1234)
    assert pieces[1] is BODY
    whole = serialize_job(
        "fix_ci", (spec.to_json(), orjson.Fragment(BODY)), {}, None, 1234, serializer=serialize
    )
    assert b"".join(pieces) == whole
    assert deserialize(whole)["a"] == [spec.to_json(), orjson.loads(BODY)]
