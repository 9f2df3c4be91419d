"""Findings: what model-free analyzers say of a line of code, and which specialist each concerns.

A finding comes from ruff (a rule code such as `S602`), from the stdlib `ast`
(`long-function`, `nested-loop`), from the test-import graph (`untested`) or from running
the suite under coverage (`uncovered`, `agents.measured`). Each specialist
reads the findings of its own rules; `weight_of` says how much one finding counts when its
file is ranked. Pure values and tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "COMPLEXITY_FLOOR",
    "RUFF_IGNORE",
    "RUFF_SELECT",
    "Finding",
    "concerns",
    "for_specialist",
    "ruff_selection",
    "weight_of",
]

#: Functions more complex than this are reported by ruff's C901 and ranked by how much more.
COMPLEXITY_FLOOR: Final = 10

#: The ruff rule selectors each specialist reads (by code prefix).
RUFF_SELECT: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        # flake8-bandit.
        "security": ("S",),
        # mccabe and pylint's size rules: returns, branches, arguments, statements.
        "refactor": ("C901", "PLR0911", "PLR0912", "PLR0913", "PLR0915"),
        # perflint, and complex functions (loops and branches are where time goes).
        "performance": ("PERF", "C901"),
        # pycodestyle, pep8-naming, pyupgrade.
        "style": ("E", "W", "N", "UP"),
        "tests": (),
    }
)
#: Rules never worth a specialist's attention: asserts (the way tests are written), any
#: subprocess call and any program found on PATH (they flag every use, not a danger), line
#: length (the formatter's business, and the project's own limit is not known here).
RUFF_IGNORE: Final = ("S101", "S603", "S607", "E501")

#: Findings from elsewhere than ruff, by the specialist they concern.
_OWN_CODES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "security": (),
        "refactor": ("long-function",),
        "performance": ("nested-loop",),
        "style": (),
        "tests": ("untested", "uncovered"),
    }
)
#: Security rules whose findings are exploitable as they stand: shell and code execution,
#: unsafe deserialisation, SQL built from strings, disabled TLS checks, template injection.
_SEVERE: Final = frozenset(
    {
        "S102", "S301", "S302", "S307", "S308", "S310", "S312", "S323", "S324", "S413",
        "S501", "S502", "S503", "S504", "S506", "S507", "S508", "S509", "S601", "S602",
        "S604", "S605", "S606", "S608", "S609", "S610", "S611", "S701", "S702",
    }
)  # fmt: skip
_COMPLEXITY: Final = re.compile(r"\((\d+) > \d+\)")
_LENGTH: Final = re.compile(r" is (\d+) lines long")
_UNRUN: Final = re.compile(r"^(\d+) of (\d+) statements not run")


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding: its rule `code`, where it is (1-based `line`), and what it says."""

    code: str
    path: str
    line: int
    message: str
    #: How the finding reads as the reason its file was shown; default `finding CODE line N`.
    label: str = ""

    @property
    def reason(self) -> str:
        """Why this finding brought its file into a pack, in a few words."""
        return self.label or f"finding {self.code} line {self.line}"

    def as_dict(self) -> dict[str, object]:
        """The finding for JSON output."""
        return {"code": self.code, "path": self.path, "line": self.line, "message": self.message}


def ruff_selection() -> tuple[str, ...]:
    """Every ruff selector some specialist reads, once each."""
    return tuple(dict.fromkeys(code for codes in RUFF_SELECT.values() for code in codes))


def concerns(finding: Finding, specialist: str) -> bool:
    """Whether `finding` is one the `specialist` (short name) reads."""
    if finding.code in _OWN_CODES.get(specialist, ()):
        return True
    return any(finding.code.startswith(prefix) for prefix in RUFF_SELECT.get(specialist, ()))


def weight_of(finding: Finding, specialist: str) -> float:
    """How much `finding` counts towards ranking its file for `specialist`."""
    if specialist == "security":
        return 3.0 if finding.code in _SEVERE else 1.0
    if finding.code == "C901":
        found = _COMPLEXITY.search(finding.message)
        excess = int(found[1]) - COMPLEXITY_FLOOR if found else 1
        return (1.0 + excess / 2) * (0.5 if specialist == "performance" else 1.0)
    if finding.code == "long-function":
        found = _LENGTH.search(finding.message)
        return int(found[1]) / 50 if found else 1.0
    if finding.code == "uncovered":
        found = _UNRUN.search(finding.message)
        return 1.0 + 3.0 * int(found[1]) / int(found[2]) if found else 2.0
    if finding.code in ("nested-loop", "untested") or finding.code.startswith("PERF"):
        return 2.0
    if specialist == "style":
        return 0.5
    return 1.0


def for_specialist(findings: Iterable[Finding], specialist: str) -> tuple[Finding, ...]:
    """The findings `specialist` reads, in the order given."""
    return tuple(f for f in findings if concerns(f, specialist))
