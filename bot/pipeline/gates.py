"""Every proposal passes the same gates before anything publishes it.

apply atomically (path confinement included) → secret scan of the added lines → verification in
the sandbox → risk rules. A proposal that fails a gate is reported with why and where, and its
worktree is removed; nothing of it reaches a publisher (DESIGN invariant 3).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from agents.proposal import Proposal
from agents.risk import RiskDecision, RiskRules, assess
from bot.patch import DebugBundle, PathPolicy, apply
from bot.repo_config import RepoConfig
from bot.secrets import ScanReport, scan_diff_text
from sandbox.verify import Verification

__all__ = [
    "Fate",
    "GateOptions",
    "Gated",
    "Timings",
    "gate_options",
    "pass_gates",
]

Fate = Literal[
    "published",
    "awaiting-approval",
    "refused",
    "blocked-path",
    "blocked-secret",
    "failed-verification",
    "setup-failed",
    "rejected",
    "superseded",
    "failed",
]


@dataclass(slots=True)
class Timings:
    """Seconds spent per stage, in the order the stages ran."""

    stages: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, started: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + time.monotonic() - started


@dataclass(frozen=True, slots=True)
class GateOptions:
    """How strict the gates are for one repository."""

    path_policy: PathPolicy = field(default_factory=PathPolicy)
    risk_rules: RiskRules = field(default_factory=RiskRules)
    allow_unverified: bool = False


def gate_options(config: RepoConfig) -> GateOptions:
    """The options of every gate a proposal passes for the repository `config` belongs to."""
    return GateOptions(config.path_policy(), config.risk_rules(), config.verify.allow_unverified)


@dataclass(frozen=True, slots=True)
class Gated:
    """A proposal after the gates: `fate` is None when it may be published."""

    proposal: Proposal
    fate: Fate | None
    reason: str
    diff: str = ""
    risk: RiskDecision | None = None
    scan: ScanReport | None = None
    verification: Verification | None = None
    debug: DebugBundle | None = None
    unverified: bool = False


Verify = Callable[[Path], Awaitable[Verification]]
Diff = Callable[[Path], Awaitable[str]]


async def pass_gates(
    proposal: Proposal,
    worktree: Path,
    *,
    options: GateOptions,
    diff_of: Diff,
    timings: Timings,
    verify: Verify | None = None,
    verified: Verification | None = None,
) -> Gated:
    """Run the gates on `proposal` in `worktree` (which it changes when it applies).

    Give `verify` to apply and verify the proposal here, or `verified` when it is already
    applied and verified in `worktree` (the fixer's result), so nothing runs twice.
    """
    if (verify is None) == (verified is None):
        raise ValueError("pass_gates takes exactly one of verify and verified")
    if verified is None:
        started = time.monotonic()
        applied = await apply(worktree, proposal.diff, policy=options.path_policy)
        timings.add("apply", started)
        if not applied.ok:
            fate: Fate = "blocked-path" if applied.refusal == "path" else "refused"
            return Gated(proposal, fate, applied.message, debug=applied.debug_bundle)
    diff = await diff_of(worktree)
    if not diff.strip():
        return Gated(proposal, "refused", "the change is already in the repository")
    started = time.monotonic()
    scan = await asyncio.to_thread(scan_diff_text, diff, worktree)
    timings.add("scan", started)
    if not scan.clean:
        return Gated(proposal, "blocked-secret", scan.summary(), diff, scan=scan)
    verification = verified
    if verification is None and verify is not None:
        started = time.monotonic()
        verification = await verify(worktree)
        timings.add("verify", started)
    if verification is None:
        raise ValueError("pass_gates has nothing to verify with")
    unverified = not verification.ok
    if verification.setup_failed and not options.allow_unverified:
        # Not a failed check: nothing was checked. Say why, and never call it verified.
        return Gated(
            proposal, "setup-failed", verification.summary(), diff, scan=scan,
            verification=verification,
        )  # fmt: skip
    if unverified and not options.allow_unverified:
        failed = verification.failed
        said = failed.describe() if failed else verification.summary()
        return Gated(
            proposal, "failed-verification", said, diff, scan=scan, verification=verification
        )
    risk = assess(replace(proposal, diff=diff), options.risk_rules)
    if risk.rejected:
        return Gated(proposal, "rejected", "; ".join(risk.reasons), diff, risk, scan, verification)
    return Gated(proposal, None, "", diff, risk, scan, verification, unverified=unverified)
