"""Measured coverage as findings: which code the repository's own test suite never runs.

The sweep runs the suite once under coverage.py (`--source=.`, so modules no test imports are
measured too, at 0%) and hands its JSON report here. Each source module below the tests
specialist's `coverage_threshold` gets findings at its longest runs of lines the suite never
ran, so its pack shows those functions. Pure: parsing and arithmetic over the report.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Final

from agents.findings import Finding
from agents.specialists.tests import is_test_path
from bot.errors import Permanent

__all__ = ["CODE", "CoverageUnreadable", "Measured", "read_measured", "uncovered_runs"]

#: The findings' rule code.
CODE: Final = "uncovered"
#: At most this many runs of a module's unrun lines become findings (the longest ones).
RUNS_PER_FILE: Final = 3


class CoverageUnreadable(Permanent):
    """coverage.py's JSON report could not be read (not JSON, or not its format)."""


@dataclass(frozen=True, slots=True)
class Measured:
    """What the suite's run measured: the findings, and the share of statements it ran."""

    findings: tuple[Finding, ...]
    files: int
    statements: int
    covered: int

    @property
    def percent(self) -> float:
        """The share of the measured statements the suite ran, in percent."""
        return 100.0 * self.covered / self.statements if self.statements else 100.0

    def note(self, threshold: int) -> str:
        """One line for the sweep's report."""
        below = len({f.path for f in self.findings})
        return (
            f"tests: coverage measured by running the suite: {self.percent:.0f}% of "
            f"{self.statements} statements in {self.files} modules; {below} below {threshold}%"
        )


def uncovered_runs(missing: Sequence[int], executed: Sequence[int]) -> list[tuple[int, int]]:
    """The runs of `missing` lines with no executed line between them, as (first, last),
    longest first (then by line)."""
    ran = sorted(executed)
    runs: list[list[int]] = []
    cursor = 0
    for line in sorted(missing):
        while cursor < len(ran) and ran[cursor] < line:
            cursor += 1
        if runs and not (cursor > 0 and runs[-1][1] < ran[cursor - 1] < line):
            runs[-1][1] = line
            runs[-1][2] += 1
        else:
            runs.append([line, line, 1])
    ordered = sorted(runs, key=lambda run: (-run[2], run[0]))
    return [(first, last) for first, last, _ in ordered]


def _lines(entry: dict[str, object], key: str, where: str) -> list[int]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(n, int) for n in value):
        raise CoverageUnreadable(f"coverage report: {where}: {key} is not a list of lines")
    return value


def _file_findings(
    path: str, missing: list[int], executed: list[int], threshold: int
) -> tuple[Finding, ...]:
    statements = len(missing) + len(executed)
    percent = 100.0 * len(executed) / statements
    if not missing or percent >= threshold:
        return ()
    findings = []
    for first, last in uncovered_runs(missing, executed)[:RUNS_PER_FILE]:
        span = f"line {first}" if first == last else f"lines {first}-{last}"
        message = (
            f"{len(missing)} of {statements} statements not run by the test suite "
            f"({percent:.0f}% covered); {span} never run"
        )
        findings.append(
            Finding(CODE, path, first, message, f"measured coverage {percent:.0f}%: {span} not run")
        )
    return tuple(findings)


def read_measured(report: str, sources: Collection[str], *, threshold: int) -> Measured:
    """The findings of coverage.py's JSON `report` for the `sources` (repository paths; test
    files and other measured paths are left out). Raises `CoverageUnreadable`."""
    try:
        data = json.loads(report)
    except ValueError as exc:
        raise CoverageUnreadable(f"coverage report is not JSON: {exc}") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise CoverageUnreadable("coverage report has no files object")
    findings: list[Finding] = []
    measured = statements = covered = 0
    for raw_path, entry in sorted(files.items()):
        path = str(raw_path).removeprefix("./")
        if path not in sources or is_test_path(path):
            continue
        if not isinstance(entry, dict):
            raise CoverageUnreadable(f"coverage report: {path} is not an object")
        missing = _lines(entry, "missing_lines", path)
        executed = _lines(entry, "executed_lines", path)
        if not missing and not executed:
            continue
        measured += 1
        statements += len(missing) + len(executed)
        covered += len(executed)
        findings += _file_findings(path, missing, executed, threshold)
    return Measured(tuple(findings), measured, statements, covered)
