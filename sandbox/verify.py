"""The verification stage: run a repository's checks in a sandbox and keep the evidence."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from sandbox.base import Command, Result, Sandbox

__all__ = ["CommandRun", "SetupRun", "Verification", "run_checks"]

OUTPUT_TAIL_CHARS: Final = 4000
# pytest's short summary (on by default since pytest 6: -rfE) names each failing test.
_PYTEST_FAILED: Final = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)
_PYTEST_TESTS_FAILED: Final = 1


def failing_tests(command: Command, output: str) -> frozenset[str]:
    """The test ids a pytest run reports as failed or errored (empty for other commands)."""
    if not any("pytest" in part for part in command.argv[:3]):
        return frozenset()
    return frozenset(match.group(1) for match in _PYTEST_FAILED.finditer(output))


@dataclass(frozen=True, slots=True)
class CommandRun:
    """One verification command and what it did (the tail of its output, for reports)."""

    command: str
    exit_code: int
    duration_s: float
    output_tail: str
    timed_out: bool = False
    oom_killed: bool = False
    failures: frozenset[str] = frozenset()
    #: Tests that already fail on the base commit; failing again, they are no evidence against.
    known_failures: frozenset[str] = frozenset()
    workspace_exceeded: bool = False

    @property
    def ok(self) -> bool:
        if self.timed_out or self.oom_killed or self.workspace_exceeded:
            return False
        if self.exit_code == 0:
            return True
        return (
            self.exit_code == _PYTEST_TESTS_FAILED
            and bool(self.failures)
            and self.failures <= self.known_failures
        )

    def describe(self) -> str:
        """One line: the command and how it ended."""
        if self.timed_out:
            ending = "timed out"
        elif self.oom_killed:
            ending = "killed: out of memory"
        elif self.workspace_exceeded:
            ending = "stopped: the workspace grew past its bound"
        else:
            ending = f"exit {self.exit_code}"
        if self.exit_code and self.ok:
            ending += f", only the {len(self.failures)} test(s) already failing on the base commit"
        elif new := sorted(self.failures - self.known_failures):
            ending += f", failing: {', '.join(new[:5])}" + (" …" if len(new) > 5 else "")
        return f"`{self.command}`: {ending} in {self.duration_s:.1f}s"

    @classmethod
    def from_result(cls, command: Command, result: Result) -> CommandRun:
        output = result.stdout + ("\n" if result.stdout and result.stderr else "") + result.stderr
        return cls(
            command=str(command),
            exit_code=result.exit_code,
            duration_s=result.duration_s,
            output_tail=output[-OUTPUT_TAIL_CHARS:],
            timed_out=result.timed_out,
            oom_killed=result.oom_killed,
            failures=failing_tests(command, output),
            workspace_exceeded=result.workspace_exceeded,
        )


@dataclass(frozen=True, slots=True)
class SetupRun:
    """The environment setup before the checks: what it installed, from the cache or not, the
    commands it ran, and, when it failed, the one line that says why."""

    ok: bool
    cached: bool
    summary: str
    source: str = ""
    runs: tuple[CommandRun, ...] = ()
    duration_s: float = 0.0
    error: str = ""

    def line(self) -> str:
        """One line for a report, a check run or a PR body."""
        if not self.ok:
            return f"setup failed: {self.error} (the checks did not run)"
        if not self.runs and not self.cached:
            return f"setup: {self.summary}"
        how = "reused from the cache" if self.cached else f"installed in {self.duration_s:.1f}s"
        return f"setup: {self.summary}, {how}"

    def as_dict(self) -> dict[str, object]:
        failed = next((run for run in self.runs if not run.ok), None)
        return {
            "ok": self.ok,
            "cached": self.cached,
            "installed": self.summary,
            "source": self.source,
            "duration_s": round(self.duration_s, 3),
            "commands": [
                {
                    "command": r.command,
                    "exit_code": r.exit_code,
                    "duration_s": round(r.duration_s, 3),
                }
                for r in self.runs
            ],
            "error": self.error,
            "output_tail": failed.output_tail if failed else "",
        }


@dataclass(frozen=True, slots=True)
class Verification:
    """The commands run, in order; verification stops at the first that fails.

    `skipped` are checks that already fail on the base commit: they are no evidence either way.
    `setup` is the environment setup that ran before them; when it failed, no check ran, and
    the verification is not ok (a proposal whose checks did not run is never verified).
    """

    runs: tuple[CommandRun, ...]
    skipped: tuple[str, ...] = ()
    setup: SetupRun | None = None

    @property
    def setup_failed(self) -> bool:
        return self.setup is not None and not self.setup.ok

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(run.ok for run in self.runs)

    @property
    def failed(self) -> CommandRun | None:
        """The command that failed, if one did."""
        return next((run for run in self.runs if not run.ok), None)

    def summary(self) -> str:
        """One line per command, after the setup's."""
        lines = [self.setup.line()] if self.setup is not None else []
        if self.setup_failed:
            return lines[0]
        lines += [run.describe() for run in self.runs]
        if self.skipped:
            listed = ", ".join(f"`{c}`" for c in self.skipped)
            lines.append(f"already failing on the base commit, so no evidence: {listed}")
        if not self.runs and not self.skipped:
            lines.append("no verification command is configured or detected")
        return "\n".join(lines)


async def run_checks(
    sandbox: Sandbox,
    commands: Sequence[Command],
    known_failures: Mapping[str, frozenset[str]] | None = None,
) -> Verification:
    """Run `commands` in order in `sandbox`, stopping at the first failure.

    `known_failures` maps a command line to the tests that already fail on the base commit.
    A command the sandbox policy refuses raises `CommandRefused` before anything runs.
    """
    known = known_failures or {}
    runs: list[CommandRun] = []
    for command in commands:
        run = CommandRun.from_result(command, await sandbox.run(command))
        run = replace(run, known_failures=known.get(str(command), frozenset()))
        runs.append(run)
        if not run.ok:
            break
    return Verification(tuple(runs))
