"""`@<app-slug> fix this` on a pull request: the GitHub twin of `bot.flows.local.local_fix`.

authorise → config from the default branch → the person's daily job limit → 👀 → check run →
clone at the PR head (context: the changed files, the failing checks' logs, the instructions and
what reviewers asked for) → fixer in the sandbox → gates → has the head moved? → publish → the
evidence in a check run on the published commit, the run on the PR's old head pointing at it
(or, with nothing published, that run ends with the reason) → one reply.

Every step is safe to repeat: the reply and the check runs are keyed by the job id, the fix
branch name comes from the PR and its head, and the finished report is kept in Redis, so a
retried job re-sends the same report instead of publishing again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from agents.fixer import FixTask
from agents.llm import BudgetedModel
from agents.reviews import ReviewRemark, review_section
from agents.sanitize import sanitize_trigger_text
from agents.usage import TokenBudget
from bot.config import Settings
from bot.deps import Deps
from bot.errors import ConfigError, Permanent
from bot.flows.common import (
    check_run,
    finish_checks,
    known_check,
    refused_unless_writer,
    repo_config,
    run_fixer,
    setup_choice,
    store,
    stored,
    with_config,
)
from bot.flows.limits import count_job, limit_reply
from bot.flows.outcomes import closed_fix, fix_closed_summary
from bot.github import GitHubNotFound, InstallationClient, PullRequest, hidden_marker
from bot.pipeline import Outcome, Timings, finish, gate_options, pass_gates, tally
from bot.publish import (
    Facts,
    FixSummary,
    GitHubPublisher,
    HeadMoved,
    evidence_text,
    failed_summary,
    fix_target,
    outcome_summary,
)
from bot.repo_config import ConfigOutcome

__all__ = ["CHECK_NAME", "PERMISSIONS", "FixRequest", "fix_pull_request", "report_fix_unfinished"]

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
MAX_LOG_CHARS: Final = 20_000
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
    #: False when the trigger is no issue comment (a review): nothing to react to.
    react: bool = True
    #: The job's token limit; None: `AMBIENT_LLM_JOB_TOKENS`.
    token_budget: int | None = None
    #: The review remarks (ids) the fixer is shown; None: every remark of a person. A follow-up
    #: names those of people with write access that no follow-up answered yet.
    remarks: tuple[int, ...] | None = None


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
    refused = await refused_unless_writer(gh, request.commenter, request.number, marker)
    if refused is not None:
        return refused
    repo = await gh.get_repo()
    config = await repo_config(gh, repo.default_branch)
    allowance = await count_job(
        deps.redis,
        repo.full_name,
        request.commenter,
        request.job_id,
        config.config.limits.jobs_per_user_per_day,
        datetime.now(UTC),
    )
    if not allowance.allowed:
        await gh.find_or_create_comment(
            request.number, marker, limit_reply(request.commenter, allowance)
        )
        return {"status": "refused", "reason": "daily job limit", "count": allowance.count}
    try:
        if request.react:
            await gh.add_reaction("eyes", comment_id=request.comment_id)
    except GitHubNotFound:
        # The comment was deleted meanwhile: the request still stands, and the reply says so.
        log.info("comment %s is gone; no reaction", request.comment_id)
    pull = await gh.get_pull(request.number)
    if pull.state != "open":
        said = f"#{pull.number} is {pull.state}; I fix open pull requests only. Nothing was run."
        await gh.find_or_create_comment(request.number, marker, said)
        return {"status": "refused", "reason": said}
    check = await check_run(
        deps.redis, gh, request.job_id, pull.head_sha, CHECK_NAME, "Fixing this pull request"
    )
    summary = await stored(deps.redis, request.job_id)
    if summary is None:
        try:
            work = await _work(deps, gh, request, pull, config)
            summary = with_config(work, config, repo.default_branch)
        except Permanent as exc:
            summary = failed_summary(str(exc), check.url)
        await store(deps.redis, request.job_id, summary)
    await finish_checks(deps.redis, gh, request.job_id, check, CHECK_NAME, summary)
    await gh.find_or_create_comment(request.number, marker, summary.reply)
    return {"status": summary.conclusion, "title": summary.title, "detail": summary.text[:500]}


async def report_fix_unfinished(deps: Deps, request: FixRequest, reason: str) -> None:
    """Fail the check run and reply once when the job ended without its own report (it crashed,
    or a transient failure outlasted its retries): the user is never left waiting."""
    if deps.github is None or request.commenter_is_bot:
        return
    gh = await deps.github.installation_client(
        request.installation_id, request.owner, request.repo, PERMISSIONS
    )
    summary = failed_summary(reason, "")
    check = await known_check(deps.redis, request.job_id)
    if check is not None:
        await gh.update_check_run(
            check, title=summary.title, summary=summary.text, conclusion=summary.conclusion
        )
    await gh.find_or_create_comment(
        request.number, hidden_marker(f"job:{request.job_id}"), summary.reply
    )


async def _failing_logs(gh: InstallationClient, sha: str) -> str:
    """The tails of the logs of the failed checks on `sha` (Actions jobs; others have none)."""
    logs = await gh.failed_check_logs(sha, skip=CHECK_NAME, max_bytes=MAX_LOG_CHARS)
    parts = [f"## {log.name} ({log.conclusion})\n{log.text}" for log in logs]
    return "\n\n".join(parts)[-MAX_LOG_CHARS:]


async def _task(gh: InstallationClient, request: FixRequest, pull: PullRequest) -> FixTask:
    """What the fixer is asked: the instructions (cleaned of what a reader cannot see), then
    what reviewers asked for (bots' remarks left out), the failing logs and the changed files."""
    notes = await gh.review_notes(pull.number)
    remarks = [
        ReviewRemark(n.author, n.body, n.when, n.path, n.line, n.state)
        for n in notes
        if not n.author_is_bot and (request.remarks is None or n.id in request.remarks)
    ]
    instructions = sanitize_trigger_text(request.instructions) or DEFAULT_TASK
    reviews = review_section(remarks)
    text = f"{instructions}\n\n{reviews}" if reviews else instructions
    logs = await _failing_logs(gh, pull.head_sha)
    return FixTask(text, logs, await gh.pull_files(pull.number))


async def _work(
    deps: Deps,
    gh: InstallationClient,
    request: FixRequest,
    pull: PullRequest,
    config: ConfigOutcome,
) -> FixSummary:
    if deps.model is None:
        raise ConfigError("no model is configured: set AMBIENT_LLM_BASE_URL and AMBIENT_LLM_MODEL")
    timings = Timings()
    started = time.monotonic()
    policy = None if pull.from_fork else await gh.branch_policy(pull.head_ref)
    target = fix_target(pull, policy, config.config.push_to_pr_branch)
    task = await _task(gh, request, pull)
    settings = deps.settings
    facts = Facts(_models(settings), config.problems, target.reason, budget=_budget(request))
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
        limit = request.token_budget or settings.llm_job_tokens
        model = BudgetedModel(deps.model, TokenBudget(limit))
        setup = setup_choice(
            deps.environments, config, request.installation_id, f"{request.owner}/{request.repo}"
        )
        result = await run_fixer(model, settings, config, task, workspace, worktree, setup)
        timings.add("fix", started)
        if result.proposal is None or result.verification is None:
            reason = f"no verified fix in {len(result.rounds)} rounds"
            failed = Outcome("fixer", task.instructions.split("\n", 1)[0][:80], "failed", reason)
            tally((failed,))
            return outcome_summary(failed, facts.with_result(result, ""))
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
        if gated.fate is None and target.mode == "pull-request":
            closed = await closed_fix(gh, result.proposal, target.base)
            if closed:
                return fix_closed_summary(target.base, closed)
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
            evidence=evidence_text(facts),
            protects=config.config.protects,
        )
        outcome = await finish(gated, workspace, worktree, publisher, 1, timings)
    tally((outcome,))
    log.info("fix finished", extra={"fate": outcome.fate, "timings": timings.stages})
    # The publisher may have chosen a PR over a push (files of a protected owner): say why.
    facts = replace(facts, target_reason=publisher.target.reason)
    return outcome_summary(outcome, facts, publisher.published)


def _models(settings: Settings) -> str:
    """The model the report names: the fixer's and the reviewer's when a role has its own
    (AMBIENT_LLM_CODER_MODEL, AMBIENT_LLM_REVIEWER_MODEL), else AMBIENT_LLM_MODEL."""
    coder, reviewer = settings.role_model("coder"), settings.role_model("reviewer")
    if coder == reviewer == str(settings.llm_model or ""):
        return str(settings.llm_model)
    return f"coder {coder}, reviewer {reviewer}"


def _budget(request: FixRequest) -> str:
    """The budget line of a job whose budget the repository's config set (a follow-up's
    `tasks.token_budget`, or what is left of the day's `tasks.daily_token_budget`)."""
    if request.token_budget is None:
        return ""
    return (
        f"{request.token_budget:,} tokens for this job (`tasks.token_budget`, or what was left "
        "of the day's `tasks.daily_token_budget`)"
    )
