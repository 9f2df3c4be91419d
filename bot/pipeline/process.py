"""The one flow every entry point uses.

task → workspace (a clone at one commit) → agents → proposals → for each, in its own worktree
and in parallel: the gates (apply, secret scan, verify in the sandbox, risk) → publisher.
Stage timings are recorded; every proposal ends with a fate and a one-line reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from prometheus_client import Counter

from agents.proposal import Proposal
from bot.config import Settings
from bot.errors import SetupFailed
from bot.git import Workspace, run_git
from bot.pipeline.checks import read_checks
from bot.pipeline.environment import Environments, Prepared
from bot.pipeline.gates import Fate, Gated, GateOptions, Timings, pass_gates
from bot.pipeline.setup_plan import plan_setup
from sandbox import (
    Command,
    CommandPolicy,
    Provision,
    Sandbox,
    SandboxKind,
    open_sandbox,
    sandbox_identity,
)
from sandbox.policy import DEFAULT_PATTERNS
from sandbox.verify import Verification, run_checks

__all__ = [
    "PROPOSALS",
    "Baseline",
    "Outcome",
    "PipelineConfig",
    "Publisher",
    "Report",
    "SetupChoice",
    "artifacts_discarded",
    "checked",
    "checks_for",
    "failing_on_base",
    "finish",
    "process",
    "tally",
    "verifier",
]

PROPOSALS: Final = Counter(
    "ambient_proposals_total",
    "Proposals by agent and fate (published, awaiting-approval, failed, refused, superseded, …)",
    ["agent", "fate"],
)


def tally(outcomes: Sequence[Outcome]) -> Sequence[Outcome]:
    """Count each proposal's fate once, when its run reports it; returns `outcomes`."""
    for outcome in outcomes:
        PROPOSALS.labels(agent=outcome.agent, fate=outcome.fate).inc()
    return outcomes


@dataclass(frozen=True, slots=True)
class Publication:
    """Where a published proposal can be found."""

    branch: str
    commit: str
    patch_file: str = ""
    url: str = ""


class Publisher(Protocol):
    """Where accepted proposals go: GitHub, or branches of a local checkout."""

    async def publish(
        self, proposal: Proposal, source_repo: Path, worktree: Path, diff: str, number: int
    ) -> Publication: ...


@dataclass(frozen=True, slots=True)
class SetupChoice:
    """How a repository's environment is set up: by `environments` (None: no setup stage),
    for the repository `scope` names, with its config's `setup.commands` and `setup.python`."""

    environments: Environments | None = None
    scope: str = ""
    commands: tuple[str, ...] = ()
    python: str = ""


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """How one run verifies and gates: sandbox backend, checks, setup, gates, parallelism."""

    sandbox: SandboxKind = "docker"
    image: str = "ambient-sandbox:latest"
    checks: tuple[str, ...] | None = None
    #: The command patterns the checks need. Set (with `checks`), the worktree's own config is
    #: never read, so a proposal cannot choose what verifies it; None: read from the checkout.
    allow: tuple[str, ...] | None = None
    gates: GateOptions = field(default_factory=GateOptions)
    parallel: int = 2
    command_timeout_s: float = 600.0
    runtime: str = "auto"
    setup: SetupChoice = field(default_factory=SetupChoice)
    cache_dir: Path | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sandbox: SandboxKind | None = None,
        checks: tuple[str, ...] | None = None,
        allow: tuple[str, ...] | None = None,
        gates: GateOptions | None = None,
        setup: SetupChoice | None = None,
    ) -> PipelineConfig:
        """The sandbox backend, image and runtime of `settings` (`sandbox` overrides the
        backend), with the repository's `checks`, their `allow` patterns and `gates`."""
        return cls(
            sandbox=sandbox or settings.sandbox,
            image=settings.sandbox_image,
            checks=checks,
            allow=allow,
            gates=GateOptions() if gates is None else gates,
            runtime=settings.sandbox_runtime,
            setup=setup or SetupChoice(),
            cache_dir=settings.cache_dir,
        )

    def sandbox_on(
        self,
        worktree: Path,
        policy: CommandPolicy | None = None,
        provision: Provision | None = None,
    ) -> AbstractAsyncContextManager[Sandbox]:
        """A sandbox of this backend, image and runtime over `worktree`, for `async with`."""
        return open_sandbox(
            self.sandbox,
            worktree,
            policy=policy,
            image=self.image,
            runtime=self.runtime,
            provision=provision,
            cache_dir=self.cache_dir,
        )

    @asynccontextmanager
    async def checks_on(
        self, worktree: Path, policy: CommandPolicy | None = None
    ) -> AsyncIterator[Sandbox]:
        """A sandbox for the checks of `worktree`, its environment set up first.

        Raises `SetupFailed` (one line) when the environment cannot be set up: the checks
        would only fail at import, and a failed setup is never reported as a failed check."""
        prepared = await self.set_up(worktree)
        try:
            if prepared is not None and not prepared.run.ok:
                raise SetupFailed(prepared.run.line())
            provision = prepared.provision if prepared else None
            async with self.sandbox_on(worktree, policy, provision) as box:
                yield box
        finally:
            if prepared is not None:
                prepared.release()

    async def set_up(self, worktree: Path) -> Prepared | None:
        """The environment of `worktree`, from the cache or built now; None when this run has
        no setup stage. Release the result when the checks are done."""
        choice = self.setup
        if choice.environments is None:
            return None
        described = await run_git(["describe", "--tags", "--abbrev=0"], worktree, check=False)
        # Detection reads and walks the checkout: off the event loop.
        plan = await asyncio.to_thread(
            plan_setup,
            worktree,
            commands=choice.commands,
            python=choice.python,
            last_tag=described.text.strip() if described.returncode == 0 else "",
        )
        return await choice.environments.prepare(
            worktree,
            plan,
            scope=choice.scope,
            kind=self.sandbox,
            identity=await sandbox_identity(self.sandbox, self.image),
            open_box=self.sandbox_on,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one proposal."""

    agent: str
    title: str
    fate: Fate
    reason: str = ""
    risk: str = ""
    branch: str = ""
    patch_file: str = ""
    verification: str = ""

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class Report:
    """The result of one run: every proposal's fate, agent failures, findings, usage."""

    kind: str
    target: str
    outcomes: tuple[Outcome, ...]
    notes: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()
    usage: str = ""
    timings: tuple[tuple[str, float], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "target": self.target,
            "notes": list(self.notes),
            "proposals": [o.as_dict() for o in self.outcomes],
            "failures": list(self.failures),
            "findings": list(self.findings),
            "usage": self.usage,
            "timings_s": {stage: round(s, 3) for stage, s in self.timings},
        }


@dataclass(frozen=True, slots=True)
class Baseline:
    """What already fails on the base commit: whole checks (no evidence either way), and the
    tests of pytest checks (failing again, they are no evidence against a proposal).
    `setup_failed` when the base commit's environment could not be set up: then no check ran
    there, and nothing is known to fail."""

    skip: frozenset[str] = frozenset()
    known_failures: Mapping[str, frozenset[str]] = field(default_factory=dict)
    setup_failed: bool = False


def checks_for(config: PipelineConfig, worktree: Path) -> tuple[list[Command], CommandPolicy]:
    """The checks that verify `worktree` (configured, or detected) and the policy admitting them."""
    if config.checks is not None and config.allow is not None:
        lines, allow = config.checks, config.allow
    else:
        checks = read_checks(worktree)
        lines = config.checks if config.checks is not None else checks.commands
        allow = checks.allow
    policy = CommandPolicy((*DEFAULT_PATTERNS, *allow), "repository")
    return [Command.parse(line, timeout_s=config.command_timeout_s) for line in lines], policy


@asynccontextmanager
async def artifacts_discarded(worktree: Path) -> AsyncIterator[None]:
    """Stage the worktree (the change under test), and afterwards put the working tree back to
    exactly what is staged: whatever the checks wrote (caches, builds) is never published."""
    await run_git(["add", "--all", "--", "."], worktree)
    try:
        yield
    finally:
        await run_git(["clean", "-ffdxq"], worktree)
        await run_git(["checkout-index", "--all", "--force"], worktree)


async def checked(worktree: Path, box: Sandbox, commands: Sequence[Command]) -> Verification:
    """Run `commands` in `box`; whatever they write in `worktree` is discarded afterwards."""
    async with artifacts_discarded(worktree):
        return await run_checks(box, commands)


async def verifier(config: PipelineConfig, worktree: Path, baseline: Baseline) -> Verification:
    """Run the repository's checks (configured, or detected) in a fresh sandbox on `worktree`,
    judged against what already fails on the base commit."""
    commands, policy = checks_for(config, worktree)
    wanted = [c for c in commands if str(c) not in baseline.skip]
    skipped = tuple(str(c) for c in commands if str(c) in baseline.skip)
    if not wanted:
        return Verification((), skipped)
    prepared = await config.set_up(worktree)
    try:
        setup = prepared.run if prepared else None
        if prepared is not None and not prepared.run.ok:
            return Verification((), skipped, setup)
        async with (
            artifacts_discarded(worktree),
            config.sandbox_on(worktree, policy, prepared.provision if prepared else None) as box,
        ):
            verification = await run_checks(box, wanted, baseline.known_failures)
        return Verification(verification.runs, skipped, setup)
    finally:
        if prepared is not None:
            prepared.release()


async def failing_on_base(
    workspace: Workspace, config: PipelineConfig, timings: Timings
) -> Baseline:
    """Run every check on the base commit, each on its own so all are known."""
    worktree = await workspace.add_worktree("baseline")
    started = time.monotonic()
    skip: set[str] = set()
    known: dict[str, frozenset[str]] = {}
    prepared: Prepared | None = None
    try:
        commands, policy = checks_for(config, worktree)
        prepared = await config.set_up(worktree) if commands else None
        if prepared is not None and not prepared.run.ok:
            return Baseline(setup_failed=True)
        provision = prepared.provision if prepared else None
        async with config.sandbox_on(worktree, policy, provision) as box:
            for command in commands:
                (run,) = (await run_checks(box, [command])).runs
                if run.ok:
                    continue
                if run.failures and run.exit_code == 1:
                    known[str(command)] = run.failures
                else:
                    skip.add(str(command))
        return Baseline(frozenset(skip), known)
    finally:
        if prepared is not None:
            prepared.release()
        timings.add("baseline", started)
        await workspace.remove_worktree(worktree)


async def process(
    proposals: Sequence[Proposal],
    workspace: Workspace,
    config: PipelineConfig,
    publisher: Publisher,
    timings: Timings,
) -> list[Outcome]:
    """Gate and publish each proposal in its own worktree, `config.parallel` at a time.

    What already fails on the base commit is no evidence against a proposal (see `Baseline`);
    the report says so.
    """
    limit = asyncio.Semaphore(config.parallel)
    baseline = await failing_on_base(workspace, config, timings) if proposals else Baseline()

    async def one(number: int, proposal: Proposal) -> Outcome:
        async with limit:
            worktree = await workspace.add_worktree(f"proposal-{number}")
            try:
                gated = await pass_gates(
                    proposal,
                    worktree,
                    options=config.gates,
                    verify=lambda path: verifier(config, path, baseline),
                    diff_of=workspace.diff,
                    timings=timings,
                )
                return await finish(gated, workspace, worktree, publisher, number, timings)
            finally:
                await workspace.remove_worktree(worktree)

    return list(await asyncio.gather(*(one(n, p) for n, p in enumerate(proposals, 1))))


async def finish(
    gated: Gated,
    workspace: Workspace,
    worktree: Path,
    publisher: Publisher,
    number: int,
    timings: Timings,
) -> Outcome:
    """Publish a proposal that passed the gates; report one that did not."""
    proposal = gated.proposal
    verification = gated.verification.summary() if gated.verification else ""
    risk = gated.risk.level if gated.risk else ""
    if gated.fate is not None:
        return Outcome(
            proposal.agent,
            proposal.title,
            gated.fate,
            gated.reason,
            risk,
            verification=verification,
        )
    started = time.monotonic()
    published = await publisher.publish(proposal, workspace.repo, worktree, gated.diff, number)
    timings.add("publish", started)
    fate: Fate = "awaiting-approval" if gated.risk and gated.risk.needs_approval else "published"
    note = "published unverified, as the repository allows" if gated.unverified else ""
    return Outcome(
        proposal.agent,
        proposal.title,
        fate,
        note,
        risk,
        published.branch,
        published.patch_file,
        verification,
    )
