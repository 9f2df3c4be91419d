"""The ruff specialist: ruff's own safe fixes and formatting, as proposals a maintainer can take.

No model is involved. In scratch worktrees of the base (which it changes; the caller
discards them), it asks ruff through the injected `CommandRunner` (the sandbox) which fixable
rules fire (`ruff check --statistics`), then, one rule family at a time (the code's letters:
`F`, `I`, `UP`, `B`, `SIM`, …), each in a fresh worktree, applies that family's safe fixes and
reads `git diff`; `ruff format` comes last, the same way. Each family's changed files are cut
into parts of at most `max_files` (the repository's `risk.max_files`), each part its own
low-risk proposal that names the rules behind it, so every proposal passes the risk rules and
is verified on its own. The repository's own ruff configuration decides everything; a
repository that does not configure ruff is left alone, because formatting a project that never
chose ruff rewrites it wholesale.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agents.proposal import Proposal
from agents.risk import RiskRules, changed_lines
from agents.specialists.base import CommandRunner, RunOutcome
from bot.errors import Permanent

__all__ = [
    "RUFF_AGENT",
    "FixableRule",
    "RuffFailed",
    "Scratch",
    "configures_ruff",
    "families",
    "parts",
    "ruff_proposals",
]

RUFF_AGENT: Final = "Ruff"
STATISTICS: Final = (
    "ruff", "check", "--statistics", "--output-format", "json", "--exit-zero", "--no-cache",
    "--quiet", ".",
)  # fmt: skip
FORMAT: Final = ("ruff", "format", "--no-cache", ".")
FORMAT_FAMILY: Final = "format"
# `ruff format` formats every file it can parse and exits 2 when some could not be parsed
# ("error: Failed to parse b.py:1:7: …", ruff 0.17); those files are named, not fatal.
_UNPARSABLE: Final = re.compile(r"^error: Failed to parse (.+?):\d+:\d+:", re.M)
_FAMILY: Final = re.compile(r"[A-Z]+")


#: Opens a fresh scratch worktree of the base commit and a runner of commands in it.
Scratch = Callable[[], AbstractAsyncContextManager[tuple[CommandRunner, Path]]]


class RuffFailed(Permanent):
    """ruff could not run in the worktree (bad configuration, missing binary)."""


@dataclass(frozen=True, slots=True)
class FixableRule:
    """A rule with safe fixes in the repository: its code, name and how often it fires."""

    code: str
    name: str
    count: int


#: One step: the family ("format" for the formatting), the command, and the rules it fixes.
_Step = tuple[str, tuple[str, ...], Sequence[FixableRule]]


def configures_ruff(worktree: Path) -> bool:
    """True when the repository configures ruff (ruff.toml, .ruff.toml, or [tool.ruff])."""
    if (worktree / "ruff.toml").is_file() or (worktree / ".ruff.toml").is_file():
        return True
    pyproject = worktree / "pyproject.toml"
    if not pyproject.is_file():
        return False
    return re.search(r"^\[tool\.ruff[\].]", pyproject.read_text(errors="replace"), re.M) is not None


def families(statistics: str) -> dict[str, tuple[FixableRule, ...]]:
    """The rules with safe fixes in ruff's `--statistics --output-format json` answer, by
    family (the letters of the code), in code order. Raises `RuffFailed` on another answer."""
    try:
        items = json.loads(statistics or "[]")
    except ValueError as exc:
        raise RuffFailed(f"ruff's statistics are not JSON: {exc}") from None
    if not isinstance(items, list):
        raise RuffFailed("ruff's statistics are not a list")
    found: dict[str, list[FixableRule]] = defaultdict(list)
    for item in items:
        code = item.get("code") if isinstance(item, dict) else None
        if not isinstance(code, str) or not (family := _FAMILY.match(code)):
            continue
        fixable = item.get("fixable_count", item.get("count", 0) if item.get("fixable") else 0)
        if isinstance(fixable, int) and fixable > 0:
            found[family[0]].append(FixableRule(code, str(item.get("name", "")), fixable))
    return {
        name: tuple(sorted(rules, key=lambda r: r.code)) for name, rules in sorted(found.items())
    }


def parts(paths: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """`paths` in path order, cut into parts of at most `size` (neighbours stay together)."""
    ordered = sorted(paths)
    step = max(1, size)
    return [tuple(ordered[start : start + step]) for start in range(0, len(ordered), step)]


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


async def _git(worktree: Path, *args: str) -> str:
    # No external diff drivers or text conversions: the worktree's content is untrusted.
    process = await asyncio.create_subprocess_exec(
        "git", "--literal-pathspecs", "-C", str(worktree), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    if process.returncode != 0:
        said = err.decode(errors="replace").strip() or "no output"
        raise RuffFailed(f"git {args[0]} failed in {worktree}: {said.splitlines()[0]}")
    return out.decode(errors="surrogateescape")


async def _diff(worktree: Path, paths: Sequence[str]) -> str:
    flags = ("--no-ext-diff", "--no-textconv", "--no-color", "--no-renames")
    return await _git(worktree, "diff", *flags, "--", *paths)


async def _changed(worktree: Path) -> list[str]:
    names = await _git(worktree, "diff", "--name-only", "-z", "--no-renames")
    return [name for name in names.split("\0") if name]


def _fix_argv(rules: Sequence[FixableRule]) -> tuple[str, ...]:
    codes = ",".join(rule.code for rule in rules)
    return (
        "ruff",
        "check",
        "--fix",
        "--exit-zero",
        "--no-cache",
        "--quiet",
        "--select",
        codes,
        ".",
    )


def _what(family: str, rules: Sequence[FixableRule], unparsable: Sequence[str]) -> str:
    if family == FORMAT_FAMILY:
        skipped = (
            f" Not formatted (they do not parse): {', '.join(unparsable)}." if unparsable else ""
        )
        return f"`ruff format`, with the repository's own ruff configuration.{skipped}"
    codes = ",".join(r.code for r in rules)
    found = ", ".join(f"{r.code} {r.name} ({r.count})" for r in rules)
    return (
        f"`ruff check --fix --select {codes}` (safe fixes only), with the repository's own ruff "
        f"configuration.\n\n**Prompted by:** ruff's findings {found} in the repository."
    )


def _proposal(
    family: str, what: str, diff: str, files: Sequence[str], part: tuple[int, int]
) -> Proposal:
    number, total = part
    added, removed = changed_lines(diff)
    label = "formatting" if family == FORMAT_FAMILY else f"{family} fixes"
    of = f" (part {number} of {total})" if total > 1 else ""
    share = (
        f"\n\nPart {number} of {total}: the other parts change the other files."
        if total > 1
        else ""
    )
    return Proposal(
        agent=RUFF_AGENT,
        title=f"Apply ruff's {label} to {len(files)} files{of}",
        description=what + share,
        diff=diff,
        risk_level="low",
        rationale="The repository configures ruff; these are the changes its settings ask for.",
        files_touched=tuple(files),
        estimated_loc_change=len(added) - len(removed),
        tags=("style", "ruff", "formatting" if family == FORMAT_FAMILY else family.lower()),
    )


async def _step(
    runner: CommandRunner, worktree: Path, step: _Step, max_files: int, skip: Callable[[str], bool]
) -> list[Proposal]:
    family, argv, rules = step
    unparsable = _check_outcome(
        "format" if family == FORMAT_FAMILY else "check", await runner.run(argv, worktree)
    )
    changed = [path for path in await _changed(worktree) if not skip(path)]
    cut = parts(changed, max_files)
    what = _what(family, rules, unparsable)
    proposals = []
    for number, files in enumerate(cut, 1):
        diff = await _diff(worktree, files)
        proposals.append(_proposal(family, what, diff, files, (number, len(cut))))
    return proposals


async def ruff_proposals(
    scratch: Scratch,
    *,
    max_files: int = RiskRules().max_files,
    require_config: bool = True,
    skip: Callable[[str], bool] = lambda path: False,
) -> tuple[Proposal, ...]:
    """Low-risk proposals of what ruff would change: one per rule family and part of at most
    `max_files` files, then formatting the same way; () when nothing changes. Files `skip`
    refuses (the repository's `paths.ignore`) are left as they are.

    `scratch()` opens a fresh scratch worktree of the base and the runner for it (the caller
    throws both away afterwards); each family has its own, so its fixes are its alone. With
    `require_config` (the default) a repository without ruff configuration yields (). Raises
    `RuffFailed` when ruff cannot run.
    """
    proposals: list[Proposal] = []
    async with scratch() as (runner, worktree):
        if require_config and not await asyncio.to_thread(configures_ruff, worktree):
            return ()
        statistics = await runner.run(STATISTICS, worktree)
        _check_outcome("check", statistics)
        steps: list[_Step] = [
            (name, _fix_argv(rules), rules) for name, rules in families(statistics.stdout).items()
        ]
        steps.append((FORMAT_FAMILY, FORMAT, ()))
        # Asking for the statistics changed nothing: the first step runs in the same worktree.
        proposals += await _step(runner, worktree, steps[0], max_files, skip)
    for step in steps[1:]:
        async with scratch() as (runner, worktree):
            proposals += await _step(runner, worktree, step, max_files, skip)
    return tuple(proposals)
