"""The durable dedupe-and-enqueue step: a batch of deliveries and their jobs, written at once.

The receiver must have every accepted delivery in Redis before it answers 2xx. arq's own
`enqueue_job` costs a WATCH/MULTI round trip per job and cannot be combined atomically with
the delivery dedupe, so deliveries are enqueued by one Lua script that does both, writing the
exact keys and job encoding arq's worker reads (`serialize_job`, `arq:job:*`, the queue zset).
Concurrent deliveries are batched into one pipelined round trip ("group commit"): under load
this is what keeps the receiver within its throughput budget; alone, a delivery flushes at once.

The encoded jobs (each carries its webhook body, kilobytes) never pass through Lua: handing a
large argument to a script costs Redis more than the plain commands around it
(bench/ingress.py). They are written by one MSET under staging keys of the batch's own, and
the script renames each into place (O(1), no copy) or deletes it. Both run in one MULTI/EXEC,
so Redis applies the whole batch or none of it, and a staging key never outlives its batch.
The script is sent whole (EVAL, which Redis compiles once and caches) because inside a
transaction a forgotten EVALSHA would fail only after the MSET had been applied.

Batches travel on a `PipelinedConnection` (bot/ingress/redis_pipe.py), not redis-py's
pipeline, which would cost the receiver as much again per batch as the rest of its work on a
delivery.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import orjson
from arq.constants import default_queue_name, expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from redis.exceptions import RedisError, ResponseError

from bot.errors import QueueUnavailable
from bot.events import JobSpec, serialize
from bot.ingress.redis_pipe import Arg, PipelinedConnection

__all__ = [
    "DELIVERY_KEY_PREFIX",
    "STAGING_KEY_PREFIX",
    "EnqueueOutcome",
    "Enqueuer",
    "encode_job",
]

DELIVERY_KEY_PREFIX: Final = "ambient:delivery:"


@dataclass(frozen=True, slots=True)
class EnqueueOutcome:
    """`duplicate` when the delivery was seen before; else which jobs were new or existing."""

    duplicate: bool
    queued: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()


# One call records a whole batch of deliveries whose encoded jobs are already staged.
# KEYS: the queue. ARGV: delivery ttl seconds, score ms, job expiry ms, the staging, delivery,
# job and result key prefixes, then the batch as JSON: [[delivery id, [job id, ...]], ...];
# the n-th job of the batch is staged under the staging prefix followed by n.
# The other keys are named here rather than passed in: arq runs on one Redis, never a Cluster,
# and a few hundred key arguments cost the receiver more to encode than the script to build.
# Returns per delivery -1 when it is a duplicate, else a list of 1 (queued) / 0 (known) per job.
_ENQUEUE_LUA: Final = """
local ttl, score, expiry = ARGV[1], ARGV[2], ARGV[3]
local staging, delivery_prefix, job_prefix, result_prefix = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local batch = cjson.decode(ARGV[8])
-- Nothing is written unless every staged job is there: a script is not rolled back.
local n, missing = 0, nil
for _, delivery in ipairs(batch) do
  for _ in ipairs(delivery[2]) do
    n = n + 1
    if not missing and redis.call('EXISTS', staging .. n) == 0 then
      missing = staging .. n
    end
  end
end
if missing then
  for i = 1, n do
    redis.call('DEL', staging .. i)
  end
  return redis.error_reply('staged job missing: ' .. missing)
end
local out = {}
n = 0
for d, delivery in ipairs(batch) do
  local fresh = redis.call('SET', delivery_prefix .. delivery[1], score, 'NX', 'EX', ttl)
  local flags = {}
  for i, job_id in ipairs(delivery[2]) do
    n = n + 1
    if fresh and redis.call('EXISTS', job_prefix .. job_id, result_prefix .. job_id) == 0 then
      redis.call('RENAME', staging .. n, job_prefix .. job_id)
      redis.call('PEXPIRE', job_prefix .. job_id, expiry)
      redis.call('ZADD', KEYS[1], score, job_id)
      flags[i] = 1
    else
      redis.call('DEL', staging .. n)
      flags[i] = 0
    end
  end
  out[d] = fresh and flags or -1
end
return out
"""
STAGING_KEY_PREFIX: Final = "ambient:staging:"


@dataclass(slots=True)
class _Pending:
    delivery_id: str
    specs: Sequence[JobSpec]
    body: bytes
    future: asyncio.Future[EnqueueOutcome]


class Enqueuer:
    """Dedupe deliveries and enqueue their jobs, batching concurrent callers.

    Every delivery submitted while the event loop runs one round joins one batch; up to
    `max_in_flight` batches are in Redis at once, so the receiver parses the next requests
    while Redis stores the last ones instead of waiting for it.
    """

    def __init__(
        self,
        connection: PipelinedConnection,
        *,
        delivery_ttl_s: int,
        queue_name: str = default_queue_name,
        max_in_flight: int = 4,
    ) -> None:
        self._connection = connection
        self._ttl_s = delivery_ttl_s
        self._queue_name = queue_name
        self._max_in_flight = max_in_flight
        self._pending: list[_Pending] = []
        self._flush_scheduled = False
        self._in_flight: set[asyncio.Task[None]] = set()
        # Random per receiver and numbered per batch: two receivers staging the same delivery
        # at the same moment never share a staging key, and neither do two batches of one.
        self._staging_prefix = f"{STAGING_KEY_PREFIX}{secrets.token_hex(8)}:"
        self._batch_numbers = itertools.count(1)

    async def submit(
        self, delivery_id: str, specs: Sequence[JobSpec], body: bytes
    ) -> EnqueueOutcome:
        """Record the delivery and enqueue its jobs in one atomic step.

        `body` must be a UTF-8 JSON document already parsed once: each job carries it verbatim.

        Raises `QueueUnavailable` when Redis cannot be reached; nothing is half-written.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[EnqueueOutcome] = loop.create_future()
        self._pending.append(_Pending(delivery_id, specs, body, future))
        self._schedule_flush(loop)
        return await future

    def _schedule_flush(self, loop: asyncio.AbstractEventLoop) -> None:
        # Flushing on the loop's next round lets the requests already read in this round join.
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending or len(self._in_flight) >= self._max_in_flight:
            return  # a batch that finishes flushes again
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._commit(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._batch_done)

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._pending:
            self._schedule_flush(task.get_loop())

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            results = await self._run_batch(batch)
        except (RedisError, OSError) as exc:
            what = (
                "redis refused the delivery"
                if isinstance(exc, ResponseError)
                else "redis unreachable"
            )
            error = QueueUnavailable(f"{what}: {type(exc).__name__}: {exc}")
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        for item, result in zip(batch, results, strict=True):
            if not item.future.done():
                item.future.set_result(_outcome(item.specs, result))

    async def _run_batch(self, batch: list[_Pending]) -> list[object]:
        staged, script_args = self._arguments(batch, int(time.time() * 1000))
        replies = await self._connection.execute(
            [("MULTI",), ("MSET", *staged), ("EVAL", _ENQUEUE_LUA, *script_args), ("EXEC",)]
        )
        results = _transaction_result(replies)
        if not isinstance(results, list) or len(results) != len(batch):
            raise RedisError(f"enqueue script answered {results!r:.80}")
        return results

    def _arguments(self, batch: list[_Pending], now_ms: int) -> tuple[list[Arg], list[Arg]]:
        """MSET's staging keys and encoded jobs, and the script's keys and arguments."""
        prefix = f"{self._staging_prefix}{next(self._batch_numbers)}:"
        staged: list[Arg] = []
        plan: list[tuple[str, list[str]]] = []
        for item in batch:
            for spec in item.specs:
                staged += (f"{prefix}{len(staged) // 2 + 1}", encode_job(spec, item.body, now_ms))
            plan.append((item.delivery_id, [spec.job_id for spec in item.specs]))
        script_args: list[Arg] = [
            1,
            self._queue_name,
            self._ttl_s,
            now_ms,
            expires_extra_ms,
            prefix,
            DELIVERY_KEY_PREFIX,
            job_key_prefix,
            result_key_prefix,
            orjson.dumps(plan),
        ]
        return staged, script_args


_BODY_MARK: Final = b"<ambient:webhook-body>"


def encode_job(spec: JobSpec, body: bytes, now_ms: int) -> tuple[bytes, bytes, bytes]:
    """arq's encoding of `spec`'s job in three pieces, the webhook body untouched between the
    other two: joined, they are `serialize_job`'s bytes, but the body (kilobytes) is never
    copied on its way to Redis. It goes in as the JSON it is, not as a string to escape again.
    """
    frame = serialize_job(
        spec.function,
        (spec.to_json(), orjson.Fragment(_BODY_MARK)),
        {},
        None,
        now_ms,
        serializer=serialize,
    )
    # The last mark is the body's: a job option may hold the mark's text, but only the fixed
    # kwargs and enqueue time follow the arguments.
    head, _, tail = frame.rpartition(_BODY_MARK)
    return head, body, tail


def _transaction_result(replies: list[object]) -> object:
    """The script's result from MULTI, MSET, EVAL, EXEC's replies; the first error raised."""
    *queued, executed = replies
    for reply in queued:
        if isinstance(reply, ResponseError):
            raise reply
    if isinstance(executed, ResponseError):
        raise executed
    if not isinstance(executed, list) or len(executed) != 2:
        raise RedisError(f"enqueue transaction answered {executed!r:.80}")
    for reply in executed:
        if isinstance(reply, ResponseError):
            raise reply
    return executed[1]


def _outcome(specs: Sequence[JobSpec], result: object) -> EnqueueOutcome:
    if result == -1:
        return EnqueueOutcome(duplicate=True)
    flags = result if isinstance(result, list) else []
    queued: list[str] = []
    existing: list[str] = []
    for spec, flag in zip(specs, flags, strict=False):
        (queued if flag == 1 else existing).append(spec.job_id)
    return EnqueueOutcome(duplicate=False, queued=tuple(queued), existing=tuple(existing))
