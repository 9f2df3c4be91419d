"""What a swarm run produced: selected, superseded and rejected proposals, failures, usage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agents.dedupe import Superseded
from agents.proposal import Proposal
from agents.risk import RiskDecision
from agents.usage import JobUsage

__all__ = ["AgentFailure", "Assessed", "Rejected", "Stage", "SwarmResult"]

Stage = Literal["propose", "filter", "refine", "risk"]


@dataclass(frozen=True, slots=True)
class Assessed:
    """A selected proposal and its risk after the rules."""

    proposal: Proposal
    risk: RiskDecision


@dataclass(frozen=True, slots=True)
class Rejected:
    """A proposal that will not be published: at which stage, and why (one line each)."""

    proposal: Proposal
    stage: Stage
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AgentFailure:
    """A specialist that failed (or answered unusably) at a stage; `error` is one line.

    `retryable` is true when the cause was transient (rate limit, 5xx, timeout): running the
    job again later may succeed.
    """

    agent: str
    stage: Stage
    error: str
    retryable: bool = False


def _brief(proposal: Proposal) -> dict[str, object]:
    return {
        "agent": proposal.agent,
        "title": proposal.title,
        "risk_level": proposal.risk_level,
        "files_touched": list(proposal.files_touched),
    }


@dataclass(frozen=True, slots=True)
class SwarmResult:
    """The outcome of propose → refine → dedupe/select → risk."""

    selected: tuple[Assessed, ...]
    superseded: tuple[Superseded, ...]
    rejected: tuple[Rejected, ...]
    failures: tuple[AgentFailure, ...]
    usage: JobUsage

    def summary(self) -> str:
        """One line for logs and reports."""
        failed = sorted({f.agent for f in self.failures})
        failures = f"; failed: {', '.join(failed)}" if failed else ""
        return (
            f"{len(self.selected)} selected, {len(self.superseded)} superseded, "
            f"{len(self.rejected)} rejected{failures}; {self.usage.summary()}"
        )

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready form (selected proposals in full; the others briefly, with reasons)."""
        return {
            "selected": [
                {
                    **a.proposal.as_dict(),
                    "risk": {
                        "level": a.risk.level,
                        "needs_approval": a.risk.needs_approval,
                        "reasons": list(a.risk.reasons),
                    },
                }
                for a in self.selected
            ],
            "superseded": [
                {**_brief(s.proposal), "kind": s.kind, "by": s.by.title, "reason": s.reason}
                for s in self.superseded
            ],
            "rejected": [
                {**_brief(r.proposal), "stage": r.stage, "reasons": list(r.reasons)}
                for r in self.rejected
            ],
            "failures": [
                {"agent": f.agent, "stage": f.stage, "error": f.error, "retryable": f.retryable}
                for f in self.failures
            ],
            "usage": self.usage.as_dict(),
        }
