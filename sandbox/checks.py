"""Which commands verify a repository, and which extra commands its policy allows.

A repository names them in `.github/ambient.yml`:

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

import yaml

from bot.errors import ConfigError
from sandbox.base import Command

__all__ = ["CONFIG_PATH", "RepoChecks", "read_checks"]

CONFIG_PATH: Final = ".github/ambient.yml"
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
    """The configured checks of the repository at `root`, or guessed ones."""
    configured, allow = _configured(root / CONFIG_PATH)
    if configured:
        return RepoChecks(configured, allow, CONFIG_PATH)
    return RepoChecks(_guessed(root), allow, "detected")


def _configured(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not path.is_file():
        return (), ()
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{CONFIG_PATH}: not valid YAML ({exc.__class__.__name__})") from None
    section = data.get("verify") if isinstance(data, dict) else None
    if section is None:
        return (), ()
    if not isinstance(section, dict):
        raise ConfigError(f"{CONFIG_PATH}: verify must be a mapping with commands and allow")
    return _strings(section, "commands"), _strings(section, "allow")


def _strings(section: dict[str, object], key: str) -> tuple[str, ...]:
    value = section.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{CONFIG_PATH}: verify.{key} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _guessed(root: Path) -> tuple[str, ...]:
    makefile = root / "Makefile"
    if makefile.is_file() and re.search(r"(?m)^test\s*:", makefile.read_text(errors="replace")):
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
