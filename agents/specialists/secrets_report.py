"""The secrets specialist: a scan of the repository, reported as findings, never "fixed".

A secret already committed is compromised whatever a patch does to the file: it must be
rotated and, if the history is public, purged. So this specialist proposes no change; it
turns the findings of an injected scanner (detect-secrets through the secret gate, in
production) into report items that name file, line and type, and never the value.

These are secrets *already in the repository*, unlike the gate's findings, which block the
change that adds them. A finding under documentation, examples or test fixtures is ranked
lower: such files are full of documented example keys, and a real one there is still worth a
look, but not before one in the code that runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

from agents.specialists.tests import is_test_path

__all__ = [
    "SECRETS_AGENT",
    "SecretFindingLike",
    "SecretItem",
    "SecretScanner",
    "SecretsReport",
    "Severity",
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


Severity = Literal["high", "low"]
# Path parts that mark documentation, examples and test fixtures.
_LOW_PARTS: Final = frozenset(
    {"doc", "docs", "documentation", "example", "examples", "sample", "samples", "test", "tests"}
    | {"testdata", "test_data", "fixtures", "__fixtures__", "spec", "testing", "demo"}
)
_LOW_SUFFIXES: Final = (".md", ".rst", ".adoc", ".ipynb")


def severity_of(path: str) -> Severity:
    """ "low" for documentation, examples and test fixtures; "high" elsewhere."""
    parts = path.lower().split("/")
    name = parts[-1]
    if any(part in _LOW_PARTS for part in parts[:-1]) or name.endswith(_LOW_SUFFIXES):
        return "low"
    return "low" if is_test_path(path.lower()) else "high"


#: Scans the checkout at a path and returns its findings.
SecretScanner = Callable[[Path], Awaitable[Sequence[SecretFindingLike]]]


@dataclass(frozen=True, slots=True, order=True)
class SecretItem:
    """One reported secret."""

    file: str
    line: int
    type: str
    why: str = ""

    @property
    def severity(self) -> Severity:
        """ "low" under documentation, examples and test fixtures."""
        return severity_of(self.file)

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
        low = sum(item.severity == "low" for item in self.items)
        ranked = f" ({low} in documentation or test fixtures)" if low else ""
        return f"{len(self.items)} possible secrets in {files} files{ranked}: {self.advice}"

    def markdown(self) -> str:
        """A Markdown section for a dashboard issue or a report: the code first, then one
        collapsed list of what documentation and test fixtures hold."""
        if self.clean:
            return "No secrets found in the repository.\n"
        high = [i for i in self.items if i.severity == "high"]
        low = [i for i in self.items if i.severity == "low"]
        lines = [f"{len(self.items)} possible secrets already in the repository; {self.advice}."]
        lines += [""] + [_bullet(item) for item in high]
        if low:
            lines += [
                "",
                f"<details><summary>{len(low)} in documentation or test fixtures "
                "(lower severity: often documented example keys)</summary>",
                "",
            ]
            lines += [_bullet(item) for item in low] + ["", "</details>"]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready form."""
        return {
            "agent": self.agent,
            "advice": self.advice,
            "items": [
                {"file": i.file, "line": i.line, "type": i.type, "severity": i.severity}
                | ({"why": i.why} if i.why else {})
                for i in self.items
            ],
        }


def _bullet(item: SecretItem) -> str:
    why = f" ({item.why})" if item.why else ""
    return f"- `{item.file}` line {item.line}: {item.type}{why}"


async def secrets_report(scan: SecretScanner, root: Path) -> SecretsReport:
    """Scan the checkout at `root` with `scan` and report each secret once, by file and line."""
    found = await scan(root)
    items = {SecretItem(f.file, f.line, f.type, str(getattr(f, "why", ""))) for f in found}
    # High severity first, then by place; the sort is stable.
    ordered = sorted(sorted(items), key=lambda item: item.severity == "low")
    return SecretsReport(SECRETS_AGENT, tuple(ordered))
