"""The scheduled quality sweep of one repository on GitHub.

who asked may write (the cron always may) → config from the default branch → `sweep.enabled`,
and (the cron's runs) due by `sweep.schedule`? → clone its head → ruff's fixes by rule family,
the secret scan and (with a model) the sweep's specialists, each shown its own pack from the
repository's cursor (`bot.flows.sweep_work`, `bot.flows.sweep_cursor`) → each proposal gated in
its own worktree, verified by the default branch's checks → every passing proposal pushed to
`ambient/sweep/<slug>` → low and medium risk become PRs (within `sweep.max_prs` and
`limits.max_open_prs`) that ask the CODEOWNERS of their files to review; high and critical, and
those changing a protected owner's files, wait on the dashboard, under its lock; the dashboard
also records the cursor and says what share of the code the last sweeps showed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Final

from agents.rotation import Cursor
from agents.specialists import enabled
from agents.specialists.secrets_report import secrets_report
from bot.deps import Deps
from bot.errors import ConfigError
from bot.flows.common import (
    checks_of,
    config_source,
    may_trigger,
    prove,
    refused_unless_writer,
    repo_config,
    setup_choice,
)
from bot.flows.fix import PERMISSIONS
from bot.flows.limits import count_job, limit_reply
from bot.flows.local import scan_repository
from bot.flows.memory import remember
from bot.flows.outcomes import (
    Recall,
    Screened,
    comment_rejection,
    count_proposed,
    dashboard_section,
    recall,
    screen,
)
from bot.flows.schedule import CLAIM_TTL_S, claim_period, sweep_period
from bot.flows.sweep_cursor import dashboard_status, load_cursor, save_cursor
from bot.flows.sweep_work import SweepWork, sweep_work
from bot.git import Workspace
from bot.github import InstallationClient, hidden_marker
from bot.github.codeowners import CodeOwnersFile
from bot.pipeline import Outcome, PipelineConfig, Timings, gate_options, process, tally
from bot.publish import (
    SWEEP_CHECK,
    Entry,
    Pushed,
    SweepPublisher,
    approve_ticked,
    open_pulls,
    proven,
    proven_conclusion,
    upsert_dashboard,
)
from bot.publish.github import protected_paths, protected_text
from bot.repo_config import CONFIG_PATHS, ConfigOutcome

__all__ = [
    "SweepRequest",
    "approve_from_dashboard",
    "disabled_reply",
    "held_for_owners",
    "sweep_reply",
    "sweep_repository",
]

log = logging.getLogger("ambient.flow.sweep")

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
    #: The issue or pull request of that comment, where the replies go.
    number: int = 0
    #: Whether that commenter is a bot: a bot's sweep never runs.
    requester_is_bot: bool = False


async def _client(deps: Deps, installation_id: int, owner: str, repo: str) -> InstallationClient:
    if deps.github is None:
        raise ConfigError("AMBIENT_GITHUB_APP_ID and the App's private key are not set")
    return await deps.github.installation_client(installation_id, owner, repo, PERMISSIONS)


async def _hot_files(deps: Deps, full_name: str) -> tuple[str, ...]:
    """The files pushes changed most (handlers.sweep.note_push counts them)."""
    hot = await deps.redis.zrevrange(f"ambient:hot:{full_name}", 0, HOT_FILES - 1)
    return tuple(p.decode() if isinstance(p, bytes) else str(p) for p in hot)


async def _proposals(
    deps: Deps,
    gh: InstallationClient,
    config: ConfigOutcome,
    pipeline: PipelineConfig,
    workspace: Workspace,
    where: tuple[str, str],
) -> SweepWork:
    """Ruff's fixes and, with a model, the swarm's selection, each specialist shown its own
    pack; `where` is the job id and the repository's full name. The packs start from the
    repository's cursor (in Redis, rebuilt from the dashboard when lost) and lead with the
    files pushes changed most; the cursor then moves on for the next sweep."""
    job_id, full_name = where
    agents = config.config.specialists
    wanted = set(config.config.sweep_agents())
    specialists = [s for s in enabled(agents) if s.name in wanted]
    cursor = Cursor()
    if deps.model is not None and specialists:
        cursor, origin = await load_cursor(deps.redis, gh, full_name)
        log.info("sweep cursor from %s", origin, extra={"job_id": job_id})
    work = await sweep_work(
        deps.model,
        specialists,
        agents,
        pipeline,
        workspace,
        job=job_id,
        cursor=cursor,
        focus=await _hot_files(deps, full_name),
        ruff="ruff" in wanted,
    )
    if work.plan is not None:
        await save_cursor(deps.redis, full_name, work.plan.cursor)
    return work


async def _not_due(
    deps: Deps, config: ConfigOutcome, request: SweepRequest, repo_id: int
) -> str | None:
    """Why the cron's sweep does not run for this repository now, or None (a person's runs
    whenever sweeps are enabled).

    A due sweep claims its period (`bot.flows.schedule`), so the day's other runs, and the
    period's later days, find it swept.
    """
    sweep = config.config.sweep
    if not sweep.enabled:
        log.info("sweep skipped: sweep.enabled is false", extra={"repo_id": repo_id})
        return "sweep.enabled is false in the repository config"
    if request.trigger != "cron":
        return None
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


async def _evidence(
    deps: Deps,
    gh: InstallationClient,
    job_id: str,
    outcomes: Sequence[Outcome],
    pushed: Mapping[str, Pushed],
) -> dict[str, Pushed]:
    """Each pushed proposal with its full description, which is also its evidence: a check run
    on its branch's head commit, the commit it proves (a branch an earlier sweep made keeps the
    evidence that sweep put there)."""
    shown: dict[str, Pushed] = {}
    for outcome in outcomes:
        if outcome.branch not in pushed:
            continue
        item = proven(pushed[outcome.branch], outcome)
        await prove(
            deps.redis,
            gh,
            job_id,
            item.sha,
            SWEEP_CHECK,
            title=item.title,
            text=item.body,
            conclusion=proven_conclusion(outcome),
        )
        shown[item.branch] = item
    return shown


async def _refused(gh: InstallationClient, request: SweepRequest) -> dict[str, object] | None:
    """Why a sweep someone asked for does not run: only people with write access start one (the
    cron's always runs). The refusal is one reply on the issue or PR they asked on."""
    if request.trigger == "cron":
        return None
    if not request.requester:
        return {"status": "refused", "reason": "the request names nobody who asked for it"}
    if request.number:
        marker = hidden_marker(f"job:{request.job_id}")
        return await refused_unless_writer(gh, request.requester, request.number, marker)
    role = await gh.permission_of(request.requester)
    return None if may_trigger(role) else {"status": "refused", "role": role}


def disabled_reply(config: ConfigOutcome, branch: str) -> str:
    """The one reply to `@app sweep` when the default branch's config turns sweeps off."""
    source = config.source or CONFIG_PATHS[0]
    return (
        f"Sweeps are off for this repository: sweep.enabled is false in {source} on {branch}. "
        "Nothing was run."
    )


async def _skipped(
    deps: Deps,
    gh: InstallationClient,
    config: ConfigOutcome,
    request: SweepRequest,
    where: tuple[int, str],
) -> dict[str, object] | None:
    """Why this sweep does not run now (`_not_due`), for the repository `where` (its id and
    default branch); a person who asked is told once."""
    repo_id, branch = where
    skip = await _not_due(deps, config, request, repo_id)
    if skip is None:
        return None
    if request.trigger != "cron" and request.number:
        marker = hidden_marker(f"job:{request.job_id}")
        reply = disabled_reply(config, branch)
        await gh.find_or_create_comment(request.number, marker, reply)
    return {"status": "ignored", "reason": skip}


def held_for_owners(
    outcomes: Iterable[Outcome],
    pushed: Mapping[str, Pushed],
    owners: CodeOwnersFile | None,
    protects: Callable[[Iterable[str]], bool],
) -> list[Outcome]:
    """`outcomes`, where a published proposal that changes files of a protected owner (by the
    CODEOWNERS in `owners`) waits for a maintainer's approval instead of becoming a PR."""
    held: list[Outcome] = []
    for outcome in outcomes:
        item = pushed.get(outcome.branch) if outcome.fate == "published" else None
        owned = protected_paths(owners, item.files, protects) if item else ()
        if owned:
            why = "; ".join(r for r in (protected_text(owned), outcome.reason) if r)
            outcome = replace(outcome, fate="awaiting-approval", reason=why)
        held.append(outcome)
    return held


def _tuned(config: ConfigOutcome) -> Callable[[str], bool]:
    """Whether the config tunes the specialist of an agent name (`agents.<name>`): the record
    never holds back a specialist the maintainer configured."""
    names = {s.agent: s.name for s in enabled(config.config.specialists)}
    tuning = config.config.specialists.tuning
    return lambda agent: names.get(agent, agent) in tuning


def _screen(config: ConfigOutcome, record: Recall, work: SweepWork, base: str) -> Screened:
    pause = config.config.sweep.pause_after_rejections
    return screen(work.proposals, record, base, pause_after=pause, tuned=_tuned(config))


async def _remembered(
    gh: InstallationClient,
    config: ConfigOutcome,
    record: Recall,
    screened: Screened,
    where: tuple[str, dict[str, str]],
) -> str:
    """After the PRs are opened: say once on each rejected PR seen again that it stays closed,
    count the new PRs, and render the dashboard's outcomes section from the record now."""
    base, waits = where
    for fp, number in screened.seen_again:
        if number:
            await comment_rejection(gh, number, fp, record.dashboard)
    now = remember(await gh.list_pulls("all"), gh.bot_login)
    count_proposed(gh.full_name, record.memory, now)
    return dashboard_section(
        now,
        record,
        base,
        pause_after=config.config.sweep.pause_after_rejections,
        waiting=waits,
        notes=screened.notes,
        tuned=_tuned(config),
    )


def _room(config: ConfigOutcome, open_heads: Sequence[str]) -> int:
    """How many PRs this sweep may open: its own cap, and Ambient's open-PR limit."""
    ours = sum(1 for head in open_heads if head.startswith("ambient/"))
    return max(0, min(config.config.sweep.max_prs, config.config.limits.max_open_prs - ours))


async def sweep_repository(deps: Deps, request: SweepRequest) -> dict[str, object]:
    """Sweep the default branch and publish; Permanent errors propagate as the job's one line."""
    if request.requester_is_bot:
        return {"status": "ignored", "reason": "bots do not trigger work"}
    gh = await _client(deps, request.installation_id, request.owner, request.repo)
    refused = await _refused(gh, request)
    if refused is not None:
        return refused
    repo = await gh.get_repo()
    config = await repo_config(gh, repo.default_branch)
    skipped = await _skipped(deps, gh, config, request, (repo.id, repo.default_branch))
    if skipped is not None:
        return skipped
    over = await _over_limit(deps, gh, request, repo.full_name, config)
    if over is not None:
        return over
    base_sha = await gh.branch_sha(repo.default_branch)
    if base_sha is None:
        return {"status": "ignored", "reason": f"{repo.default_branch} has no commit yet"}
    settings, timings = deps.settings, Timings()
    async with await gh.clone(base_sha, settings.workspace_root, request.job_id) as workspace:
        # The checks come from the default branch's config, else from the base's files, and
        # never from a proposal's worktree: a proposal cannot choose what verifies it.
        checks = checks_of(config, workspace.repo)
        pipeline = PipelineConfig.from_settings(
            settings,
            checks=checks.lines,
            allow=config.config.verify.allow,
            gates=gate_options(config.config),
            setup=setup_choice(deps.environments, config, request.installation_id, repo.full_name),
        )
        found = await secrets_report(scan_repository, workspace.repo)
        where = (request.job_id, repo.full_name)
        work = await _proposals(deps, gh, config, pipeline, workspace, where)
        record = await recall(gh)
        screened = _screen(config, record, work, repo.default_branch)
        publisher = SweepPublisher(gh, workspace, base_sha)
        processed = await process(list(screened.kept), workspace, pipeline, publisher, timings)
    owners = await gh.codeowners(repo.default_branch)
    outcomes = tally(held_for_owners(processed, publisher.pushed, owners, config.config.protects))
    shown = await _evidence(deps, gh, request.job_id, outcomes, publisher.pushed)
    low = [shown[o.branch] for o in outcomes if o.fate == "published"]
    high = [Entry(o.title, o.branch) for o in outcomes if o.fate == "awaiting-approval"]
    room = _room(config, await gh.open_pull_heads())
    pulls = await open_pulls(
        gh, repo.default_branch, low, room, draft=config.config.draft_prs, owners=owners
    )
    status = None
    if work.plan is not None and work.coverage is not None:
        status = dashboard_status(work.plan.cursor, work.coverage)
    waits = {e.branch: publisher.pushed[e.branch].fp for e in high if e.branch in publisher.pushed}
    section = await _remembered(gh, config, record, screened, (repo.default_branch, waits))
    dashboard = await upsert_dashboard(
        deps.redis, gh, repo.id, high, status=status, outcomes=section
    )
    log.info("sweep finished", extra={"pulls": len(pulls), "timings": timings.stages})
    numbers = [number for _, number in pulls]
    lines = [_line(o) for o in (*outcomes, *screened.skipped)]
    said = config_source(config, repo.default_branch)
    failures = list(work.failures)
    if request.requester and request.number:
        shown_on = (dashboard or 0) if high else 0
        reply = sweep_reply(numbers, shown_on, lines, failures, len(found.items), said)
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
        "config": said,
        "coverage": work.coverage.line() if work.coverage else "",
    }


def sweep_reply(
    pulls: Sequence[int],
    dashboard: int,
    lines: Sequence[str],
    failures: Sequence[str],
    secrets: int,
    config: str = "",
) -> str:
    """The one reply to `@app sweep`: what was opened, what waits, what failed, and which
    config counted (`config`, as `config_source` says it)."""
    opened = f"opened {', '.join(f'#{n}' for n in pulls)}" if pulls else "no pull request opened"
    waiting = f"; proposals that need approval wait on #{dashboard}" if dashboard else ""
    text = [f"Sweep finished: {opened}{waiting}."]
    if config:
        text.append(f"- config: {config}")
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
    if not may_trigger(role):
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
