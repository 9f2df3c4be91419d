"""`@<app-slug> fix this` on a pull request: the GitHub twin of `bot.local.local_fix`.

authorise → 👀 → check run → config from the default branch → clone at the PR head → fixer in
the sandbox → gates → has the head moved? → publish → finish the check run → one reply.

Every step is safe to repeat: the reply and the check run are keyed by the job id, the fix
branch name comes from the PR and its head, and the finished report is kept in Redis, so a
retried job re-sends the same report instead of publishing again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from redis.asyncio import Redis

from agents.fixer import Fixer, FixResult, FixTask
from agents.llm import LLM, BudgetedModel
from agents.usage import TokenBudget
from bot.config import Settings
from bot.deps import Deps
from bot.errors import ConfigError, Permanent
from bot.flow_report import Facts, FixSummary, failed_summary, outcome_summary, refusal_reply
from bot.gates import Timings, pass_gates
from bot.github import InstallationClient
from bot.github_retry import GitHubNotFound
from bot.github_values import CheckRunRef, PullRequest, hidden_marker
from bot.pipeline import Outcome, artifacts_discarded, finish
from bot.publish_github import GitHubPublisher, HeadMoved, fix_target
from bot.repo_config import CONFIG_PATHS, ConfigOutcome, parse_repo_config
from bot.verify import Verification, run_checks
from bot.workspace import Workspace
from sandbox import Command, CommandPolicy, Sandbox, open_sandbox
from sandbox.checks import read_checks
from sandbox.policy import DEFAULT_PATTERNS

__all__ = ["CHECK_NAME", "PERMISSIONS", "FixRequest", "fix_pull_request"]

log = logging.getLogger("ambient.flow.fix")

CHECK_NAME: Final = "Ambient fix"
#: The installation token's scope for this job: this repository, and only these.
PERMISSIONS: Final[Mapping[str, str]] = {
    "contents": "write",
    "pull_requests": "write",
    "checks": "write",
    "issues": "write",
    "actions": "read",
    "metadata": "read",
}
WRITE_ROLES: Final = frozenset({"write", "maintain", "admin"})
MAX_LOG_CHARS: Final = 20_000
REPORT_TTL_S: Final = 7 * 24 * 3600
COMMAND_TIMEOUT_S: Final = 600.0
DEFAULT_TASK: Final = "Make the failing checks of this pull request pass."


@dataclass(frozen=True, slots=True)
class FixRequest:
    """One `fix` command: where, by whom, and the instructions after it."""

    job_id: str
    installation_id: int
    owner: str
    repo: str
    number: int
    comment_id: int
    commenter: str
    commenter_is_bot: bool
    instructions: str = ""


async def fix_pull_request(deps: Deps, request: FixRequest) -> dict[str, object]:
    """Run the whole flow for `request`; a Permanent failure ends as one line on the check run
    and in the reply. Retryable errors propagate (the job is retried; every step repeats)."""
    if request.commenter_is_bot:
        return {"status": "ignored", "reason": "bots do not trigger work"}
    if deps.github is None:
        raise ConfigError("AMBIENT_GITHUB_APP_ID and the App's private key are not set")
    gh = await deps.github.installation_client(
        request.installation_id, request.owner, request.repo, PERMISSIONS
    )
    marker = hidden_marker(f"job:{request.job_id}")
    role = await gh.permission_of(request.commenter)
    if role not in WRITE_ROLES:
        await gh.find_or_create_comment(
            request.number, marker, refusal_reply(request.commenter, role)
        )
        return {"status": "refused", "role": role}
    try:
        await gh.add_reaction("eyes", comment_id=request.comment_id)
    except GitHubNotFound:
        # The comment was deleted meanwhile: the request still stands, and the reply says so.
        log.info("comment %s is gone; no reaction", request.comment_id)
    pull = await gh.get_pull(request.number)
    if pull.state != "open":
        said = f"#{pull.number} is {pull.state}; I fix open pull requests only. Nothing was run."
        await gh.find_or_create_comment(request.number, marker, said)
        return {"status": "refused", "reason": said}
    check = await _check_run(deps.redis, gh, request.job_id, pull.head_sha)
    summary = await _stored(deps.redis, request.job_id)
    if summary is None:
        try:
            summary = await _work(deps, gh, request, pull)
        except Permanent as exc:
            summary = failed_summary(str(exc), check.url)
        await deps.redis.set(_key(request.job_id, "report"), _dump(summary), ex=REPORT_TTL_S)
    await gh.update_check_run(
        check, title=summary.title, summary=summary.text, conclusion=summary.conclusion
    )
    await gh.find_or_create_comment(request.number, marker, summary.reply)
    return {"status": summary.conclusion, "title": summary.title, "detail": summary.text[:500]}


async def report_unfinished(deps: Deps, request: FixRequest, reason: str) -> None:
    """Fail the check run and reply once when the job ended without its own report (it crashed,
    or a transient failure outlasted its retries): the user is never left waiting."""
    if deps.github is None or request.commenter_is_bot:
        return
    gh = await deps.github.installation_client(
        request.installation_id, request.owner, request.repo, PERMISSIONS
    )
    summary = failed_summary(reason, "")
    known = await deps.redis.get(_key(request.job_id, "check"))
    if known is not None:
        ident, _, url = (known.decode() if isinstance(known, bytes) else str(known)).partition(" ")
        check = CheckRunRef(int(ident), url)
        await gh.update_check_run(
            check, title=summary.title, summary=summary.text, conclusion=summary.conclusion
        )
    await gh.find_or_create_comment(
        request.number, hidden_marker(f"job:{request.job_id}"), summary.reply
    )


def _key(job_id: str, what: str) -> str:
    return f"ambient:fix:{job_id}:{what}"


def _dump(summary: FixSummary) -> str:
    return json.dumps(asdict(summary))


async def _stored(redis: Redis, job_id: str) -> FixSummary | None:
    raw = await redis.get(_key(job_id, "report"))
    return None if raw is None else FixSummary(**json.loads(raw))


async def _check_run(
    redis: Redis, gh: InstallationClient, job_id: str, head_sha: str
) -> CheckRunRef:
    """The job's check run: created once, found again by a retried job."""
    key = _key(job_id, "check")
    known = await redis.get(key)
    if known is not None:
        ident, _, url = (known.decode() if isinstance(known, bytes) else str(known)).partition(" ")
        return CheckRunRef(int(ident), url)
    check = await gh.create_check_run(
        CHECK_NAME, head_sha, title="Fixing this pull request", summary="Ambient is working on it."
    )
    await redis.set(key, f"{check.id} {check.url}", ex=REPORT_TTL_S)
    return check


async def _repo_config(gh: InstallationClient, default_branch: str) -> ConfigOutcome:
    """The repository config from the default branch (never the PR head), or the defaults."""
    for path in CONFIG_PATHS:
        content = await gh.read_file(path, default_branch)
        if content is not None:
            return parse_repo_config(content.decode("utf-8", "replace"), path)
    return parse_repo_config("", CONFIG_PATHS[0])


async def _failing_logs(gh: InstallationClient, sha: str) -> str:
    """The tails of the logs of the failed checks on `sha` (Actions jobs; others have none)."""
    logs = await gh.failed_check_logs(sha, skip=CHECK_NAME, max_bytes=MAX_LOG_CHARS)
    parts = [f"## {log.name} ({log.conclusion})\n{log.text}" for log in logs]
    return "\n\n".join(parts)[-MAX_LOG_CHARS:]


async def _work(
    deps: Deps, gh: InstallationClient, request: FixRequest, pull: PullRequest
) -> FixSummary:
    if deps.model is None:
        raise ConfigError("no model is configured: set AMBIENT_LLM_BASE_URL and AMBIENT_LLM_MODEL")
    timings = Timings()
    started = time.monotonic()
    repo = await gh.get_repo()
    config = await _repo_config(gh, repo.default_branch)
    policy = None if pull.from_fork else await gh.branch_policy(pull.head_ref)
    target = fix_target(pull, policy, config.config.push_to_pr_branch)
    logs = await _failing_logs(gh, pull.head_sha)
    touched = await gh.pull_files(pull.number)
    task = FixTask(request.instructions or DEFAULT_TASK, logs, touched)
    settings = deps.settings
    facts = Facts(str(settings.llm_model), config.problems, target.reason)
    timings.add("context", started)
    started = time.monotonic()
    async with await gh.clone(
        pull.head_sha,
        settings.workspace_root,
        request.job_id,
        branch=None if pull.from_fork else pull.head_ref,
    ) as workspace:
        worktree = await workspace.add_worktree("fix")
        timings.add("clone", started)
        started = time.monotonic()
        # Each job has its own token budget around the worker's shared model.
        model = BudgetedModel(deps.model, TokenBudget(settings.llm_job_tokens))
        result = await _fix(model, settings, config, task, workspace, worktree)
        timings.add("fix", started)
        if result.proposal is None or result.verification is None:
            last = result.rounds[-1].detail if result.rounds else "no round ran"
            reason = f"no verified fix in {len(result.rounds)} rounds; last: {last}"
            return outcome_summary(
                Outcome("fixer", task.instructions[:80], "failed", reason), facts
            )
        verified = result.verification
        gated = await pass_gates(
            result.proposal,
            worktree,
            options=config.config.gate_options(),
            verify=lambda _path: _already(verified),
            diff_of=workspace.diff,
            timings=timings,
            verified=verified,
        )
        facts = facts.with_result(result, gated.scan.summary() if gated.scan else "")
        if gated.fate is None:
            current = await gh.get_pull(pull.number)
            if current.head_sha != pull.head_sha:
                raise HeadMoved(
                    f"the pull request's head moved from {pull.head_sha[:7]} to "
                    f"{current.head_sha[:7]} while I worked; nothing was published"
                )
        publisher = GitHubPublisher(
            gh,
            workspace,
            pull,
            target,
            draft=config.config.draft_prs,
            trailer=f"Ambient-Job: {request.job_id}",
        )
        outcome = await finish(gated, workspace, worktree, publisher, 1, timings)
    log.info("fix finished", extra={"fate": outcome.fate, "timings": timings.stages})
    return outcome_summary(outcome, facts, publisher.published)


async def _fix(
    model: LLM,
    settings: Settings,
    config: ConfigOutcome,
    task: FixTask,
    workspace: Workspace,
    worktree: Path,
) -> FixResult:
    """The fixer's loop, each round verified by the repository's checks in the sandbox."""
    checks = read_checks(worktree)
    verify = config.config.verify
    lines = tuple(verify.commands) or tuple(checks.commands)
    policy = CommandPolicy((*DEFAULT_PATTERNS, *checks.allow, *verify.allow), "repository")
    commands = [Command.parse(line, timeout_s=COMMAND_TIMEOUT_S) for line in lines]
    async with open_sandbox(
        settings.sandbox, worktree, policy=policy, image=settings.sandbox_image
    ) as box:
        return await Fixer(model, policy=config.config.path_policy()).fix(
            FixTask(task.instructions, task.log, task.touched, lines),
            worktree,
            verify=lambda: _checked(worktree, box, commands),
            reset=lambda: workspace.reset(worktree),
        )


async def _checked(worktree: Path, box: Sandbox, commands: list[Command]) -> Verification:
    async with artifacts_discarded(worktree):
        return await run_checks(box, commands)


async def _already(verification: Verification) -> Verification:
    return verification
