"""The resources a worker builds once at start-up and hands to every job as `ctx["deps"]`."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from bot.config import Settings

__all__ = ["Deps"]


@dataclass(frozen=True, slots=True)
class Deps:
    """Everything a job may use; built in `on_startup`, never mutated."""

    settings: Settings
    redis: Redis
