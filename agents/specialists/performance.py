"""PerformanceOptimizer: algorithmic and I/O bottlenecks with a measurable effect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pydantic import Field

from agents.proposal import Proposal
from agents.specialists.base import Dropped, Specialist, Tuning, as_tuning, load_prompt, raise_risk

__all__ = ["PERFORMANCE", "PerformanceTuning"]


class PerformanceTuning(Tuning):
    """`agents.performance` in the repo config: the least speed-up worth a proposal."""

    min_speedup_percent: int = Field(default=10, ge=1, le=1000)


def _values(tuning: Tuning) -> Mapping[str, str]:
    own = as_tuning(tuning, PerformanceTuning)
    return {"min_speedup_percent": str(own.min_speedup_percent)}


def _check(proposal: Proposal, tuning: Tuning) -> Proposal | Dropped:
    # A faster path can hide a new bug: never let one pass as low risk.
    return raise_risk(proposal, "medium")


PERFORMANCE: Final = Specialist(
    name="performance",
    agent="PerformanceOptimizer",
    role="find performance bottlenecks and propose optimisations with a measurable effect.",
    focus=("performance", "algorithm", "io", "memory"),
    prompt=load_prompt("performance.md"),
    priority=1,
    tuning_model=PerformanceTuning,
    values=_values,
    check=_check,
)
