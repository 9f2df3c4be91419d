"""Runs a model-free specialist's commands in a sandbox (the `CommandRunner` protocol)."""

from __future__ import annotations

from pathlib import Path

from agents.specialists.base import RunOutcome
from sandbox import Command, Sandbox

__all__ = ["SandboxRunner"]


class SandboxRunner:
    """Runs each command in `sandbox`, in the directory it names inside the workspace."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    async def run(self, argv: tuple[str, ...], cwd: Path) -> RunOutcome:
        relative = cwd.relative_to(self._sandbox.workspace).as_posix() or "."
        result = await self._sandbox.run(Command(argv, cwd=relative, timeout_s=300))
        return RunOutcome(result.exit_code, result.stdout, result.stderr)
