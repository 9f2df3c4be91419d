"""An issue becomes a pull request: `@<app-slug> <instructions>` (or `fix this`) in an issue
comment or body, the issue assigned to the App, or the `tasks.label` label.

authorise → config from the default branch → the person's daily job limit → 👀 → the plan
(from the issue's title, body and comments, fenced as data), or one question when the task is
too vague → clone the default branch → the checks before → a failing reproduction test when the
issue describes a bug → the fix loop (edit → verify in the sandbox → reflect, bounded) and the
reviewer → gates → a pull request that closes the issue → its evidence in a check run on the
pull request's head → one reply on the issue.

Every step is safe to repeat: the reply is keyed by the job id, the branch by the issue, the
evidence's check run by the job id and commit, and the finished report is kept in Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from agents.fixer import Fixer, FixResult, FixTask
from agents.llm import BudgetedModel
from agents.planner import IssueText, Plan, make_plan, plan_text
from agents.reproducer import Reproduction, reproduce
from agents.sanitize import sanitize_trigger_text
from agents.usage import TokenBudget
from bot.deps import Deps
from bot.errors import ConfigError, Permanent
from bot.flows.common import (
    checks_of,
    checks_sandbox,
    prove,
    refused_unless_writer,
    repo_config,
    setup_choice,
    store,
    stored,
)
from bot.flows.limits import count_job, limit_reply
from bot.flows.task_budget import job_limit, spend
from bot.git import Workspace, run_git
from bot.github import GitHubNotFound, InstallationClient, hidden_marker
from bot.patch import apply
from bot.pipeline import Timings, checked, finish, gate_options, pass_gates, tally
from bot.publish import FixSummary
from bot.publish.task import (
    TaskFacts,
    TaskPublisher,
    question_summary,
    task_body,
    task_branch,
    task_failed,
    task_published,
)
from bot.repo_config import ConfigOutcome

__all__ = [
    "CHECK_NAME",
    "PERMISSIONS",
    "TaskRequest",
    "TaskTrigger",
    "report_task_unfinished",
    "run_task",
]

log = logging.getLogger("ambient.flow.task")

CHECK_NAME: Final = "Ambient task"
PERMISSIONS: Final[Mapping[str, str]] = {
    "contents": "write",
    "pull_requests": "write",
    "checks": "write",
    "issues": "write",
    "metadata": "read",
}
TaskTrigger = Literal["comment", "body", "assigned", "label"]


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """One trigger on an issue: where, by whom, and how (`comment_id` 0 but for comments)."""

    job_id: str
    installation_id: int
    owner: str
    repo: str
    number: int
    trigger: TaskTrigger
    person: str
    person_is_bot: bool
    comment_id: int = 0
    instructions: str = ""
    label: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"


async def run_task(deps: Deps, request: TaskRequest) -> dict[str, object]:
    """Run the whole task flow for `request`; a Permanent failure ends as one reply."""
    if request.person_is_bot:
        return {"status": "ignored", "reason": "bots do not trigger work"}
    if deps.github is None:
        raise ConfigError("AMBIENT_GITHUB_APP_ID and the App's private key are not set")
    gh = await deps.github.installation_client(
        request.installation_id, request.owner, request.repo, PERMISSIONS
    )
    repo = await gh.get_repo()
    config = await repo_config(gh, repo.default_branch)
    if request.trigger == "label" and request.label != config.config.tasks.label:
        return {"status": "ignored", "reason": f"label {request.label!r} is not tasks.label"}
    marker = hidden_marker(f"job:{request.job_id}")
    refused = await refused_unless_writer(gh, request.person, request.number, marker)
    if refused is not None:
        return refused
    allowance = await count_job(
        deps.redis,
        repo.full_name,
        request.person,
        request.job_id,
        config.config.limits.jobs_per_user_per_day,
        datetime.now(UTC),
    )
    if not allowance.allowed:
        await gh.find_or_create_comment(
            request.number, marker, limit_reply(request.person, allowance)
        )
        return {"status": "refused", "reason": "daily job limit", "count": allowance.count}
    await _react(gh, request)
    summary = await stored(deps.redis, request.job_id)
    if summary is None:
        try:
            summary = await _work(deps, gh, request, config, repo.default_branch)
        except Permanent as exc:
            summary = task_failed(str(exc))
        await store(deps.redis, request.job_id, summary)
    if summary.commit:
        await prove(
            deps.redis,
            gh,
            request.job_id,
            summary.commit,
            CHECK_NAME,
            title=summary.title,
            text=summary.text,
            conclusion=summary.conclusion,
        )
    await gh.find_or_create_comment(request.number, marker, summary.reply)
    return {"status": summary.conclusion, "title": summary.title, "detail": summary.text[:500]}


async def report_task_unfinished(deps: Deps, request: TaskRequest, reason: str) -> None:
    """Reply once when the job ended without its own report (it crashed, or a transient
    failure outlasted its retries): the person who asked is never left waiting."""
    if deps.github is None or request.person_is_bot:
        return
    gh = await deps.github.installation_client(
        request.installation_id, request.owner, request.repo, PERMISSIONS
    )
    marker = hidden_marker(f"job:{request.job_id}")
    await gh.find_or_create_comment(request.number, marker, task_failed(reason).reply)


async def _react(gh: InstallationClient, request: TaskRequest) -> None:
    try:
        if request.comment_id:
            await gh.add_reaction("eyes", comment_id=request.comment_id)
        else:
            await gh.add_reaction("eyes", issue_number=request.number)
    except GitHubNotFound:
        log.info("trigger of #%s is gone; no reaction", request.number)


async def _issue(gh: InstallationClient, request: TaskRequest) -> IssueText:
    """The issue as people see it: hidden text dropped, bots' comments (ours too) left out."""
    issue = await gh.get_issue(request.number)
    comments = tuple(
        (c.author, sanitize_trigger_text(c.body))
        for c in await gh.issue_comments(request.number)
        if not c.author.endswith("[bot]")
    )
    body = sanitize_trigger_text(issue.body)
    if request.instructions and request.trigger == "comment":
        body = (
            f"{body}\n\nAsked by @{request.person}: {sanitize_trigger_text(request.instructions)}"
        )
    return IssueText(request.number, sanitize_trigger_text(issue.title), body, comments)


async def _tracked(worktree: Path) -> tuple[str, ...]:
    listed = await run_git(["ls-files", "-z"], worktree)
    return tuple(p for p in listed.stdout.decode("utf-8", "replace").split("\0") if p)


@dataclass(frozen=True, slots=True)
class _Loop:
    before: str
    reproduction: Reproduction | None
    result: FixResult


async def _loop(
    deps: Deps,
    model: BudgetedModel,
    request: TaskRequest,
    config: ConfigOutcome,
    workspace: Workspace,
    worktree: Path,
    issue: IssueText,
    plan: Plan,
) -> _Loop:
    """The checks before, the reproduction (for a bug), then the fix loop, in one sandbox."""
    checks = checks_of(config, worktree)
    setup = setup_choice(deps.environments, config, request.installation_id, request.full_name)
    policy = config.config.path_policy()
    async with checks_sandbox(deps.settings, setup, worktree, checks) as box:
        before = await checked(worktree, box, checks.commands)

        reproduction = None
        if plan.bug:
            reproduction = await reproduce(
                model,
                issue.render(),
                worktree,
                verify=lambda: checked(worktree, box, checks.commands),
                reset=lambda: workspace.reset(worktree),
                policy=policy,
            )
        kept = reproduction.diff if reproduction and reproduction.shown else ""

        async def reset() -> None:
            # The reproduction test stays in place across the fixer's rounds.
            await workspace.reset(worktree)
            if kept:
                await _reapply(worktree, kept, config)

        failing = ""
        if reproduction is not None and reproduction.verification is not None:
            failed = reproduction.verification.failed
            failing = failed.output_tail if failed else ""
        instructions = f"{issue.render()}\n\n## The plan\n\n{plan_text(plan)}" + (
            "\n\nA failing test reproducing the bug is in place; make it pass." if kept else ""
        )
        task = FixTask(instructions, failing, plan.files, checks.lines)
        result = await Fixer(model, policy=policy).fix(
            task, worktree, verify=lambda: checked(worktree, box, checks.commands), reset=reset
        )
    return _Loop(before.summary(), reproduction, result)


async def _reapply(worktree: Path, diff: str, config: ConfigOutcome) -> None:
    applied = await apply(worktree, diff, policy=config.config.path_policy())
    if not applied.ok:
        raise Permanent(f"the reproduction test no longer applies: {applied.message}")


def _models(deps: Deps) -> str:
    """Which model each role used (AMBIENT_LLM_<ROLE>_MODEL, else AMBIENT_LLM_MODEL)."""
    settings = deps.settings
    roles = ("planner", "coder", "reviewer")
    return ", ".join(f"{role} {settings.role_model(role)}" for role in roles)


async def _work(
    deps: Deps,
    gh: InstallationClient,
    request: TaskRequest,
    config: ConfigOutcome,
    default_branch: str,
) -> FixSummary:
    if deps.model is None:
        raise ConfigError("no model is configured: set AMBIENT_LLM_BASE_URL and AMBIENT_LLM_MODEL")
    tasks = config.config.tasks
    today = datetime.now(UTC).date()
    limit, left = await job_limit(
        deps.redis, request.full_name, today, tasks.token_budget, tasks.daily_token_budget
    )
    budget = TokenBudget(limit)
    model = BudgetedModel(deps.model, budget)
    try:
        return await _plan_and_fix(deps, gh, request, config, default_branch, model, left)
    finally:
        await spend(deps.redis, request.full_name, today, budget.usage.total.total_tokens)


async def _plan_and_fix(
    deps: Deps,
    gh: InstallationClient,
    request: TaskRequest,
    config: ConfigOutcome,
    default_branch: str,
    model: BudgetedModel,
    left: int,
) -> FixSummary:
    issue = await _issue(gh, request)
    base_sha = await gh.branch_sha(default_branch)
    if base_sha is None:
        raise Permanent(f"the default branch {default_branch} has no commit")
    timings = Timings()
    async with await gh.clone(
        base_sha, deps.settings.workspace_root, request.job_id, branch=default_branch
    ) as workspace:
        worktree = await workspace.add_worktree("task")
        plan = await make_plan(model, issue, await _tracked(worktree))
        if not plan.actionable:
            return question_summary(plan.question)
        loop = await _loop(deps, model, request, config, workspace, worktree, issue, plan)
        result = loop.result
        rounds = "\n".join(
            f"- round {r.number}: {r.outcome}: {r.detail[:300]}" for r in result.rounds
        )
        budget = model.budget
        spent = budget.usage.summary()
        budget_line = (
            f"{budget.limit_tokens:,} tokens for this job (`tasks.token_budget`, or what was "
            f"left of the day's {config.config.tasks.daily_token_budget:,}: {left:,})"
        )
        if result.proposal is None or result.verification is None:
            details = f"**What was tried:**\n{rounds or '- no round ran'}\n\n**Tokens:** {spent}"
            return task_failed(f"no verified change in {len(result.rounds)} rounds", details)
        gated = await pass_gates(
            result.proposal,
            worktree,
            options=gate_options(config.config),
            diff_of=workspace.diff,
            timings=timings,
            verified=result.verification,
        )
        facts = TaskFacts(
            issue=request.number,
            plan=plan_text(plan),
            before=loop.before,
            reproduction=loop.reproduction.line() if loop.reproduction else "",
            after=result.verification.summary(),
            risk=gated.risk.level if gated.risk else "",
            scan=gated.scan.summary() if gated.scan else "",
            usage=spent,
            budget=budget_line,
            models=_models(deps),
            rounds=rounds,
        )
        body = task_body(facts, result.proposal)
        publisher = TaskPublisher(
            gh,
            workspace,
            base_sha=base_sha,
            base_ref=default_branch,
            branch=task_branch(request.number),
            body=body,
            author=request.person,
            trailer=f"Ambient-Job: {request.job_id}",
            draft=config.config.draft_prs,
        )
        outcome = await finish(gated, workspace, worktree, publisher, 1, timings)
    tally((outcome,))
    log.info("task finished", extra={"fate": outcome.fate, "timings": timings.stages})
    if not publisher.pull_number:
        reason = f"{outcome.fate}: {outcome.reason}" if outcome.reason else outcome.fate
        return task_failed(reason, body)
    return task_published(
        result.proposal.title, body, publisher.pull_number, publisher.pull_url, publisher.commit
    )
