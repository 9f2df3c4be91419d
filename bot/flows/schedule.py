"""When a repository's scheduled sweep is due: `sweep.schedule` read against the cron's day.

The cron runs every day and enqueues one job per installed repository; the job reads the
repository's config (from the default branch) and sweeps only if its schedule's period (the
day, the ISO week or the month) has not been claimed yet. `sweep_period` is pure; the claim is
one Redis `SET NX` holding the job id, so the job itself, retried after a crash, passes again.

A weekly repository is swept by the first run of each ISO week: on Mondays when the workers run,
or on the first day after they come back when they were down on Monday. A monthly one is swept by
the first run of the month. A period is claimed before the sweep starts: a sweep that fails for
good is not run again until the next period (arq's own retries of the same job still run).
"""

from __future__ import annotations

from datetime import date
from typing import Final, Literal

from redis.asyncio import Redis

__all__ = ["CLAIM_TTL_S", "Schedule", "claim_key", "claim_period", "sweep_period"]

Schedule = Literal["daily", "weekly", "monthly"]

_DAY_S: Final = 24 * 3600
#: How long a claim is kept: past the end of its period, so a late run cannot claim it again.
CLAIM_TTL_S: Final[dict[Schedule, int]] = {
    "daily": 2 * _DAY_S,
    "weekly": 8 * _DAY_S,
    "monthly": 32 * _DAY_S,
}


def sweep_period(schedule: Schedule, day: date) -> str:
    """The period `day` falls in: `2026-11-23` (daily), `2026-W48` (weekly), `2026-11` (monthly).

    Weeks are ISO weeks: Monday to Sunday, numbered in the ISO year, so 2027-01-01 (a Friday)
    is in `2026-W53` and 2024-12-30 (a Monday) in `2025-W01`.
    """
    if schedule == "daily":
        return day.isoformat()
    if schedule == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def claim_key(repo_id: int, period: str) -> str:
    """The Redis key that marks `period` as swept for repository `repo_id`."""
    return f"ambient:sweep:{repo_id}:{period}"


async def claim_period(redis: Redis, repo_id: int, period: str, job_id: str, ttl_s: int) -> bool:
    """Claim `period` for `job_id`: True when it is this job's (first claim, or this job's own
    retry), False when another job has swept, or is sweeping, this period."""
    key = claim_key(repo_id, period)
    if await redis.set(key, job_id, nx=True, ex=ttl_s):
        return True
    holder = await redis.get(key)
    held = holder.decode() if isinstance(holder, bytes) else holder
    return held == job_id
