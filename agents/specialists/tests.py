"""TestEnhancer: tests for untested paths and edge cases; changes test files only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from pydantic import Field

from agents.proposal import Proposal, diff_paths
from agents.specialists.base import Dropped, Specialist, Tuning, as_tuning, load_prompt

__all__ = ["TESTS", "TestsTuning", "is_test_path"]

_TEST_PATH: Final = re.compile(
    r"(^|/)([^/]*_)?(tests?|testing|__tests__|spec)/"
    r"|(^|/)test_[^/]*$|_test\.[^/]+$|_tests\.[^/]+$|\.(test|spec)\.[^/]+$|(^|/)conftest\.py$"
)


def is_test_path(path: str) -> bool:
    """True for files that hold tests (tests/, typing_tests/, testing/, test_*.py, *_test.go,
    *.spec.ts, conftest.py)."""
    return _TEST_PATH.search(path) is not None


class TestsTuning(Tuning):
    """`agents.tests` in the repo config: the coverage aimed at, the paths tested first, and
    whether a sweep runs the suite under coverage to find the code it never runs."""

    __test__ = False  # not a pytest test class, despite its name

    coverage_threshold: int = Field(default=80, ge=0, le=100)
    measure_coverage: bool = True


def _values(tuning: Tuning) -> Mapping[str, str]:
    own = as_tuning(tuning, TestsTuning)
    paths = ", ".join(own.prioritize_paths)
    note = f"Test these paths first: {paths}\n" if paths else ""
    return {"coverage_threshold": str(own.coverage_threshold), "priority_note": note}


def _check(proposal: Proposal, tuning: Tuning) -> Proposal | Dropped:
    others = [p for p in diff_paths(proposal.diff) if not is_test_path(p)]
    if others:
        return Dropped(f"a test proposal may change test files only, not {', '.join(others)}")
    return proposal


TESTS: Final = Specialist(
    name="tests",
    agent="TestEnhancer",
    role="make sure critical code is well tested and the tests are reliable.",
    focus=("test", "coverage", "edge-case", "flaky"),
    prompt=load_prompt("tests.md"),
    priority=3,
    tuning_model=TestsTuning,
    values=_values,
    check=_check,
)
