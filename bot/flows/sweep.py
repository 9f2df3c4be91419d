"""The scheduled quality sweep of one repository on GitHub.

config from the default branch → (the cron's runs) due by `sweep.schedule`? → clone its head →
ruff, the secret scan and (with a model) the sweep's specialists, the recently pushed ("hot")
files first → each proposal gated in its own worktree → every passing proposal pushed to
`ambient/sweep/<slug>` → low and medium risk become PRs (within `sweep.max_prs` and
`limits.max_open_prs`), high and critical wait on the dashboard, under its lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

from agents.context import build_pack, read_repo
from agents.pack_render import render_pack
from agents.proposal import Proposal
from agents.specialists import enabled
from agents.specialists.ruff import RuffFailed, ruff_proposal
from agents.specialists.secrets_report import secrets_report
from agents.swarm import run_swarm
from bot.deps import Deps
from bot.errors import ConfigError
from bot.flows.common import repo_config
from bot.flows.fix import PERMISSIONS, WRITE_ROLES
from bot.flows.limits import count_job, limit_reply
from bot.flows.local import EMPTY_TREE, SandboxRunner
from bot.flows.schedule import CLAIM_TTL_S, claim_period, sweep_period
from bot.git import Workspace, run_git
from bot.github import InstallationClient, hidden_marker
from bot.pipeline import Outcome, PipelineConfig, Timings, gate_options, process, tally
from bot.publish import Entry, SweepPublisher, approve_ticked, open_pulls, upsert_dashboard
from bot.repo_config import ConfigOutcome
from bot.secrets import Finding, scan_diff_text

__all__ = ["SweepRequest", "approve_from_dashboard", "sweep_repository"]

log = logging.getLogger("ambient.flow.sweep")

CONTEXT_TOKENS: Final = 12_000
#: How many of the recently pushed files lead the model's context.
HOT_FILES: Final = 20


@dataclass(frozen=True, slots=True)
class SweepRequest:
    """One sweep: which repository, through which installation, and what started it."""

    job_id: str
    installation_id: int
    owner: str
    repo: str
    trigger: str = "cron"
    #: The day the cron ran (None: today); its `sweep.schedule` period is what a run claims.
    day: date | None = None
    #: Who asked by comment: their jobs count against `limits.jobs_per_user_per_day`.
    requester: str = ""
    #: The issue or pull request of that comment, where the reply goes when they are over it.
    number: int = 0


async def _client(deps: Deps, installation_id: int, owner: str, repo: str) -> InstallationClient:
    if deps.github is None:
        raise ConfigError("AMBIENT_GITHUB_APP_ID and the App's private key are not set")
    return await deps.github.installation_client(installation_id, owner, repo, PERMISSIONS)


async def _hot_files(deps: Deps, full_name: str) -> tuple[str, ...]:
    """The files pushes changed most (handlers.sweep.note_push counts them)."""
    hot = await deps.redis.zrevrange(f"ambient:hot:{full_name}", 0, HOT_FILES - 1)
    return tuple(p.decode() if isinstance(p, bytes) else str(p) for p in hot)


async def _scan(root: Path) -> list[Finding]:
    diff = (await run_git(["diff", "--no-color", EMPTY_TREE, "HEAD"], root)).text
    return list((await asyncio.to_thread(scan_diff_text, diff, root)).findings)


async def _ruff(config: PipelineConfig, workspace: Workspace) -> tuple[Proposal | None, str]:
    worktree = await workspace.add_worktree("ruff")
    try:
        async with config.sandbox_on(worktree) as box:
            return await ruff_proposal(SandboxRunner(box), worktree), ""
    except RuffFailed as exc:
        return None, f"ruff: {exc}"
    finally:
        await workspace.remove_worktree(worktree)


async def _proposals(
    deps: Deps,
    config: ConfigOutcome,
    pipeline: PipelineConfig,
    workspace: Workspace,
    focus: Sequence[str],
) -> tuple[list[Proposal], list[str]]:
    """Ruff's fixes and, with a model, the swarm's selection; and what failed on the way."""
    ruff, failed = await _ruff(pipeline, workspace)
    proposals, failures = ([ruff] if ruff else []), ([failed] if failed else [])
    agents = config.config.specialists
    wanted = set(config.config.sweep_agents())
    specialists = [s for s in enabled(agents) if s.name in wanted]
    if deps.model is None or not specialists:
        return proposals, failures
    repo = await read_repo(workspace.repo)
    pack = build_pack(repo, budget_tokens=CONTEXT_TOKENS, touched=focus)
    result = await run_swarm(
        deps.model, specialists, render_pack(pack), config=agents, extra=proposals
    )
    failures += [f"{f.agent} ({f.stage}): {f.error}" for f in result.failures]
    return [a.proposal for a in result.selected], failures


async def _not_due(
    deps: Deps, config: ConfigOutcome, request: SweepRequest, repo_id: int
) -> str | None:
    """Why the cron's sweep does not run for this repository now, or None (a user's always run).

    A due sweep claims its period (`bot.flows.schedule`), so the day's other runs, and the
    period's later days, find it swept.
    """
    if request.trigger != "cron":
        return None
    sweep = config.config.sweep
    if not sweep.enabled:
        log.info("sweep skipped: sweep.enabled is false", extra={"repo_id": repo_id})
        return "sweep.enabled is false in the repository config"
    period = sweep_period(sweep.schedule, request.day or datetime.now(UTC).date())
    ttl = CLAIM_TTL_S[sweep.schedule]
    if not await claim_period(deps.redis, repo_id, period, request.job_id, ttl):
        log.info("sweep skipped: %s already swept", period, extra={"repo_id": repo_id})
        return f"sweep.schedule is {sweep.schedule}: {period} is swept already"
    return None


async def _over_limit(
    deps: Deps, gh: InstallationClient, request: SweepRequest, full_name: str, config: ConfigOutcome
) -> dict[str, object] | None:
    """Count a person's sweep against their day; over the limit, reply once and say so."""
    if not request.requester:
        return None
    allowance = await count_job(
        deps.redis,
        full_name,
        request.requester,
        request.job_id,
        config.config.limits.jobs_per_user_per_day,
        datetime.now(UTC),
    )
    if allowance.allowed:
        return None
    if request.number:
        marker = hidden_marker(f"job:{request.job_id}")
        await gh.find_or_create_comment(
            request.number, marker, limit_reply(request.requester, allowance)
        )
    return {"status": "refused", "reason": "daily job limit", "count": allowance.count}


def _room(config: ConfigOutcome, open_heads: Sequence[str]) -> int:
    """How many PRs this sweep may open: its own cap, and Ambient's open-PR limit."""
    ours = sum(1 for head in open_heads if head.startswith("ambient/"))
    return max(0, min(config.config.sweep.max_prs, config.config.limits.max_open_prs - ours))


async def sweep_repository(deps: Deps, request: SweepRequest) -> dict[str, object]:
    """Sweep the default branch and publish; Permanent errors propagate as the job's one line."""
    gh = await _client(deps, request.installation_id, request.owner, request.repo)
    repo = await gh.get_repo()
    config = await repo_config(gh, repo.default_branch)
    skip = await _not_due(deps, config, request, repo.id)
    if skip is not None:
        return {"status": "ignored", "reason": skip}
    over = await _over_limit(deps, gh, request, repo.full_name, config)
    if over is not None:
        return over
    base_sha = await gh.branch_sha(repo.default_branch)
    if base_sha is None:
        return {"status": "ignored", "reason": f"{repo.default_branch} has no commit yet"}
    settings, timings = deps.settings, Timings()
    pipeline = PipelineConfig.from_settings(
        settings,
        checks=tuple(config.config.verify.commands) or None,
        gates=gate_options(config.config),
    )
    async with await gh.clone(base_sha, settings.workspace_root, request.job_id) as workspace:
        found = await secrets_report(_scan, workspace.repo)
        focus = await _hot_files(deps, repo.full_name)
        proposals, failures = await _proposals(deps, config, pipeline, workspace, focus)
        publisher = SweepPublisher(gh, workspace, base_sha)
        outcomes = tally(await process(proposals, workspace, pipeline, publisher, timings))
    low = [publisher.pushed[o.branch] for o in outcomes if o.fate == "published"]
    high = [Entry(o.title, o.branch) for o in outcomes if o.fate == "awaiting-approval"]
    room = _room(config, await gh.open_pull_heads())
    pulls = await open_pulls(gh, repo.default_branch, low, room, draft=config.config.draft_prs)
    dashboard = await upsert_dashboard(deps.redis, gh, repo.id, high)
    log.info("sweep finished", extra={"pulls": len(pulls), "timings": timings.stages})
    numbers = [number for _, number in pulls]
    lines = [_line(o) for o in outcomes]
    if request.requester and request.number:
        reply = sweep_reply(numbers, dashboard or 0, lines, failures, len(found.items))
        await gh.find_or_create_comment(
            request.number, hidden_marker(f"job:{request.job_id}"), reply
        )
    return {
        "status": "done",
        "pull_requests": numbers,
        "waiting": [
            o.branch for o in outcomes if o.fate == "published" and o.branch not in dict(pulls)
        ],
        "dashboard": dashboard or 0,
        "outcomes": lines,
        "failures": failures,
        "secrets": len(found.items),
    }


def sweep_reply(
    pulls: Sequence[int],
    dashboard: int,
    lines: Sequence[str],
    failures: Sequence[str],
    secrets: int,
) -> str:
    """The one reply to `@app sweep`: what was opened, what waits, what failed."""
    opened = f"opened {', '.join(f'#{n}' for n in pulls)}" if pulls else "no pull request opened"
    waiting = f"; high-risk proposals wait on #{dashboard}" if dashboard else ""
    text = [f"Sweep finished: {opened}{waiting}."]
    text += [f"- {line}" for line in lines[:10]]
    text += [f"- failed: {failure}" for failure in failures]
    if secrets:
        text.append(
            f"- {secrets} possible secret(s) in the repository: rotate them; Ambient reports "
            "secrets and never edits them."
        )
    return "\n".join(text)


def _line(outcome: Outcome) -> str:
    risk = f", {outcome.risk} risk" if outcome.risk else ""
    reason = f": {outcome.reason}" if outcome.reason else ""
    return f"{outcome.title} ({outcome.agent}{risk}) {outcome.fate}{reason}"


async def approve_from_dashboard(
    deps: Deps,
    installation_id: int,
    owner: str,
    repo: str,
    number: int,
    sender: str,
    before: str | None = None,
    after: str | None = None,
) -> dict[str, object]:
    """Open the PRs whose boxes `sender` ticked on dashboard issue `number`, if they may write
    (`before` and `after`: the body around the edit, as the event says). The dashboard is read
    and written under its lock: `DashboardBusy` (retryable) when another job holds it."""
    gh = await _client(deps, installation_id, owner, repo)
    role = await gh.permission_of(sender)
    if role not in WRITE_ROLES:
        return {"status": "refused", "reason": f"{sender} has {role} access, not write"}
    details = await gh.get_repo()
    config = await repo_config(gh, details.default_branch)
    opened = await approve_ticked(
        deps.redis,
        gh,
        details.id,
        number,
        details.default_branch,
        sender,
        draft=config.config.draft_prs,
        before=before,
        after=after,
    )
    return {"status": "done", "pull_requests": list(opened)}
