"""`limits.jobs_per_user_per_day`: how many jobs one person may start by comment in a UTC day.

One Redis counter per repository, user and UTC day (INCR, kept for two days). A job counts once
however often it is retried: its own key, set only if absent, remembers the count it was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from redis.asyncio import Redis

__all__ = [
    "KEEP_S",
    "Allowance",
    "count_job",
    "day_key",
    "decide",
    "job_key",
    "limit_reply",
]

#: Counters outlive their day by one so a job started just before midnight still finds its own.
KEEP_S: Final = 2 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Allowance:
    """Whether the job may run: the how-many-th job of the day it is, against the limit."""

    allowed: bool
    count: int
    limit: int
    resets_at: datetime


def day_key(full_name: str, user: str, day: date) -> str:
    """The counter of `user`'s jobs on `full_name` ("owner/repo") on UTC day `day`."""
    return f"ambient:limit:{full_name.lower()}:{user.lower()}:{day.isoformat()}"


def job_key(job_id: str) -> str:
    """Where a job keeps the count it was given, so a retry does not count again."""
    return f"ambient:limit:job:{job_id}"


def decide(count: int, limit: int, now: datetime) -> Allowance:
    """The job that is the `count`-th of the UTC day of `now` runs if `count` <= `limit`.

    `count` 0 means the job was counted before but its count was lost (a crash between the
    two writes): it runs, since it was admitted once already.
    """
    midnight = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), UTC)
    return Allowance(count <= limit, count, limit, midnight)


def limit_reply(user: str, allowance: Allowance) -> str:
    """The one polite line for a person over the limit."""
    resets = allowance.resets_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"@{user} you have reached this repository's limit of {allowance.limit} jobs a day "
        f"(`limits.jobs_per_user_per_day`); it resets at {resets}. Nothing was run."
    )


async def count_job(
    client: Redis,
    full_name: str,
    user: str,
    job_id: str,
    limit: int,
    now: datetime,
) -> Allowance:
    """Count job `job_id` against `user`'s day on `full_name` (once per job id) and decide."""
    mine = job_key(job_id)
    if await client.set(mine, 0, nx=True, ex=KEEP_S):
        key = day_key(full_name, user, now.astimezone(UTC).date())
        async with client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, KEEP_S)
            count, _ = await pipe.execute()
        await client.set(mine, int(count), ex=KEEP_S)
    else:
        stored = await client.get(mine)
        count = int(stored or 0)
    return decide(int(count), limit, now)
