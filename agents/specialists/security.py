"""SecurityGuardian: finds confirmed vulnerabilities and proposes their fixes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from agents.proposal import Proposal, RiskLevel
from agents.risk import RISK_RANK
from agents.specialists.base import Dropped, Specialist, Tuning, as_tuning, load_prompt

__all__ = ["SECURITY", "SecurityTuning"]


class SecurityTuning(Tuning):
    """`agents.security` in the repo config: the least severity worth a proposal."""

    severity_threshold: RiskLevel = "low"


def _values(tuning: Tuning) -> Mapping[str, str]:
    own = as_tuning(tuning, SecurityTuning)
    return {"severity_threshold": own.severity_threshold}


def _check(proposal: Proposal, tuning: Tuning) -> Proposal | Dropped:
    own = as_tuning(tuning, SecurityTuning)
    if RISK_RANK[proposal.risk_level] < RISK_RANK[own.severity_threshold]:
        return Dropped(
            f"severity {proposal.risk_level} is below this repository's threshold "
            f"({own.severity_threshold})"
        )
    return proposal


SECURITY: Final = Specialist(
    name="security",
    agent="SecurityGuardian",
    role="find security vulnerabilities in the repository and propose patches that remove them.",
    focus=("security", "secrets", "injection", "dependencies", "crypto"),
    prompt=load_prompt("security.md"),
    priority=0,
    tuning_model=SecurityTuning,
    values=_values,
    check=_check,
)
