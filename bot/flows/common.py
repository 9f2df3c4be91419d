"""Steps the GitHub fix flows share: the job's check run and stored report, the repository
config from the default branch, and the fixer's loop verified in the sandbox.

A job's check run and finished report are kept in Redis under its job id, so a retried job
updates the same check run and re-sends the same report instead of publishing again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from redis.asyncio import Redis

from agents.fixer import Fixer, FixResult, FixTask
from agents.llm import LLM
from bot.config import Settings
from bot.git import Workspace
from bot.github import CheckRunRef, InstallationClient
from bot.pipeline import checked, read_checks
from bot.publish import FixSummary
from bot.repo_config import CONFIG_PATHS, ConfigOutcome, parse_repo_config
from sandbox import Command, CommandPolicy, open_sandbox
from sandbox.policy import DEFAULT_PATTERNS

__all__ = [
    "COMMAND_TIMEOUT_S",
    "REPORT_TTL_S",
    "Checks",
    "check_run",
    "checked",
    "checks_of",
    "known_check",
    "repo_config",
    "run_fixer",
    "store",
    "stored",
]

REPORT_TTL_S: Final = 7 * 24 * 3600
COMMAND_TIMEOUT_S: Final = 600.0


def _key(job_id: str, what: str) -> str:
    return f"ambient:fix:{job_id}:{what}"


async def stored(redis: Redis, job_id: str) -> FixSummary | None:
    """The finished report of `job_id`, when a previous run of the job made one."""
    raw = await redis.get(_key(job_id, "report"))
    return None if raw is None else FixSummary(**json.loads(raw))


async def store(redis: Redis, job_id: str, summary: FixSummary) -> None:
    """Keep the finished report of `job_id` for a week."""
    await redis.set(_key(job_id, "report"), json.dumps(asdict(summary)), ex=REPORT_TTL_S)


async def known_check(redis: Redis, job_id: str) -> CheckRunRef | None:
    """The check run `job_id` created, if it created one."""
    known = await redis.get(_key(job_id, "check"))
    if known is None:
        return None
    ident, _, url = (known.decode() if isinstance(known, bytes) else str(known)).partition(" ")
    return CheckRunRef(int(ident), url)


async def check_run(
    redis: Redis, gh: InstallationClient, job_id: str, head_sha: str, name: str, title: str
) -> CheckRunRef:
    """The job's check run: created once, found again by a retried job."""
    known = await known_check(redis, job_id)
    if known is not None:
        return known
    check = await gh.create_check_run(
        name, head_sha, title=title, summary="Ambient is working on it."
    )
    await redis.set(_key(job_id, "check"), f"{check.id} {check.url}", ex=REPORT_TTL_S)
    return check


async def repo_config(gh: InstallationClient, default_branch: str) -> ConfigOutcome:
    """The repository config from the default branch (never a PR head), or the defaults."""
    for path in CONFIG_PATHS:
        content = await gh.read_file(path, default_branch)
        if content is not None:
            return parse_repo_config(content.decode("utf-8", "replace"), path)
    return parse_repo_config("", CONFIG_PATHS[0])


@dataclass(frozen=True, slots=True)
class Checks:
    """The repository's checks: configured in the repo config, else detected in the checkout."""

    lines: tuple[str, ...]
    policy: CommandPolicy
    commands: tuple[Command, ...]


def checks_of(config: ConfigOutcome, worktree: Path) -> Checks:
    """The checks to run on `worktree` and the command policy that admits them."""
    detected = read_checks(worktree)
    verify = config.config.verify
    lines = tuple(verify.commands) or tuple(detected.commands)
    policy = CommandPolicy((*DEFAULT_PATTERNS, *detected.allow, *verify.allow), "repository")
    commands = tuple(Command.parse(line, timeout_s=COMMAND_TIMEOUT_S) for line in lines)
    return Checks(lines, policy, commands)


async def run_fixer(
    model: LLM,
    settings: Settings,
    config: ConfigOutcome,
    task: FixTask,
    workspace: Workspace,
    worktree: Path,
) -> FixResult:
    """The fixer's loop, each round verified by the repository's checks in the sandbox."""
    checks = checks_of(config, worktree)
    async with open_sandbox(
        settings.sandbox,
        worktree,
        policy=checks.policy,
        image=settings.sandbox_image,
        runtime=settings.sandbox_runtime,
    ) as box:
        return await Fixer(model, policy=config.config.path_policy()).fix(
            FixTask(task.instructions, task.log, task.touched, checks.lines),
            worktree,
            verify=lambda: checked(worktree, box, checks.commands),
            reset=lambda: workspace.reset(worktree),
        )
