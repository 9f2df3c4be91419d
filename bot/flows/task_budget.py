"""`tasks.daily_token_budget`: the model tokens a repository's task and follow-up jobs may use
in a UTC day. One Redis counter per repository and day; a job's limit is the smaller of its own
budget and what is left of the day's, and the job's `BudgetedModel` enforces it."""

from __future__ import annotations

from datetime import date
from typing import Final

from redis.asyncio import Redis

from bot.errors import Permanent

__all__ = ["DailyBudgetSpent", "job_limit", "spend"]

KEEP_S: Final = 2 * 24 * 3600


class DailyBudgetSpent(Permanent):
    """The repository's tokens for the day are spent; the job does not start."""


def _key(full_name: str, day: date) -> str:
    return f"ambient:tasks:tokens:{full_name.lower()}:{day.isoformat()}"


async def job_limit(
    redis: Redis, full_name: str, day: date, job_budget: int, daily_budget: int
) -> tuple[int, int]:
    """(the job's token limit, the day's tokens left before it); `DailyBudgetSpent` at none."""
    used = int(await redis.get(_key(full_name, day)) or 0)
    left = max(0, daily_budget - used)
    if left == 0:
        raise DailyBudgetSpent(
            f"this repository's daily model budget is spent ({used:,} of {daily_budget:,} "
            "tokens, `tasks.daily_token_budget`); it resets at 00:00 UTC"
        )
    return min(job_budget, left), left


async def spend(redis: Redis, full_name: str, day: date, tokens: int) -> None:
    """Add a job's tokens to the repository's day."""
    if tokens <= 0:
        return
    key = _key(full_name, day)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incrby(key, tokens)
        pipe.expire(key, KEEP_S)
        await pipe.execute()
