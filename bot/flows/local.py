"""The local entry points: `ambient sweep` and `ambient fix` on a checkout.

The checkout is cloned at HEAD into an ephemeral workspace; proposals land as review branches
and `.patch` files in the checkout, never in its working tree.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agents.fixer import Fixer, FixTask
from agents.llm import LLM
from agents.rotation import Cursor, cursor_from_json
from agents.specialists import Specialist, SpecialistsConfig, enabled
from agents.specialists.secrets_report import secrets_report
from bot.flows.runner import SandboxRunner
from bot.flows.sweep_work import sweep_work
from bot.git import Workspace, run_git, tree_diff
from bot.pipeline import (
    Outcome,
    PipelineConfig,
    Report,
    Timings,
    checked,
    checks_for,
    finish,
    pass_gates,
    process,
    tally,
)
from bot.publish import LocalPublisher, state_dir
from bot.secrets import Finding, scan_diff_text

__all__ = [
    "CURSOR_FILE",
    "LocalRun",
    "SandboxRunner",
    "load_local_cursor",
    "local_fix",
    "local_sweep",
    "scan_repository",
    "snapshot",
]

log = logging.getLogger("ambient.flow.local")

#: Where a checkout's sweep cursor is kept, beside its proposals.
CURSOR_FILE: Final = ".ambient/sweep-cursor.json"
NO_MODEL: Final = (
    "no model configured (AMBIENT_LLM_BASE_URL, AMBIENT_LLM_MODEL): only ruff and the secret "
    "scan ran"
)


@dataclass(frozen=True, slots=True)
class LocalRun:
    """Where and how a local run works."""

    target: Path
    workspace_root: Path
    config: PipelineConfig
    model: LLM | None = None
    #: The commit to work on (default HEAD); `watch` passes a snapshot of the working tree.
    commit: str | None = None


async def _head(target: Path) -> str:
    return (await run_git(["rev-parse", "HEAD"], target)).text.strip()


async def snapshot(target: Path) -> str:
    """A commit of the working tree's tracked changes (HEAD when clean), made without touching
    the working tree, the index or any branch (`git stash create`).

    It is kept under `refs/ambient/snapshot`: the shallow workspace cloned from it shares no
    other commit with the checkout, and a fetch of a proposal back from a shallow repository is
    refused (silently) unless the checkout already has the proposal's parent under a ref.
    """
    made = (await run_git(["stash", "create", "ambient watch snapshot"], target)).text.strip()
    if not made:
        return await _head(target)
    await run_git(["update-ref", "refs/ambient/snapshot", made], target)
    return made


async def scan_repository(root: Path) -> list[Finding]:
    """The secrets committed in the checkout at `root`, files over `MAX_READ_BYTES` left out
    (and named in the log): a 150 MB text file must not hold the sweep for minutes."""
    whole = await tree_diff(root)
    if whole.skipped:
        log.warning("secret scan: %s", whole.note())
    report = await asyncio.to_thread(scan_diff_text, whole.text, root)
    return list(report.findings)


def load_local_cursor(target: Path) -> Cursor:
    """The checkout's own sweep cursor (kept beside its proposals), or the beginning."""
    try:
        text = (target / CURSOR_FILE).read_text()
    except (OSError, UnicodeDecodeError):
        return Cursor()
    return cursor_from_json(text) or Cursor()


def _save_cursor(target: Path, cursor: Cursor) -> None:
    (state_dir(target) / CURSOR_FILE.rsplit("/", 1)[1]).write_text(cursor.to_json() + "\n")


async def local_sweep(
    run: LocalRun,
    *,
    agents: SpecialistsConfig,
    focus: Sequence[str] = (),
    specialists: Sequence[Specialist] | None = None,
    ruff: bool | None = None,
) -> Report:
    """Sweep the checkout: ruff (when `ruff`, by default when `agents` enables it), the secret
    scan, and (with a model) the specialists' swarm (those `agents` enables, unless
    `specialists` names them). Successive sweeps take turns over the checkout's files, from a
    cursor kept in `.ambient/` of the checkout."""
    timings = Timings()
    notes: list[str] = [] if run.model else [NO_MODEL]
    head = run.commit or await _head(run.target)
    chosen = enabled(agents) if specialists is None else tuple(specialists)
    async with await Workspace.clone(
        str(run.target), head, None, run.workspace_root, "local-sweep"
    ) as workspace:
        found = await secrets_report(scan_repository, workspace.repo)
        work = await sweep_work(
            run.model,
            chosen,
            agents,
            run.config,
            workspace,
            job=f"local:{time.time_ns()}",
            cursor=await asyncio.to_thread(load_local_cursor, run.target),
            focus=focus,
            ruff=agents.wants("ruff") if ruff is None else ruff,
        )
        if work.plan is not None:
            await asyncio.to_thread(_save_cursor, run.target, work.plan.cursor)
        publisher = LocalPublisher(run.target, "sweep")
        outcomes = await process(list(work.proposals), workspace, run.config, publisher, timings)
    notes += work.notes
    notes += [work.coverage.line()] if work.coverage else []
    return Report(
        "sweep",
        str(run.target),
        tuple(tally(outcomes + list(work.outcomes))),
        tuple(notes),
        work.failures,
        tuple(f"{i.file}:{i.line} {i.type}" for i in found.items),
        work.usage,
        tuple(timings.stages.items()),
    )


async def local_fix(run: LocalRun, model: LLM, task: FixTask) -> Report:
    """Fix `task` in a worktree of the checkout; a verified fix becomes a review branch."""
    timings = Timings()
    head = await _head(run.target)
    async with await Workspace.clone(
        str(run.target), head, None, run.workspace_root, "local-fix"
    ) as workspace:
        worktree = await workspace.add_worktree("fix")
        commands, policy = checks_for(run.config, worktree)
        async with run.config.checks_on(worktree, policy) as box:
            result = await Fixer(model, policy=run.config.gates.path_policy).fix(
                FixTask(task.instructions, task.log, task.touched, tuple(map(str, commands))),
                worktree,
                verify=lambda: checked(worktree, box, tuple(commands)),
                reset=lambda: workspace.reset(worktree),
            )
        if result.proposal is None or result.verification is None:
            last = result.rounds[-1].detail if result.rounds else "no round ran"
            outcome = Outcome(
                "fixer",
                task.instructions[:80],
                "failed",
                f"no verified fix in {len(result.rounds)} rounds; last: {last}",
            )
        else:
            verified = result.verification
            gated = await pass_gates(
                result.proposal,
                worktree,
                options=run.config.gates,
                diff_of=workspace.diff,
                timings=timings,
                verified=verified,
            )
            publisher = LocalPublisher(run.target, "fix")
            outcome = await finish(gated, workspace, worktree, publisher, 1, timings)
    return Report(
        "fix",
        str(run.target),
        tuple(tally((outcome,))),
        usage=result.usage.summary(),
        timings=tuple(timings.stages.items()),
    )
