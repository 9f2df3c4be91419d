"""The ruff specialist: ruff's own safe fixes and formatting, turned into one proposal.

No model is involved. In a scratch worktree (which it changes; the caller discards it), it
runs `ruff check --fix` (safe fixes only) and `ruff format` through the injected
`CommandRunner` (the sandbox), then reads `git diff` there. The repository's own ruff
configuration decides everything; a repository that does not configure ruff is left alone,
because formatting a project that never chose ruff rewrites it wholesale.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Final

from agents.proposal import Proposal, diff_paths
from agents.risk import changed_lines
from agents.specialists.base import CommandRunner, RunOutcome
from bot.errors import Permanent

__all__ = ["RUFF_AGENT", "RuffFailed", "configures_ruff", "ruff_proposal"]

RUFF_AGENT: Final = "Ruff"
CHECK: Final = ("ruff", "check", "--fix", "--exit-zero", "--no-cache", "--quiet", ".")
FORMAT: Final = ("ruff", "format", "--no-cache", ".")
# `ruff format` formats every file it can parse and exits 2 when some could not be parsed
# ("error: Failed to parse b.py:1:7: …", ruff 0.17); those files are named, not fatal.
_UNPARSABLE: Final = re.compile(r"^error: Failed to parse (.+?):\d+:\d+:", re.M)


class RuffFailed(Permanent):
    """ruff could not run in the worktree (bad configuration, missing binary)."""


def configures_ruff(worktree: Path) -> bool:
    """True when the repository configures ruff (ruff.toml, .ruff.toml, or [tool.ruff])."""
    if (worktree / "ruff.toml").is_file() or (worktree / ".ruff.toml").is_file():
        return True
    pyproject = worktree / "pyproject.toml"
    if not pyproject.is_file():
        return False
    return re.search(r"^\[tool\.ruff[\].]", pyproject.read_text(errors="replace"), re.M) is not None


def _check_outcome(step: str, outcome: RunOutcome) -> tuple[str, ...]:
    if outcome.exit_code == 0:
        return ()
    unparsable = tuple(dict.fromkeys(_UNPARSABLE.findall(outcome.stderr)))
    if unparsable and step == "format":
        return unparsable
    lines = (outcome.stderr.strip() or outcome.stdout.strip() or "no output").splitlines()
    # ruff says "ruff failed", then the causes: the first cause names the file at fault.
    said = "; ".join(line.strip().removeprefix("Cause: ") for line in lines[:2])
    raise RuffFailed(f"ruff {step} failed (exit {outcome.exit_code}): {said}")


async def _git_diff(worktree: Path) -> str:
    # No external diff drivers or text conversions: the worktree's content is untrusted.
    process = await asyncio.create_subprocess_exec(
        "git", "-C", str(worktree), "diff", "--no-ext-diff", "--no-textconv", "--no-color",
        "--no-renames",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    if process.returncode != 0:
        said = err.decode(errors="replace").strip() or "no output"
        raise RuffFailed(f"git diff failed in {worktree}: {said.splitlines()[0]}")
    return out.decode(errors="surrogateescape")


def _proposal(diff: str, unparsable: tuple[str, ...]) -> Proposal:
    paths = diff_paths(diff)
    added, removed = changed_lines(diff)
    skipped = f" Not formatted (they do not parse): {', '.join(unparsable)}." if unparsable else ""
    return Proposal(
        agent=RUFF_AGENT,
        title=f"Apply ruff's safe fixes and formatting to {len(paths)} files",
        description=(
            "`ruff check --fix` (safe fixes only) and `ruff format`, run with the repository's "
            f"own ruff configuration.{skipped}"
        ),
        diff=diff,
        risk_level="low",
        rationale="The repository configures ruff; these are the changes its settings ask for.",
        files_touched=paths,
        estimated_loc_change=len(added) - len(removed),
        tags=("style", "ruff", "formatting"),
    )


async def ruff_proposal(
    runner: CommandRunner, worktree: Path, *, require_config: bool = True
) -> Proposal | None:
    """One low-risk proposal of what ruff would change in `worktree`, or None if nothing.

    `worktree` is a scratch git worktree the caller throws away afterwards. With
    `require_config` (the default) a repository without ruff configuration yields None.
    Raises `RuffFailed` when ruff cannot run.
    """
    if require_config and not await asyncio.to_thread(configures_ruff, worktree):
        return None
    _check_outcome("check", await runner.run(CHECK, worktree))
    unparsable = _check_outcome("format", await runner.run(FORMAT, worktree))
    diff = await _git_diff(worktree)
    return _proposal(diff, unparsable) if diff.strip() else None
