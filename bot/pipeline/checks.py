"""Which commands verify a repository, and which extra commands its policy allows.

A repository names them in its config (`.github/ambient.yml` or `.ambient.yml`, read by
`bot.repo_config.load`, the one parser of that file):

    verify:
      commands: ["python -m pytest -q", "ruff check ."]
      allow: ["tox( .*)?"]        # regexes added to the sandbox's command policy

Without `verify.commands`, the checks are guessed from the files present: a Makefile with a
`test` target, a Python project, package.json, Cargo.toml or go.mod. Pure reading; no I/O but
the reading of a few files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.errors import ConfigError
from bot.repo_config import CONFIG_PATHS, Problem, load_repo_config_file
from sandbox.base import Command

__all__ = ["CONFIG_PATH", "RepoChecks", "detected_checks", "read_checks"]

CONFIG_PATH: Final = CONFIG_PATHS[0]
_PYTHON_MARKERS: Final = ("pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", "tox.ini")


@dataclass(frozen=True, slots=True)
class RepoChecks:
    """The commands that verify a repository and the policy patterns it adds."""

    commands: tuple[str, ...]
    allow: tuple[str, ...]
    source: str

    def as_commands(self, timeout_s: float) -> list[Command]:
        return [Command.parse(line, timeout_s=timeout_s) for line in self.commands]


def read_checks(root: Path) -> RepoChecks:
    """The configured checks of the repository at `root`, or guessed ones.

    Raises `ConfigError` (one line) when the file is unreadable or its `verify` section is
    wrong: running other checks than the ones the repository asked for would prove nothing.
    Problems elsewhere in the file are not this function's to report.
    """
    outcome = load_repo_config_file(root)
    for problem in outcome.details:
        if problem.source == outcome.source and _about_verify(problem):
            where = " ".join(part for part in (problem.key, problem.message) if part)
            raise ConfigError(f"{problem.source}: {where}")
    verify = outcome.config.verify
    if verify.commands:
        return RepoChecks(verify.commands, verify.allow, outcome.source or CONFIG_PATH)
    return RepoChecks(detected_checks(root), verify.allow, "detected")


def _about_verify(problem: Problem) -> bool:
    return problem.key in ("", "verify") or problem.key.startswith("verify.")


#: Recipe lines that reach the network (installers, downloads, environment managers): the
#: checks have none, so a `make test` running one of them can only fail. The environment setup
#: installs the project before the checks instead.
_NEEDS_NETWORK: Final = re.compile(
    r"\b(pip3?|uv pip|uv sync|uv run|poetry|pdm|pipenv|hatch|tox|nox|npm (install|ci)|yarn|"
    r"apt(-get)?|curl|wget|git (clone|fetch|pull)|docker)\b(?! *(list|freeze|show)\b)"
)


def _recipes(makefile: str) -> dict[str, tuple[tuple[str, ...], list[str]]]:
    """Each target of a Makefile: its prerequisites and its recipe lines (a plain reading:
    rules and tab-indented recipes; variables are not expanded)."""
    rules: dict[str, tuple[tuple[str, ...], list[str]]] = {}
    current: list[str] | None = None
    for line in makefile.splitlines():
        if line.startswith("\t"):
            if current is not None:
                current.append(line.strip())
            continue
        rule = re.match(r"^([A-Za-z0-9_.-]+)\s*:(?!=)\s*(.*)$", line)
        if rule is None:
            current = None if line.strip() and not line.startswith("#") else current
            continue
        current = []
        rules[rule[1]] = (tuple(rule[2].split(";")[0].split()), current)
    return rules


def make_test_runs_offline(makefile: str) -> bool:
    """Whether the Makefile has a `test` target whose recipe (and its prerequisites') reach no
    network, as far as a plain reading tells."""
    rules = _recipes(makefile)
    if "test" not in rules:
        return False
    seen: set[str] = set()
    waiting = ["test"]
    while waiting:
        target = waiting.pop()
        if target in seen or target not in rules:
            continue
        seen.add(target)
        prerequisites, recipe = rules[target]
        if any(_NEEDS_NETWORK.search(line) for line in recipe):
            return False
        waiting += prerequisites
    return True


def detected_checks(root: Path) -> tuple[str, ...]:
    """The checks the files at `root` suggest; no config file is read. A `make test` that
    installs or downloads (it would fail without network) gives way to the next suggestion."""
    makefile = root / "Makefile"
    if makefile.is_file() and make_test_runs_offline(makefile.read_text(errors="replace")):
        return ("make test",)
    if any((root / m).is_file() for m in _PYTHON_MARKERS) or (root / "tests").is_dir():
        return ("python -m pytest -q",)
    if (root / "package.json").is_file():
        return ("npm test",)
    if (root / "Cargo.toml").is_file():
        return ("cargo test",)
    if (root / "go.mod").is_file():
        return ("go test ./...",)
    return ()
