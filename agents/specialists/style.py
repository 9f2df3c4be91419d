"""StyleEnforcer: documentation, naming, imports and comments; never behaviour."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from agents.proposal import Proposal
from agents.specialists.base import Dropped, Specialist, Tuning, as_tuning, load_prompt

__all__ = ["STYLE", "StyleTuning"]


class StyleTuning(Tuning):
    """`agents.style` in the repo config: leave layout to the formatter (the default)."""

    defer_to_formatter: bool = True


def _values(tuning: Tuning) -> Mapping[str, str]:
    own = as_tuning(tuning, StyleTuning)
    if own.defer_to_formatter:
        note = "leave layout (line length, indentation, quotes) to the project's formatter."
    else:
        note = "line length, indentation and whitespace the project's configuration sets."
    return {"formatter_note": note}


def _check(proposal: Proposal, tuning: Tuning) -> Proposal | Dropped:
    # The prompt promises style changes never alter behaviour; a higher claim says otherwise.
    if proposal.risk_level != "low":
        return Dropped(
            f"a style proposal must be low risk, and this one claims {proposal.risk_level}"
        )
    return proposal


STYLE: Final = Specialist(
    name="style",
    agent="StyleEnforcer",
    role="keep the codebase consistent with its own conventions and well documented.",
    focus=("style", "documentation", "naming", "imports"),
    prompt=load_prompt("style.md"),
    priority=4,
    tuning_model=StyleTuning,
    values=_values,
    check=_check,
)
