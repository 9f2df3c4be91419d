"""The verification stage: run a repository's checks in a sandbox and keep the evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sandbox.base import Command, Result, Sandbox

__all__ = ["CommandRun", "Verification", "run_checks"]

OUTPUT_TAIL_CHARS: Final = 4000


@dataclass(frozen=True, slots=True)
class CommandRun:
    """One verification command and what it did (the tail of its output, for reports)."""

    command: str
    exit_code: int
    duration_s: float
    output_tail: str
    timed_out: bool = False
    oom_killed: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.oom_killed

    def describe(self) -> str:
        """One line: the command and how it ended."""
        if self.timed_out:
            ending = "timed out"
        elif self.oom_killed:
            ending = "killed: out of memory"
        else:
            ending = f"exit {self.exit_code}"
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
        )


@dataclass(frozen=True, slots=True)
class Verification:
    """The commands run, in order; verification stops at the first that fails."""

    runs: tuple[CommandRun, ...]

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(run.ok for run in self.runs)

    @property
    def failed(self) -> CommandRun | None:
        return next((run for run in self.runs if not run.ok), None)

    def summary(self) -> str:
        """One line per command."""
        if not self.runs:
            return "no verification command ran"
        return "\n".join(run.describe() for run in self.runs)


async def run_checks(sandbox: Sandbox, commands: Sequence[Command]) -> Verification:
    """Run `commands` in order in `sandbox`, stopping at the first failure.

    A command the sandbox policy refuses raises `CommandRefused` before anything runs.
    """
    runs: list[CommandRun] = []
    for command in commands:
        run = CommandRun.from_result(command, await sandbox.run(command))
        runs.append(run)
        if not run.ok:
            break
    return Verification(tuple(runs))
