"""The local entry points: `ambient sweep` and `ambient fix` on a checkout.

The checkout is cloned at HEAD into an ephemeral workspace; proposals land as review branches
and `.patch` files in the checkout, never in its working tree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agents.context import build_pack, read_repo
from agents.fixer import Fixer, FixTask
from agents.llm import LLM
from agents.pack_render import render_pack
from agents.proposal import Proposal
from agents.specialists import enabled
from agents.specialists.base import RunOutcome, SpecialistsConfig
from agents.specialists.ruff import RuffFailed, ruff_proposal
from agents.specialists.secrets_report import secrets_report
from agents.swarm import run_swarm
from agents.swarm_result import SwarmResult
from bot.git import Workspace, run_git
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
from bot.publish import LocalPublisher
from bot.secrets import Finding, scan_diff_text
from sandbox import Command, Sandbox

__all__ = ["LocalRun", "local_fix", "local_sweep", "snapshot"]

#: git's empty tree: a diff from it adds every line of the repository.
EMPTY_TREE: Final = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
CONTEXT_TOKENS: Final = 12_000
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


class SandboxRunner:
    """Runs a model-free specialist's commands in a sandbox (the `CommandRunner` protocol)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    async def run(self, argv: tuple[str, ...], cwd: Path) -> RunOutcome:
        relative = cwd.relative_to(self._sandbox.workspace).as_posix() or "."
        result = await self._sandbox.run(Command(argv, cwd=relative, timeout_s=300))
        return RunOutcome(result.exit_code, result.stdout, result.stderr)


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


async def _scan_repository(root: Path) -> list[Finding]:
    diff = (await run_git(["diff", "--no-color", EMPTY_TREE, "HEAD"], root)).text
    report = await asyncio.to_thread(scan_diff_text, diff, root)
    return list(report.findings)


async def _ruff(run: LocalRun, workspace: Workspace) -> tuple[Proposal | None, str]:
    worktree = await workspace.add_worktree("ruff")
    try:
        async with run.config.sandbox_on(worktree) as box:
            return await ruff_proposal(SandboxRunner(box), worktree), ""
    except RuffFailed as exc:
        return None, f"ruff: {exc}"
    finally:
        await workspace.remove_worktree(worktree)


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


async def local_sweep(
    run: LocalRun, *, agents: SpecialistsConfig, focus: Sequence[str] = ()
) -> Report:
    """Sweep the checkout: ruff, the secret scan, and (with a model) the specialists' swarm."""
    timings = Timings()
    notes: list[str] = [] if run.model else [NO_MODEL]
    failures: list[str] = []
    extra: list[Outcome] = []
    head = run.commit or await _head(run.target)
    async with await Workspace.clone(
        str(run.target), head, None, run.workspace_root, "local-sweep"
    ) as workspace:
        proposals: list[Proposal] = []
        ruff, ruff_failed = await _ruff(run, workspace)
        proposals += [ruff] if ruff else []
        failures += [ruff_failed] if ruff_failed else []
        found = await secrets_report(_scan_repository, workspace.repo)
        usage = ""
        if run.model is not None and enabled(agents):
            repo = await read_repo(workspace.repo)
            pack = build_pack(repo, budget_tokens=CONTEXT_TOKENS, touched=focus)
            result = await run_swarm(
                run.model, enabled(agents), render_pack(pack), config=agents, extra=proposals
            )
            proposals = [a.proposal for a in result.selected]
            failures += [f"{f.agent} ({f.stage}): {f.error}" for f in result.failures]
            extra = _swarm_outcomes(result)
            usage = result.usage.summary()
        publisher = LocalPublisher(run.target, "sweep")
        outcomes = await process(proposals, workspace, run.config, publisher, timings)
    return Report(
        "sweep",
        str(run.target),
        tuple(tally(outcomes + extra)),
        tuple(notes),
        tuple(failures),
        tuple(f"{i.file}:{i.line} {i.type}" for i in found.items),
        usage,
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
