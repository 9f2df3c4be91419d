"""What /metrics counts, read from the process's registry after the real thing happened."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bot.pipeline.process import Outcome, tally
from sandbox import Command
from sandbox.bwrap import BwrapSandbox
from tests.fixtures.sandbox import ANYTHING, require_backend


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.bwrap
async def test_sandbox_runs_are_counted_by_backend_and_outcome(sandbox_workspace: Path) -> None:
    require_backend("bwrap")
    before = {
        outcome: _sample("ambient_sandbox_runs_total", backend="bwrap", outcome=outcome)
        for outcome in ("ok", "failed", "timeout")
    }
    timed = _sample("ambient_sandbox_run_seconds_count", backend="bwrap")
    async with await BwrapSandbox.open(sandbox_workspace, policy=ANYTHING) as sandbox:
        await sandbox.run(Command(("true",)))
        await sandbox.run(Command(("sh", "-c", "exit 3")))
        await sandbox.run(Command(("sleep", "5"), timeout_s=0.2))
    for outcome in ("ok", "failed", "timeout"):
        after = _sample("ambient_sandbox_runs_total", backend="bwrap", outcome=outcome)
        assert after == before[outcome] + 1, outcome
    assert _sample("ambient_sandbox_run_seconds_count", backend="bwrap") == timed + 3


def test_each_proposal_fate_is_counted_by_agent() -> None:
    before = _sample("ambient_proposals_total", agent="metrics-probe", fate="published")
    refused = _sample("ambient_proposals_total", agent="metrics-probe", fate="refused")
    outcomes = (
        Outcome("metrics-probe", "a", "published"),
        Outcome("metrics-probe", "b", "published"),
        Outcome("metrics-probe", "c", "refused", "outside the allowed paths"),
    )
    assert tally(outcomes) == outcomes
    assert _sample("ambient_proposals_total", agent="metrics-probe", fate="published") == before + 2
    assert _sample("ambient_proposals_total", agent="metrics-probe", fate="refused") == refused + 1
