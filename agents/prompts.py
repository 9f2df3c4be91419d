"""Prompts are data beside their agent (`<name>.md`), rendered with strict placeholders.

`string.Template` syntax (`$$` is a literal dollar). Rendering is strict: a placeholder the
prompt uses but the caller did not give, or a value the caller gave that the prompt never uses,
is a `PromptError`, so a prompt and the code that fills it always change together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template

from bot.errors import Permanent

__all__ = ["PromptError", "PromptTemplate", "load_prompt"]


class PromptError(Permanent):
    """A prompt template is malformed, or was rendered with missing or unknown values."""


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """A prompt's text with `$placeholders`, rendered strictly."""

    name: str
    text: str

    def __post_init__(self) -> None:
        template = Template(self.text)
        if not template.is_valid():
            raise PromptError(
                f"prompt {self.name}: a '$' is neither a placeholder nor written '$$'"
            )

    @property
    def placeholders(self) -> frozenset[str]:
        """The names the prompt expects."""
        return frozenset(Template(self.text).get_identifiers())

    def render(self, values: Mapping[str, str]) -> str:
        """The prompt with `values` filled in; `PromptError` names missing or unused ones."""
        missing = sorted(self.placeholders - values.keys())
        unknown = sorted(values.keys() - self.placeholders)
        if missing:
            raise PromptError(f"prompt {self.name}: no value for {', '.join(missing)}")
        if unknown:
            raise PromptError(f"prompt {self.name}: it has no placeholder {', '.join(unknown)}")
        return Template(self.text).substitute(values)


def load_prompt(name: str, directory: Path) -> PromptTemplate:
    """The prompt `directory/name` (a `.md` file shipped with the package)."""
    return PromptTemplate(name, (directory / name).read_text(encoding="utf-8"))
