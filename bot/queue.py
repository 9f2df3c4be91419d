"""Jobs as values, their deterministic ids, and the durable dedupe-and-enqueue step.

The receiver must have every accepted delivery in Redis before it answers 2xx. arq's own
`enqueue_job` costs a WATCH/MULTI round trip per job and cannot be combined atomically with
the delivery dedupe, so deliveries are enqueued by one Lua script that does both, writing the
exact keys and job encoding arq's worker reads (`serialize_job`, `arq:job:*`, the queue zset).
Concurrent deliveries are batched into one pipelined round trip ("group commit"): under load
this is what keeps the receiver within its throughput budget; alone, a delivery flushes at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import orjson
from arq.constants import default_queue_name, expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from bot.errors import QueueUnavailable

__all__ = [
    "DELIVERY_KEY_PREFIX",
    "EnqueueOutcome",
    "Enqueuer",
    "JobSpec",
    "deserialize",
    "serialize",
]

DELIVERY_KEY_PREFIX: Final = "ambient:delivery:"


def serialize(data: dict[str, object]) -> bytes:
    """arq job encoding: JSON, so nothing in Redis can make a worker unpickle code."""
    return orjson.dumps(data)


def deserialize(raw: bytes) -> dict[str, object]:
    """Inverse of `serialize`."""
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise TypeError("job data is not a JSON object")
    return data


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a job must do, derived from one event. The id makes redeliveries no-ops."""

    function: str
    job_id: str
    event: str
    delivery_id: str
    repository: str | None = None
    installation_id: int | None = None
    options: tuple[tuple[str, str], ...] = field(default=())

    def to_json(self) -> str:
        fields = {name: getattr(self, name) for name in self.__slots__}
        return orjson.dumps(fields).decode()

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        data = orjson.loads(text)
        data["options"] = tuple(tuple(pair) for pair in data.get("options", ()))
        return cls(**data)

    def option(self, key: str, default: str = "") -> str:
        return dict(self.options).get(key, default)


@dataclass(frozen=True, slots=True)
class EnqueueOutcome:
    """`duplicate` when the delivery was seen before; else which jobs were new or existing."""

    duplicate: bool
    queued: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()


# One call records a whole batch of deliveries.
# KEYS: the queue, then per delivery its delivery key followed by (job key, result key) per job.
# ARGV: delivery ttl seconds, score ms, job expiry ms, then per delivery its job count followed
# by one serialized job per job.
# Returns per delivery -1 when it is a duplicate, else a list of 1 (queued) / 0 (known) per job.
_ENQUEUE_LUA: Final = """
local ttl, score, expiry = ARGV[1], ARGV[2], ARGV[3]
local k, a, out = 2, 4, {}
while a <= #ARGV do
  local jobs = tonumber(ARGV[a])
  local flags = {}
  if redis.call('SET', KEYS[k], score, 'NX', 'EX', ttl) then
    for i = 1, jobs do
      local job_key, result_key = KEYS[k + 2 * i - 1], KEYS[k + 2 * i]
      if redis.call('EXISTS', job_key, result_key) == 0 then
        redis.call('PSETEX', job_key, expiry, ARGV[a + i])
        redis.call('ZADD', KEYS[1], score, string.sub(job_key, PREFIX))
        flags[i] = 1
      else
        flags[i] = 0
      end
    end
    out[#out + 1] = flags
  else
    out[#out + 1] = -1
  end
  k = k + 1 + 2 * jobs
  a = a + 1 + jobs
end
return out
""".replace("PREFIX", str(len(job_key_prefix) + 1))


@dataclass(slots=True)
class _Pending:
    delivery_id: str
    specs: Sequence[JobSpec]
    body: str
    future: asyncio.Future[EnqueueOutcome]


class Enqueuer:
    """Dedupe deliveries and enqueue their jobs, batching concurrent callers."""

    def __init__(
        self,
        redis: Redis,
        *,
        delivery_ttl_s: int,
        queue_name: str = default_queue_name,
    ) -> None:
        self._redis = redis
        self._ttl_s = delivery_ttl_s
        self._queue_name = queue_name
        self._sha: str | None = None
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, delivery_id: str, specs: Sequence[JobSpec], body: str) -> EnqueueOutcome:
        """Record the delivery and enqueue its jobs in one atomic step.

        Raises `QueueUnavailable` when Redis cannot be reached; nothing is half-written.
        """
        future: asyncio.Future[EnqueueOutcome] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(delivery_id, specs, body, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await self._run_batch(batch)
            except (RedisError, OSError) as exc:
                error = QueueUnavailable(f"redis unreachable: {type(exc).__name__}: {exc}")
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(error)
                continue
            for item, result in zip(batch, results, strict=True):
                if not item.future.done():
                    item.future.set_result(_outcome(item.specs, result))

    async def _run_batch(self, batch: list[_Pending]) -> list[object]:
        keys, argv = self._arguments(batch, int(time.time() * 1000))
        if self._sha is None:
            self._sha = await self._redis.script_load(_ENQUEUE_LUA)
        try:
            results = await self._evalsha(self._sha, keys, argv)
        except NoScriptError:
            # Redis restarted and forgot the script: load it again, once.
            self._sha = await self._redis.script_load(_ENQUEUE_LUA)
            results = await self._evalsha(self._sha, keys, argv)
        if not isinstance(results, list) or len(results) != len(batch):
            raise RedisError(f"enqueue script answered {results!r:.80}")
        return results

    async def _evalsha(self, sha: str, keys: list[str], argv: list[Any]) -> object:
        # redis-py types evalsha as sync-or-async; on the asyncio client it is awaitable.
        pending = cast("Awaitable[object]", self._redis.evalsha(sha, len(keys), *keys, *argv))
        return await pending

    def _arguments(self, batch: list[_Pending], now_ms: int) -> tuple[list[str], list[Any]]:
        keys: list[str] = [self._queue_name]
        argv: list[Any] = [self._ttl_s, now_ms, expires_extra_ms]
        for item in batch:
            keys.append(DELIVERY_KEY_PREFIX + item.delivery_id)
            argv.append(len(item.specs))
            for spec in item.specs:
                keys += [job_key_prefix + spec.job_id, result_key_prefix + spec.job_id]
                argv.append(
                    serialize_job(
                        spec.function,
                        (spec.to_json(), item.body),
                        {},
                        None,
                        now_ms,
                        serializer=serialize,
                    )
                )
        return keys, argv


def _outcome(specs: Sequence[JobSpec], result: object) -> EnqueueOutcome:
    if result == -1:
        return EnqueueOutcome(duplicate=True)
    flags = result if isinstance(result, list) else []
    queued = tuple(s.job_id for s, f in zip(specs, flags, strict=False) if f == 1)
    existing = tuple(s.job_id for s, f in zip(specs, flags, strict=False) if f != 1)
    return EnqueueOutcome(duplicate=False, queued=queued, existing=existing)
