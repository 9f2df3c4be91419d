"""The command policy: a regex allowlist checked before anything runs in a sandbox.

The policy states intent (which tools a job may run), not the security boundary: the sandbox
contains whatever an allowed tool does, since `pytest` or `make test` run the repository's own
code. Patterns match the whole command line as `shlex.join(argv)` renders it, so an argument
with spaces or newlines is quoted and cannot pose as a separate word.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from bot.errors import ConfigError, PolicyDenied, SandboxError

__all__ = ["DEFAULT_PATTERNS", "CommandPolicy", "CommandRefused"]

_ARGS: Final = r"( .*)?"
_PYTHON: Final = r"python(3(\.\d+)?)?"
_SHOWN: Final = 160

#: Test runners, linters and read-only git; a repository's config may add patterns.
DEFAULT_PATTERNS: Final[tuple[str, ...]] = (
    rf"pytest{_ARGS}",
    rf"{_PYTHON} -m (pytest|mypy|ruff|coverage){_ARGS}",
    rf"ruff (check|format){_ARGS}",
    rf"mypy{_ARGS}",
    rf"coverage (run|report|xml|json|combine){_ARGS}",
    r"make (test|lint|check)",
    rf"npm test{_ARGS}",
    rf"cargo (test|check|clippy){_ARGS}",
    rf"go (test|vet){_ARGS}",
    rf"git (status|diff|log|show|ls-files|rev-parse|blame|grep|describe|shortlog){_ARGS}",
)


class CommandRefused(SandboxError, PolicyDenied):
    """The sandbox refused a command before running anything (policy or environment)."""


@dataclass(frozen=True, slots=True)
class CommandPolicy:
    """An allowlist of full-match regular expressions over `shlex.join(argv)`."""

    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    name: str = "default"

    def __post_init__(self) -> None:
        for pattern in self.patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(
                    f"sandbox policy {self.name}: pattern {pattern!r} is invalid ({exc})"
                ) from None

    def allows(self, argv: Sequence[str]) -> bool:
        """Whether some pattern matches the whole rendered command line."""
        line = shlex.join(argv)
        # re caches compiled patterns, and __post_init__ proved each one compiles.
        return any(re.fullmatch(p, line) for p in self.patterns)

    def check(self, argv: Sequence[str]) -> None:
        """Raise `CommandRefused`, naming the command and this policy, unless it is allowed."""
        if not argv:
            raise CommandRefused(f"empty command refused by the {self.name} sandbox policy")
        if not self.allows(argv):
            raise CommandRefused(
                f"command refused by the {self.name} sandbox policy: {_shown(argv)!r} matches"
                f" none of its {len(self.patterns)} patterns (a repository adds patterns under"
                " verify.allow in .github/ambient.yml)"
            )

    def extended(self, extra: Iterable[str], source: str) -> CommandPolicy:
        """This policy plus `extra` patterns; `source` names where they came from."""
        added = tuple(p for p in extra if p not in self.patterns)
        if not added:
            return self
        return CommandPolicy(self.patterns + added, f"{self.name} + {source}")


def _shown(argv: Sequence[str]) -> str:
    line = shlex.join(argv)
    return line if len(line) <= _SHOWN else line[: _SHOWN - 3] + "..."
