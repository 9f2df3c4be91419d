"""RefactorArchitect: structural improvements that keep behaviour."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pydantic import Field

from agents.specialists.base import Specialist, Tuning, as_tuning, load_prompt

__all__ = ["REFACTOR", "RefactorTuning"]


class RefactorTuning(Tuning):
    """`agents.refactor` in the repo config: when a function counts as too complex or long."""

    complexity_threshold: int = Field(default=15, ge=1)
    max_function_lines: int = Field(default=100, ge=5)


def _values(tuning: Tuning) -> Mapping[str, str]:
    own = as_tuning(tuning, RefactorTuning)
    return {
        "complexity_threshold": str(own.complexity_threshold),
        "max_function_lines": str(own.max_function_lines),
    }


REFACTOR: Final = Specialist(
    name="refactor",
    agent="RefactorArchitect",
    role="find structural improvements that make the code easier to read, change and test.",
    focus=("refactor", "duplication", "complexity", "naming"),
    prompt=load_prompt("refactor.md"),
    priority=2,
    tuning_model=RefactorTuning,
    values=_values,
)
