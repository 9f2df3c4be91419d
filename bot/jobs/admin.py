"""The gateway to arq's job state in Redis for `ambient jobs`: read every job, re-enqueue one.

One job is read with arq's own `Job.status()` / `Job.info()`. All jobs are read here rather
than with `ArqRedis.queued_jobs()` / `all_job_results()`, because on a live queue those
- fetch one key per job concurrently, a pooled connection each (thousands of jobs open
  thousands of connections), and find results with `KEYS`, which blocks Redis;
- raise when a job finishes, or a result expires, between their two reads, and when one
  record does not decode, so one moving job fails the whole listing.
Here the queue is read first and the results second, in pipelined chunks, so a job that
finishes in between is seen once, finished. Records are still decoded by arq's own
`deserialize_job` / `deserialize_result`, with Ambient's JSON deserializer (bot/ingress/enqueue.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final, TypeVar, cast

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import (
    default_queue_name,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.jobs import DeserializationError, Job, JobStatus, deserialize_job, deserialize_result
from arq.jobs import JobResult as ArqResult
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from bot.errors import QueueUnavailable
from bot.events import deserialize, serialize
from bot.jobs.records import (
    JobRecord,
    RetryStep,
    State,
    attempt_of,
    finished_record,
    link_retries,
    queued_record,
)
from bot.redact import redact, without_password

__all__ = ["JobStore", "open_store"]

#: Keys per pipelined round trip: large enough to list thousands of jobs in a few trips,
#: small enough that no single reply holds up Redis.
CHUNK: Final = 500
#: How many later attempts `get` follows (`:retry1`, `:retry2`, …) before it stops looking.
MAX_ATTEMPTS: Final = 100
_LATEST: Final = datetime.max.replace(tzinfo=UTC)

T = TypeVar("T")


class JobStore:
    """arq's jobs in one Redis database; get one with `open_store`."""

    def __init__(self, pool: ArqRedis, queue_name: str = default_queue_name) -> None:
        self._pool = pool
        self._queue = queue_name

    async def snapshot(self) -> list[JobRecord]:
        """Every job arq knows: queued, running, and those whose result it keeps (24 h)."""
        records: dict[str, JobRecord] = {}
        queue = await self._pool.zrange(self._queue, 0, -1, withscores=True)
        for chunk in _chunks(queue):
            async with self._pool.pipeline(transaction=False) as pipe:
                for raw_id, _ in chunk:
                    job_id = _text(raw_id)
                    pipe.get(job_key_prefix + job_id)
                    pipe.exists(in_progress_key_prefix + job_id)
                    pipe.get(retry_key_prefix + job_id)
                values = await pipe.execute()
            for index, (raw_id, score) in enumerate(chunk):
                raw, running, tries = values[3 * index : 3 * index + 3]
                if raw is None:
                    continue  # it finished since the queue was read: its result is read below
                job_id = _text(raw_id)
                records[job_id] = _queued(job_id, raw, bool(running), int(tries or 0), score)
        keys = [
            key async for key in self._pool.scan_iter(match=result_key_prefix + "*", count=1000)
        ]
        for chunk in _chunks(keys):
            for key, raw in zip(chunk, await self._pool.mget(chunk), strict=True):
                if raw is not None:  # None: the result expired since the scan
                    job_id = _text(key)[len(result_key_prefix) :]
                    records[job_id] = _finished(job_id, raw)
        ordered = sorted(records.values(), key=lambda r: (r.enqueued_at or _LATEST, r.id))
        return link_retries(ordered)

    async def get(self, job_id: str) -> JobRecord | None:
        """One job by id, or None when Redis has nothing under it (results expire after 24 h)."""
        job = Job(job_id, self._pool, _queue_name=self._queue, _deserializer=deserialize)
        try:
            status = await job.status()
            info = await job.info()
        except DeserializationError as exc:
            return _undecodable(job_id, "failed", exc)
        if info is None:
            return None
        if isinstance(info, ArqResult):
            record = finished_record(job_id, info)
        else:
            tries = await self._pool.get(retry_key_prefix + job_id)
            running = status is JobStatus.in_progress
            record = queued_record(
                job_id, info, running=running, tries=int(tries or 0), score=info.score
            )
        return replace(record, retried_as=await self._latest_attempt(job_id))

    async def enqueue_retry(self, step: RetryStep) -> bool:
        """Enqueue `step.job`'s call under `step.new_id`; False when that id already exists.

        arq's `enqueue_job` refuses an id that has a job or a result, atomically, so two
        operators retrying at once enqueue one job.
        """
        if step.new_id is None:
            return False
        made = await self._pool.enqueue_job(
            step.job.function,
            *step.job.args,
            _job_id=step.new_id,
            _queue_name=self._queue,
            **cast("dict[str, Any]", step.job.kwargs),
        )
        return made is not None

    async def _latest_attempt(self, job_id: str) -> str | None:
        base, attempt = attempt_of(job_id)
        latest = None
        for later in range(attempt + 1, attempt + 1 + MAX_ATTEMPTS):
            candidate = f"{base}:retry{later}"
            if not await self._pool.exists(
                job_key_prefix + candidate, result_key_prefix + candidate
            ):
                break
            latest = candidate
        return latest


@asynccontextmanager
async def open_store(redis_url: str) -> AsyncIterator[JobStore]:
    """A `JobStore` on `redis_url`, closed on exit.

    Raises `QueueUnavailable` with a one-line message that names the URL without its password,
    when Redis cannot be reached or fails a command, at connection or inside the block.
    """
    where = without_password(redis_url)
    try:
        # One attempt: an operator wants the error now, not after arq's five retries.
        settings = replace(RedisSettings.from_dsn(redis_url), conn_retries=0)
    except (RuntimeError, ValueError) as exc:
        raise QueueUnavailable(f"redis unreachable at {where}: not a Redis URL ({exc})") from None
    pool: ArqRedis | None = None
    try:
        pool = await create_pool(settings, job_serializer=serialize, job_deserializer=deserialize)
        yield JobStore(pool)
    except (RedisConnectionError, OSError) as exc:
        raise QueueUnavailable(f"redis unreachable at {where}: {_reason(exc)}") from None
    except RedisError as exc:
        raise QueueUnavailable(f"redis at {where} failed: {_reason(exc)}") from None
    finally:
        if pool is not None:
            await pool.aclose()


def _queued(job_id: str, raw: bytes, running: bool, tries: int, score: float) -> JobRecord:
    try:
        job = deserialize_job(raw, deserializer=deserialize)
    except DeserializationError as exc:
        return _undecodable(job_id, "running" if running else "queued", exc)
    return queued_record(job_id, job, running=running, tries=tries, score=score)


def _finished(job_id: str, raw: bytes) -> JobRecord:
    try:
        result = deserialize_result(raw, deserializer=deserialize)
    except DeserializationError as exc:
        return _undecodable(job_id, "failed", exc)
    return finished_record(job_id, result)


def _undecodable(job_id: str, state: State, exc: DeserializationError) -> JobRecord:
    # Shown rather than skipped: an operator should see a record no worker can read either.
    cause = exc.__cause__ or exc
    why = f"its stored record does not decode ({type(cause).__name__})"
    return JobRecord(id=job_id, function="?", state=state, reason=why)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact(text)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _chunks(items: Sequence[T]) -> list[Sequence[T]]:
    return [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]
