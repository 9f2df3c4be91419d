"""Steps the GitHub flows share: who may trigger work, the job's check run and stored report,
the repository config from the default branch (and the checks it gives), and the fixer's loop
verified in the sandbox.

A job's check runs and finished report are kept in Redis under its job id, so a retried job
updates the same check runs and re-sends the same report instead of publishing again. The run
a job starts on the commit it was asked about shows it working; the evidence of a published
fix goes in a run on the published commit, the commit it proves.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Final

from redis.asyncio import Redis

from agents.fixer import Fixer, FixResult, FixTask
from agents.llm import LLM
from bot.config import Settings
from bot.git import Workspace
from bot.github import CheckRunRef, InstallationClient
from bot.pipeline import (
    Environments,
    PipelineConfig,
    SetupChoice,
    checked,
    detected_checks,
)
from bot.publish import FixSummary, moved_summary, refusal_reply
from bot.repo_config import CONFIG_PATHS, ConfigOutcome, RepoConfig, parse_repo_config
from sandbox import Command, CommandPolicy, Sandbox
from sandbox.policy import DEFAULT_PATTERNS

__all__ = [
    "COMMAND_TIMEOUT_S",
    "REPORT_TTL_S",
    "WRITE_ROLES",
    "Checks",
    "check_run",
    "checked",
    "checks_of",
    "checks_sandbox",
    "config_source",
    "finish_checks",
    "known_check",
    "may_trigger",
    "prove",
    "refused_unless_writer",
    "repo_config",
    "run_fixer",
    "setup_choice",
    "store",
    "stored",
    "with_config",
]

REPORT_TTL_S: Final = 7 * 24 * 3600
COMMAND_TIMEOUT_S: Final = 600.0
WRITE_ROLES: Final = frozenset({"write", "maintain", "admin"})


def may_trigger(role: str) -> bool:
    """Whether a person with repository `role` may trigger work (DESIGN invariant 5)."""
    return role in WRITE_ROLES


async def refused_unless_writer(
    gh: InstallationClient, login: str, number: int, marker: str
) -> dict[str, object] | None:
    """None when `login` may write to the repository; otherwise one polite reply on issue or PR
    `number` (found again by `marker` when the job repeats) and the job's result."""
    role = await gh.permission_of(login)
    if may_trigger(role):
        return None
    await gh.find_or_create_comment(number, marker, refusal_reply(login, role))
    return {"status": "refused", "role": role}


def _key(job_id: str, what: str) -> str:
    return f"ambient:fix:{job_id}:{what}"


async def stored(redis: Redis, job_id: str) -> FixSummary | None:
    """The finished report of `job_id`, when a previous run of the job made one."""
    raw = await redis.get(_key(job_id, "report"))
    return None if raw is None else FixSummary(**json.loads(raw))


async def store(redis: Redis, job_id: str, summary: FixSummary) -> None:
    """Keep the finished report of `job_id` for a week."""
    await redis.set(_key(job_id, "report"), json.dumps(asdict(summary)), ex=REPORT_TTL_S)


async def known_check(redis: Redis, job_id: str, slot: str = "check") -> CheckRunRef | None:
    """The check run `job_id` created in `slot`, if it created one: "check" is the run it
    started on the commit it was asked about, "evidence:<sha>" the one holding its evidence."""
    known = await redis.get(_key(job_id, slot))
    if known is None:
        return None
    ident, _, url = (known.decode() if isinstance(known, bytes) else str(known)).partition(" ")
    return CheckRunRef(int(ident), url)


async def _remember(redis: Redis, job_id: str, slot: str, check: CheckRunRef) -> None:
    await redis.set(_key(job_id, slot), f"{check.id} {check.url}", ex=REPORT_TTL_S)


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
    await _remember(redis, job_id, "check", check)
    return check


async def prove(
    redis: Redis,
    gh: InstallationClient,
    job_id: str,
    sha: str,
    name: str,
    *,
    title: str,
    text: str,
    conclusion: str,
) -> CheckRunRef:
    """Put a job's evidence in a completed check run on `sha`, the commit it proves.

    The run this job made there before is updated (a retried job); else a run of the App's
    with that name already completed on the commit is that commit's evidence and stands (a
    later job that reused the branch did not make the commit); else a new run is made.
    """
    slot = f"evidence:{sha}"
    check = await known_check(redis, job_id, slot)
    if check is None:
        found = await gh.app_check_run(sha, name)
        if found is not None and found.completed:
            return found.check
        if found is not None:
            check = found.check
        else:
            check = await gh.create_check_run(name, sha, title=title, summary=text)
        await _remember(redis, job_id, slot, check)
    await gh.update_check_run(check, title=title, summary=text, conclusion=conclusion)
    return check


async def finish_checks(
    redis: Redis,
    gh: InstallationClient,
    job_id: str,
    working: CheckRunRef,
    name: str,
    summary: FixSummary,
) -> None:
    """End a fix job's check runs: the report of a published commit goes in a run on that
    commit, and the `working` run (on the commit the job was asked about) says where it is;
    any other report ends the `working` run itself."""
    if not summary.commit:
        await gh.update_check_run(
            working, title=summary.title, summary=summary.text, conclusion=summary.conclusion
        )
        return
    evidence = await prove(
        redis,
        gh,
        job_id,
        summary.commit,
        name,
        title=summary.title,
        text=summary.text,
        conclusion=summary.conclusion,
    )
    moved = moved_summary(summary, evidence.url)
    await gh.update_check_run(
        working, title=moved.title, summary=moved.text, conclusion=moved.conclusion
    )


async def repo_config(gh: InstallationClient, default_branch: str) -> ConfigOutcome:
    """The repository config from the default branch (never a PR head), or the defaults (whose
    `source` is None)."""
    for path in CONFIG_PATHS:
        content = await gh.read_file(path, default_branch)
        if content is not None:
            return parse_repo_config(content.decode("utf-8", "replace"), path)
    return ConfigOutcome(RepoConfig())


def config_source(config: ConfigOutcome, branch: str) -> str:
    """Which config counted, for reports: the default branch's file, or the defaults."""
    verify = config.config.verify
    checks = (
        "checks from its verify.commands" if verify.commands else "checks detected in the checkout"
    )
    if config.source is None:
        return f"defaults (no {CONFIG_PATHS[0]} on {branch}); {checks}"
    return f"{config.source} on {branch}; {checks}"


def with_config(summary: FixSummary, config: ConfigOutcome, branch: str) -> FixSummary:
    """`summary` with its check-run text ending in which config counted."""
    return replace(summary, text=f"{summary.text}\n\n**Config:** {config_source(config, branch)}")


@dataclass(frozen=True, slots=True)
class Checks:
    """The repository's checks: the default branch's `verify`, else detected in the checkout."""

    lines: tuple[str, ...]
    policy: CommandPolicy
    commands: tuple[Command, ...]


def checks_of(config: ConfigOutcome, worktree: Path) -> Checks:
    """The checks to run on `worktree` and the command policy that admits them, from `config`
    (the default branch's) or else from the files of `worktree`; the config file in `worktree`
    is never read, so a PR head cannot choose what verifies it (DESIGN invariant 5).

    A wrong `verify` key takes its default like any other (the report lists every problem and
    says which checks ran): a typo never stops a job.
    """
    verify = config.config.verify
    lines = tuple(verify.commands) or detected_checks(worktree)
    policy = CommandPolicy((*DEFAULT_PATTERNS, *verify.allow), "repository")
    commands = tuple(Command.parse(line, timeout_s=COMMAND_TIMEOUT_S) for line in lines)
    return Checks(lines, policy, commands)


def setup_choice(
    environments: Environments | None, config: ConfigOutcome, installation_id: int, full_name: str
) -> SetupChoice:
    """How the repository's environment is set up: its default branch's `setup` section, in a
    cache of its own (never shared across repositories or installations)."""
    wanted = config.config.setup
    scope = f"installation {installation_id}: {full_name}"
    return SetupChoice(environments, scope, tuple(wanted.commands), wanted.python)


def checks_sandbox(
    settings: Settings, setup: SetupChoice, worktree: Path, checks: Checks
) -> AbstractAsyncContextManager[Sandbox]:
    """A sandbox for the checks of `worktree`, in its set-up environment (`SetupFailed` when
    that cannot be set up; see `PipelineConfig.checks_on`)."""
    return PipelineConfig.from_settings(settings, setup=setup).checks_on(worktree, checks.policy)


async def run_fixer(
    model: LLM,
    settings: Settings,
    config: ConfigOutcome,
    task: FixTask,
    workspace: Workspace,
    worktree: Path,
    setup: SetupChoice | None = None,
) -> FixResult:
    """The fixer's loop, each round verified by the repository's checks in the sandbox, in
    the repository's set-up environment."""
    checks = checks_of(config, worktree)
    async with checks_sandbox(settings, setup or SetupChoice(), worktree, checks) as box:
        return await Fixer(model, policy=config.config.path_policy()).fix(
            FixTask(task.instructions, task.log, task.touched, checks.lines),
            worktree,
            verify=lambda: checked(worktree, box, checks.commands),
            reset=lambda: workspace.reset(worktree),
        )
