"""What a sweep proposes, on GitHub and on a laptop alike: ruff's fixes by rule family, and
(with a model) the specialists' swarm, each specialist shown its own pack.

The packs are chosen before any model call (`agents.sweep_pack`): ruff and the syntax tree
find what each specialist reads first, the repository map shows the whole project's shape,
and the cursor gives every file its turn. Each proposal a specialist makes then names the
finding that prompted it. Without a swarm, ruff's proposals that overlap are resolved the way
the swarm resolves them, so no two of them change the same lines.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from agents.analysis import analyse_checkout
from agents.context import read_repo
from agents.dedupe import select
from agents.llm import LLM
from agents.pack_render import render_pack
from agents.prompted import with_prompt
from agents.proposal import Proposal
from agents.rotation import Coverage, Cursor, begin, coverage
from agents.specialists import Specialist, SpecialistsConfig
from agents.specialists.base import CommandRunner, as_tuning
from agents.specialists.ruff import RuffFailed, ruff_proposals
from agents.specialists.tests import TESTS, TestsTuning
from agents.swarm import SwarmOptions, run_swarm
from agents.swarm_result import SwarmResult
from agents.sweep_pack import SweepPlan, plan_sweep
from bot.flows.measure import CoverageRun, measure_coverage
from bot.flows.runner import SandboxRunner
from bot.git import Workspace
from bot.patch import glob_matches
from bot.pipeline import Outcome, PipelineConfig

__all__ = ["SweepWork", "ruff_step", "sweep_work"]


@dataclass(frozen=True, slots=True)
class SweepWork:
    """A sweep's proposals, what failed on the way, the swarm's other fates (for reports), its
    token usage, and the plan of what each specialist was shown (None without a swarm)."""

    proposals: tuple[Proposal, ...]
    failures: tuple[str, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    usage: str = ""
    plan: SweepPlan | None = None
    coverage: Coverage | None = None
    notes: tuple[str, ...] = ()


def _forbidden(pipeline: PipelineConfig) -> Callable[[str], bool]:
    """Whether the path gate refuses a path (the built-in list and `paths.ignore`)."""
    globs = pipeline.gates.path_policy.forbidden
    return lambda path: any(glob_matches(glob, path) for glob in globs)


async def ruff_step(pipeline: PipelineConfig, workspace: Workspace) -> tuple[list[Proposal], str]:
    """ruff's proposals, each rule family made in the sandbox on a scratch worktree of its own;
    or why there are none."""
    made = itertools.count(1)

    @asynccontextmanager
    async def scratch() -> AsyncIterator[tuple[CommandRunner, Path]]:
        worktree = await workspace.add_worktree(f"ruff-{next(made)}")
        try:
            async with pipeline.sandbox_on(worktree) as box:
                yield SandboxRunner(box), worktree
        finally:
            await workspace.remove_worktree(worktree)

    try:
        found = await ruff_proposals(
            scratch, max_files=pipeline.gates.risk_rules.max_files, skip=_forbidden(pipeline)
        )
    except RuffFailed as exc:
        return [], f"ruff: {exc}"
    return list(found), ""


def _swarm_outcomes(result: SwarmResult) -> list[Outcome]:
    outcomes = [
        Outcome(s.proposal.agent, s.proposal.title, "superseded", s.reason)
        for s in result.superseded
    ]
    outcomes += [
        Outcome(r.proposal.agent, r.proposal.title, "rejected", "; ".join(r.reasons))
        for r in result.rejected
    ]
    return outcomes


def _alone(proposals: Sequence[Proposal]) -> SweepWork:
    """ruff's proposals without a swarm: one per overlap, as the swarm would select."""
    selection = select(proposals, {})
    kept = set(selection.selected)
    superseded = tuple(
        Outcome(s.proposal.agent, s.proposal.title, "superseded", s.reason)
        for s in selection.superseded
    )
    return SweepWork(tuple(p for p in proposals if p in kept), outcomes=superseded)


async def sweep_work(
    model: LLM | None,
    specialists: Sequence[Specialist],
    agents: SpecialistsConfig,
    pipeline: PipelineConfig,
    workspace: Workspace,
    *,
    job: str,
    cursor: Cursor,
    focus: Sequence[str] = (),
    ruff: bool = True,
) -> SweepWork:
    """ruff's proposals (when `ruff`) and, with a model and specialists, the swarm's
    selection, each specialist shown the pack its findings and its turn choose (from `cursor`).
    """
    fixes, failed = await ruff_step(pipeline, workspace) if ruff else ([], "")
    failures = (failed,) if failed else ()
    if model is None or not specialists:
        return replace(_alone(fixes), failures=failures)
    repo = await read_repo(workspace.repo)
    measured = await _measured(pipeline, workspace, specialists, agents, repo.texts)
    analysis = await analyse_checkout(
        workspace.repo,
        repo,
        agents,
        skip=_forbidden(pipeline),
        measured=measured.measured if measured else None,
    )
    plan = plan_sweep(
        analysis, specialists, agents, cursor=begin(cursor, job), job=job, touched=focus
    )
    contexts = {name: render_pack(pack) for name, pack in plan.packs.items()}
    options = SwarmOptions(rules=pipeline.gates.risk_rules)
    result = await run_swarm(
        model, specialists, contexts, config=agents, extra=fixes, options=options
    )
    names = {s.agent: s.name for s in specialists}
    proposals = tuple(
        with_prompt(a.proposal, plan.packs[names[a.proposal.agent]])
        if a.proposal.agent in names
        else a.proposal
        for a in result.selected
    )
    return SweepWork(
        proposals,
        failures + tuple(f"{f.agent} ({f.stage}): {f.error}" for f in result.failures),
        tuple(_swarm_outcomes(result)),
        result.usage.summary(),
        plan,
        coverage(plan.cursor, analysis.sources),
        analysis.notes + ((measured.note,) if measured else ()),
    )


async def _measured(
    pipeline: PipelineConfig,
    workspace: Workspace,
    specialists: Sequence[Specialist],
    agents: SpecialistsConfig,
    sources: Collection[str],
) -> CoverageRun | None:
    """The suite's measured coverage when the tests specialist takes part and measures."""
    if not any(s.name == TESTS.name for s in specialists):
        return None
    tuning = as_tuning(agents.tuning_of(TESTS), TestsTuning)
    if not tuning.measure_coverage:
        return None
    return await measure_coverage(pipeline, workspace, sources, threshold=tuning.coverage_threshold)
