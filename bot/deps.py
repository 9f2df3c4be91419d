"""The resources a worker builds once at start-up and hands to every job as `ctx["deps"]`."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from agents.llm import LLM
from bot.config import Settings
from bot.github import GitHubApp
from bot.pipeline import Environments

__all__ = ["Deps"]


@dataclass(frozen=True, slots=True)
class Deps:
    """Everything a job may use; built in `on_startup`, never mutated.

    `github` is None when the App's id or key is not configured, `model` when no model is:
    jobs that need them report so in one line instead of starting. `environments` sets up
    repositories' environments before their checks (None: the checks run without a setup).
    """

    settings: Settings
    redis: Redis
    github: GitHubApp | None = None
    model: LLM | None = None
    environments: Environments | None = None
