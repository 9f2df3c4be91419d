"""The secrets specialist: a scan of the repository, reported as findings, never "fixed".

A secret already committed is compromised whatever a patch does to the file: it must be
rotated and, if the history is public, purged. So this specialist proposes no change; it
turns the findings of an injected scanner (detect-secrets through the secret gate, in
production) into report items that name file, line and type, and never the value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

__all__ = [
    "SECRETS_AGENT",
    "SecretFindingLike",
    "SecretItem",
    "SecretScanner",
    "SecretsReport",
    "secrets_report",
]

SECRETS_AGENT: Final = "SecretsScan"
ADVICE: Final = (
    "rotate this credential, then remove it from the code and, if the history is public, "
    "from the history; Ambient reports secrets and never edits them"
)


class SecretFindingLike(Protocol):
    """What a scanner reports of one secret: where it is and what kind (never its value)."""

    @property
    def file(self) -> str: ...

    @property
    def line(self) -> int: ...

    @property
    def type(self) -> str: ...


#: Scans the checkout at a path and returns its findings.
SecretScanner = Callable[[Path], Awaitable[Sequence[SecretFindingLike]]]


@dataclass(frozen=True, slots=True, order=True)
class SecretItem:
    """One reported secret."""

    file: str
    line: int
    type: str

    def describe(self) -> str:
        """`config.py:3: possible AWS Access Key`."""
        return f"{self.file}:{self.line}: possible {self.type}"


@dataclass(frozen=True, slots=True)
class SecretsReport:
    """The findings of one scan, by file and line, and what to do about them."""

    agent: str
    items: tuple[SecretItem, ...]
    advice: str = ADVICE

    @property
    def clean(self) -> bool:
        return not self.items

    def summary(self) -> str:
        """One line for logs and reports."""
        if self.clean:
            return "no secrets found in the repository"
        files = len({item.file for item in self.items})
        return f"{len(self.items)} possible secrets in {files} files: {self.advice}"

    def markdown(self) -> str:
        """A Markdown section for a dashboard issue or a report."""
        if self.clean:
            return "No secrets found in the repository.\n"
        lines = [f"{len(self.items)} possible secrets; {self.advice}.", ""]
        lines += [f"- `{item.file}` line {item.line}: {item.type}" for item in self.items]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready form."""
        return {
            "agent": self.agent,
            "advice": self.advice,
            "items": [{"file": i.file, "line": i.line, "type": i.type} for i in self.items],
        }


async def secrets_report(scan: SecretScanner, root: Path) -> SecretsReport:
    """Scan the checkout at `root` with `scan` and report each secret once, by file and line."""
    found = await scan(root)
    items = {SecretItem(f.file, f.line, f.type) for f in found}
    return SecretsReport(SECRETS_AGENT, tuple(sorted(items)))
