"""A failed CI run on a branch becomes a verified fix in a pull request into that branch.

config from the default branch → in scope? → attempt within the budget → check run → the failed
jobs' logs → clone at the head sha → reproduce the failure in the sandbox (the default branch's
checks, never the failing branch's config) → fixer → gates →
branch `ambient/ci-fix/<branch>-<sha7>` and a PR with the analysis → the evidence in a check
run on the fix PR's head commit, and the failing commit's run pointing at it.

One job serves every failed suite of a head commit (the job id is `ci:<repo id>:<sha>`). The
attempts on one head are counted in Redis, and a head Ambient made counts against its branch,
so a fix that fails its own CI can never start an endless chain.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Final

from redis.asyncio import Redis

from agents.context import read_repo
from agents.fixer import FixTask
from agents.hot_paths import hot_paths
from agents.llm import BudgetedModel
from agents.usage import TokenBudget
from bot.deps import Deps
from bot.errors import ConfigError, Permanent
from bot.flows.common import (
    check_run,
    checked,
    checks_of,
    checks_sandbox,
    finish_checks,
    known_check,
    repo_config,
    run_fixer,
    setup_choice,
    store,
    stored,
    with_config,
)
from bot.flows.fix import PERMISSIONS
from bot.flows.outcomes import closed_fix, fix_closed_summary
from bot.github import InstallationClient, JobLog
from bot.pipeline import Outcome, Timings, finish, gate_options, pass_gates, tally
from bot.publish import (
    CiPublisher,
    Diagnosis,
    Facts,
    FixSummary,
    failed_summary,
    not_fixed,
    not_reproduced,
    outcome_summary,
    tried_text,
)
from bot.repo_config import ConfigOutcome
from sandbox.verify import Verification

__all__ = [
    "CHECK_NAME",
    "CiRequest",
    "attempts_key",
    "fix_ci_failure",
    "made_by_ambient",
    "report_ci_unfinished",
]

log = logging.getLogger("ambient.flow.ci")

CHECK_NAME: Final = "Ambient CI fix"
MAX_LOG_CHARS: Final = 20_000
#: How long the attempts on one head are remembered; a head this old is not failing anew.
ATTEMPTS_TTL_S: Final = 30 * 24 * 3600
#: The attempt a running job works on, found again by its retries; outlives any job timeout.
RUNNING_TTL_S: Final = 6 * 3600
TASK: Final = "Make the failing CI checks of this commit pass; fix the cause, not the test."


@dataclass(frozen=True, slots=True)
class CiRequest:
    """One failed head commit: where, which branch, and whether Ambient made it (loop checks)."""

    job_id: str
    installation_id: int
    owner: str
    repo: str
    repo_id: int
    head_sha: str
    branch: str
    ambient_head: bool = False


def made_by_ambient(branch: str, message: str) -> bool:
    """Whether Ambient produced this head: its branch or its commit message says so."""
    return branch.startswith("ambient/") or "\nProposed-by:" in f"\n{message}"


def attempts_key(request: CiRequest) -> str:
    """The Redis counter of fix attempts: per head sha, or per branch for Ambient's heads."""
    if request.ambient_head or made_by_ambient(request.branch, ""):
        return f"ambient:ci:attempts:{request.repo_id}:branch:{request.branch}"
    return f"ambient:ci:attempts:{request.repo_id}:sha:{request.head_sha}"


def _running_key(job_id: str) -> str:
    return f"ambient:ci:{job_id}:attempt"


async def _attempt(redis: Redis, request: CiRequest, budget: int) -> int | None:
    """The attempt this run works on (a retry keeps its attempt), or None past the budget."""
    current = await redis.get(_running_key(request.job_id))
    if current is not None:
        return int(current)
    counter = attempts_key(request)
    attempt = int(await redis.incr(counter))
    await redis.expire(counter, ATTEMPTS_TTL_S)
    if attempt > budget:
        return None
    await redis.set(_running_key(request.job_id), attempt, ex=RUNNING_TTL_S)
    return attempt


async def _out_of_scope(
    gh: InstallationClient, config: ConfigOutcome, request: CiRequest, default_branch: str
) -> str | None:
    """Why this failure is not Ambient's to fix, or None."""
    branch, head_sha = request.branch, request.head_sha
    if not branch:
        return "the failed run has no branch (a tag or a detached head)"
    if not config.config.ci_autofix.covers(branch):
        return f"ci_autofix does not cover {branch}"
    if branch == default_branch:
        return None
    pull = await gh.find_open_pull(branch)
    if pull is None:
        return f"{branch} is neither the default branch nor an open pull request's branch"
    base_sha = await gh.branch_sha(pull.base_ref)
    base_failing = () if base_sha is None else await _failed_logs(gh, base_sha)
    if not base_failing:
        return None
    inherited = {j.name for j in base_failing}
    if {j.name for j in await _failed_logs(gh, head_sha)} <= inherited:
        # The PR fails only as its base does, which is no fault of the PR: a fix belongs on
        # the base (whose own job makes it), not in a PR into this branch.
        names = ", ".join(sorted(inherited))
        return f"{pull.base_ref} fails the same way ({names}); that is fixed there, not here"
    return None


async def fix_ci_failure(deps: Deps, request: CiRequest) -> dict[str, object]:
    """Run the whole flow; a Permanent failure ends as one line on the check run. Retryable
    errors propagate (the job is retried on the same attempt; every step repeats)."""
    if deps.github is None:
        raise ConfigError("AMBIENT_GITHUB_APP_ID and the App's private key are not set")
    gh = await deps.github.installation_client(
        request.installation_id, request.owner, request.repo, PERMISSIONS
    )
    repo = await gh.get_repo()
    config = await repo_config(gh, repo.default_branch)
    skip = await _out_of_scope(gh, config, request, repo.default_branch)
    if skip is not None:
        return {"status": "ignored", "reason": skip}
    budget = config.config.ci_autofix.attempts_per_sha
    attempt = await _attempt(deps.redis, request, budget)
    if attempt is None:
        return {"status": "ignored", "reason": f"all {budget} fix attempt(s) were made"}
    run_id = f"{request.job_id}#{attempt}"
    title = f"Fixing the CI failure on {request.branch}"
    check = await check_run(deps.redis, gh, run_id, request.head_sha, CHECK_NAME, title)
    summary = await stored(deps.redis, run_id)
    if summary is None:
        try:
            work = await _work(deps, gh, request, config)
            summary = with_config(work, config, repo.default_branch)
        except Permanent as exc:
            summary = failed_summary(str(exc), check.url)
        await store(deps.redis, run_id, summary)
    await finish_checks(deps.redis, gh, run_id, check, CHECK_NAME, summary)
    await deps.redis.delete(_running_key(request.job_id))
    return {"status": summary.conclusion, "title": summary.title, "attempt": attempt}


async def report_ci_unfinished(deps: Deps, request: CiRequest, reason: str) -> None:
    """Fail the attempt's check run when the job ended without its own report."""
    current = await deps.redis.get(_running_key(request.job_id))
    if deps.github is None or current is None:
        return
    gh = await deps.github.installation_client(
        request.installation_id, request.owner, request.repo, PERMISSIONS
    )
    check = await known_check(deps.redis, f"{request.job_id}#{int(current)}")
    if check is not None:
        summary = failed_summary(reason, "")
        await gh.update_check_run(
            check, title=summary.title, summary=summary.text, conclusion=summary.conclusion
        )
    await deps.redis.delete(_running_key(request.job_id))


async def _failed_logs(gh: InstallationClient, sha: str) -> tuple[JobLog, ...]:
    """The failed jobs of every suite on `sha`, oldest first (our own check run left out)."""
    logs = await gh.failed_check_logs(sha, skip=CHECK_NAME, max_bytes=MAX_LOG_CHARS)
    return tuple(sorted(logs, key=lambda j: j.job_id))


def _joined(logs: tuple[JobLog, ...]) -> str:
    return "\n\n".join(f"## {j.name} ({j.conclusion})\n{j.text}" for j in logs)[-MAX_LOG_CHARS:]


async def _work(
    deps: Deps, gh: InstallationClient, request: CiRequest, config: ConfigOutcome
) -> FixSummary:
    if deps.model is None:
        raise ConfigError("no model is configured: set AMBIENT_LLM_BASE_URL and AMBIENT_LLM_MODEL")
    settings, timings = deps.settings, Timings()
    started = time.monotonic()
    logs = await _failed_logs(gh, request.head_sha)
    reason = f"a CI fix always comes as a pull request into {request.branch}"
    facts = Facts(str(settings.llm_model), config.problems, reason)
    async with await gh.clone(
        request.head_sha, settings.workspace_root, request.job_id, branch=request.branch
    ) as workspace:
        worktree = await workspace.add_worktree("fix")
        timings.add("clone", started)
        hot = hot_paths(_joined(logs), (await read_repo(worktree)).paths)
        checks = checks_of(config, worktree)
        setup = setup_choice(
            deps.environments, config, request.installation_id, f"{request.owner}/{request.repo}"
        )
        # The failure is reproduced in the environment the fix will be verified in.
        async with checks_sandbox(settings, setup, worktree, checks) as box:
            before = await checked(worktree, box, checks.commands)
        timings.add("reproduce", started)
        diagnosis = Diagnosis(request.branch, request.head_sha, logs, hot, before)
        if before.ok:
            return not_reproduced(diagnosis)
        task = FixTask(TASK, _joined(logs) + _reproduced(before))
        model = BudgetedModel(deps.model, TokenBudget(settings.llm_job_tokens))
        result = await run_fixer(model, settings, config, task, workspace, worktree, setup)
        timings.add("fix", started)
        if result.proposal is None or result.verification is None:
            tally((Outcome("fixer", f"CI failure on {request.branch}", "failed"),))
            return not_fixed(diagnosis, tried_text(result.rounds))
        verified = result.verification
        gated = await pass_gates(
            result.proposal,
            worktree,
            options=gate_options(config.config),
            diff_of=workspace.diff,
            timings=timings,
            verified=verified,
        )
        facts = facts.with_result(result, gated.scan.summary() if gated.scan else "")
        closed = await closed_fix(gh, result.proposal, request.branch)
        if closed:
            return fix_closed_summary(request.branch, closed)
        publisher = CiPublisher(
            gh, workspace, replace(diagnosis, after=verified), draft=config.config.draft_prs
        )
        outcome = await finish(gated, workspace, worktree, publisher, 1, timings)
    tally((outcome,))
    log.info("ci fix finished", extra={"fate": outcome.fate, "timings": timings.stages})
    return outcome_summary(outcome, facts, publisher.published)


def _reproduced(before: Verification) -> str:
    failing = before.failed
    if failing is None:
        return ""
    return f"\n\n## reproduced in the sandbox: {failing.command}\n{failing.output_tail}"
