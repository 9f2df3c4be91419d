"""Rendering a repository pack as prompt text, and excerpts of files too long to show whole."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from agents.pack import ContextPack

__all__ = ["excerpt", "fenced", "render_pack"]

EXCERPT_RADIUS: Final = 20
_BACKTICKS: Final = re.compile(r"^\s*(`{3,})", re.M)
_LANGUAGES: Final = {
    ".py": "python", ".js": "javascript", ".ts": "typescript", ".toml": "toml", ".json": "json",
    ".yml": "yaml", ".yaml": "yaml", ".md": "markdown", ".cfg": "ini", ".ini": "ini",
    ".sh": "sh", ".go": "go", ".rs": "rust",
}  # fmt: skip


def excerpt(text: str, lines: Sequence[int], radius: int = EXCERPT_RADIUS) -> str:
    """The parts of `text` within `radius` lines of `lines` (1-based), each part introduced by
    a `[lines A-B of N]` marker."""
    all_lines = text.splitlines()
    windows: list[list[int]] = []
    for line in sorted(set(lines)):
        start, end = max(1, line - radius), min(len(all_lines), line + radius)
        if windows and start <= windows[-1][1] + 1:
            windows[-1][1] = max(windows[-1][1], end)
        elif start <= end:
            windows.append([start, end])
    parts = []
    for start, end in windows:
        parts.append(f"[lines {start}-{end} of {len(all_lines)}]")
        parts.extend(all_lines[start - 1 : end])
    return "\n".join(parts) + "\n"


def fenced(text: str, language: str = "") -> str:
    """`text` in a Markdown code fence longer than any fence inside it."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=2)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") else text + "\n"
    return f"{fence}{language}\n{body}{fence}"


def _language(path: str) -> str:
    dot = path.rfind(".")
    return _LANGUAGES.get(path[dot:], "") if dot > path.rfind("/") else ""


def render_pack(pack: ContextPack) -> str:
    """The pack as Markdown prompt text."""
    out = [f"## Repository files ({len(pack.tree) + pack.tree_omitted} tracked)", *pack.tree]
    if pack.tree_omitted:
        out.append(f"(… {pack.tree_omitted} more not listed)")
    if pack.log_tail:
        out += ["", "## Failure log (last lines)", fenced(pack.log_tail, "text")]
    if pack.hot_paths:
        out += ["", "## Hot paths (files the failure log points at, most mentioned first)"]
        for hot in pack.hot_paths:
            lines = f": lines {', '.join(map(str, hot.lines))}" if hot.lines else ""
            mentions = f"{hot.mentions} mention" + ("s" if hot.mentions != 1 else "")
            out.append(f"- {hot.path}{lines} ({mentions})")
    for packed in pack.files:
        note = ", excerpt" if packed.lines else ", cut short" if packed.truncated else ""
        out += ["", f"### {packed.path} ({packed.reason}{note})"]
        out.append(fenced(packed.text, _language(packed.path)))
    if pack.names_only:
        out += ["", "## Also relevant, not shown for lack of room"]
        out += [f"- {path} ({reason})" for path, reason in pack.names_only]
    return "\n".join(out) + "\n"
