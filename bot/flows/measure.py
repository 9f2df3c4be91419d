"""Measure the base commit's test coverage for a sweep's tests specialist, in the sandbox.

The repository's own pytest check runs once more under coverage.py, in the environment the
checks use (set up first, no network), on a scratch worktree that is thrown away. Ambient
chooses this command, not the repository: coverage.py runs with no configuration file
(`--rcfile=/dev/null`) so a repository's `parallel`, `data_file` or plugins cannot hide the
report, with `--source=.` so modules no test imports are measured too.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agents.measured import CoverageUnreadable, Measured, read_measured
from bot.errors import SandboxError, SetupFailed
from bot.git import Workspace
from bot.pipeline import PipelineConfig, artifacts_discarded, checks_for
from sandbox import Command
from sandbox.base import WORKDIR

__all__ = ["MAX_REPORT_BYTES", "CoverageRun", "measure_coverage", "pytest_arguments", "read_report"]

_DATA: Final = ".ambient-coverage"
_REPORT: Final = ".ambient-coverage.json"
#: A report larger than this is not read (the standard library's is 12 MB).
MAX_REPORT_BYTES: Final = 64 << 20
_NO_RC: Final = "--rcfile=/dev/null"


@dataclass(frozen=True, slots=True)
class CoverageRun:
    """The measurement, or (`measured` None) why there is none, in one line."""

    measured: Measured | None
    note: str


def pytest_arguments(argv: Sequence[str]) -> tuple[str, ...] | None:
    """The arguments a pytest check passes to pytest (`pytest …`, `python -m pytest …`), or
    None for another command."""
    if argv and argv[0] in ("pytest", "py.test"):
        return tuple(argv[1:])
    if len(argv) >= 3 and argv[0].startswith("python") and argv[1:3] == ("-m", "pytest"):
        return tuple(argv[3:])
    return None


def read_report(path: Path) -> str:
    """The report the sandboxed run wrote (a file, not the output: a large project's report
    is more than the sandbox's output bound). Never through a link the checks could have
    planted; "" when there is none or it is too large."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    with os.fdopen(descriptor, "rb") as report:
        found = os.fstat(report.fileno())
        if not stat.S_ISREG(found.st_mode) or found.st_size > MAX_REPORT_BYTES:
            return ""
        return report.read(MAX_REPORT_BYTES).decode(errors="replace")


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


async def measure_coverage(
    pipeline: PipelineConfig, workspace: Workspace, sources: Collection[str], *, threshold: int
) -> CoverageRun:
    """Run the repository's pytest check under coverage on the base commit; the findings of
    the `sources` modules below `threshold` percent."""
    worktree = await workspace.add_worktree("coverage")
    try:
        commands, policy = checks_for(pipeline, worktree)
        found = [(c, pytest_arguments(c.argv)) for c in commands]
        chosen = next(((c, args) for c, args in found if args is not None), None)
        if chosen is None:
            return CoverageRun(None, "tests: coverage not measured: no pytest check")
        check, args = chosen
        timeout = check.timeout_s
        run = ("python", "-m", "coverage", "run", _NO_RC, f"--data-file={_DATA}", "--source=.")
        report = ("python", "-m", "coverage", "json", _NO_RC, f"--data-file={_DATA}", "-q", "-i")
        async with artifacts_discarded(worktree):
            async with pipeline.checks_on(worktree, policy) as box:
                suite = await box.run(
                    Command((*run, "-m", "pytest", *args), cwd=check.cwd, timeout_s=timeout)
                )
                written = f"{WORKDIR}/{_REPORT}"
                done = await box.run(
                    Command((*report, "-o", written), cwd=check.cwd, timeout_s=timeout)
                )
            text = await asyncio.to_thread(read_report, worktree / _REPORT)
        if done.exit_code != 0 or not text:
            said = _tail(done.stderr or done.stdout or "no report written")
            ran = "timed out" if suite.timed_out else f"exited {suite.exit_code}"
            why = f"the suite {ran} ({_tail(suite.stdout + suite.stderr)}); coverage said {said}"
            return CoverageRun(None, f"tests: coverage not measured: {why}")
        measured = read_measured(text, sources, threshold=threshold)
        return CoverageRun(measured, measured.note(threshold))
    except (SetupFailed, SandboxError, CoverageUnreadable) as exc:
        return CoverageRun(None, f"tests: coverage not measured: {exc}")
    finally:
        await workspace.remove_worktree(worktree)
