"""Where a repository's sweep cursor lives: in Redis, and on the dashboard issue on GitHub,
which is the record it is rebuilt from when Redis lost it (a flushed or new Redis)."""

from __future__ import annotations

import logging
from typing import Final, Literal

from redis.asyncio import Redis

from agents.rotation import Coverage, Cursor, cursor_from_json
from bot.github import InstallationClient
from bot.publish import Status, find_dashboard, status_of

__all__ = ["CURSOR_TTL_S", "cursor_key", "dashboard_status", "load_cursor", "save_cursor"]

log = logging.getLogger("ambient.flow.sweep")

#: A cursor outlives a year of monthly sweeps; one left by an uninstalled repository goes.
CURSOR_TTL_S: Final = 400 * 24 * 3600
Origin = Literal["redis", "dashboard", "start"]


def cursor_key(full_name: str) -> str:
    """The Redis key of `full_name`'s cursor."""
    return f"ambient:sweep-cursor:{full_name}"


async def load_cursor(
    redis: Redis, gh: InstallationClient, full_name: str
) -> tuple[Cursor, Origin]:
    """The repository's cursor from Redis, else rebuilt from the dashboard's record on GitHub,
    else the beginning; and where it came from."""
    stored = await redis.get(cursor_key(full_name))
    if stored is not None:
        text = stored.decode() if isinstance(stored, bytes) else str(stored)
        cursor = cursor_from_json(text)
        if cursor is not None:
            return cursor, "redis"
    issue = await find_dashboard(gh)
    status = status_of(issue.body) if issue is not None else None
    cursor = cursor_from_json(status.cursor) if status is not None else None
    if cursor is not None:
        log.info("sweep cursor of %s rebuilt from the dashboard", full_name)
        return cursor, "dashboard"
    return Cursor(), "start"


async def save_cursor(redis: Redis, full_name: str, cursor: Cursor) -> None:
    """Keep `cursor` in Redis (the dashboard gets it too, with the sweep's status)."""
    await redis.set(cursor_key(full_name), cursor.to_json(), ex=CURSOR_TTL_S)


def dashboard_status(cursor: Cursor, coverage: Coverage) -> Status:
    """What the dashboard shows and records of the sweeps."""
    return Status(coverage.line(), cursor.to_json())
