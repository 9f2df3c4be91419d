"""Prompts are data beside their agent (`<name>.md`), rendered with strict placeholders."""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

__all__ = ["PromptError", "render_prompt"]


class PromptError(ValueError):
    """A prompt names a placeholder that was not given, or is malformed."""


@cache
def _template(path: Path) -> string.Template:
    return string.Template(path.read_text(encoding="utf-8"))


def render_prompt(path: Path, **values: str) -> str:
    """The prompt at `path` with `$name` placeholders filled; a missing one is an error."""
    template = _template(path)
    names = {
        match.group("named") or match.group("braced")
        for match in template.pattern.finditer(template.template)
        if match.group("named") or match.group("braced")
    }
    unused = set(values) - names
    if unused:
        raise PromptError(f"{path.name}: no placeholder for {', '.join(sorted(unused))}")
    try:
        return template.substitute(values)
    except KeyError as exc:
        raise PromptError(f"{path.name}: placeholder ${exc.args[0]} was not given") from None
    except ValueError as exc:
        raise PromptError(f"{path.name}: {exc}") from None
