"""Rendering a repository pack as prompt text, and excerpts of files too long to show whole."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from agents.pack import ContextPack
from agents.repo_map import RepoMap

__all__ = ["excerpt", "excerpt_ranges", "fenced", "render_pack"]

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
    return excerpt_ranges(text, [(line - radius, line + radius) for line in lines])


def excerpt_ranges(text: str, ranges: Sequence[tuple[int, int]]) -> str:
    """The parts of `text` in the line `ranges` (1-based, inclusive; overlapping and adjacent
    ones merged), each part introduced by a `[lines A-B of N]` marker."""
    all_lines = text.splitlines()
    windows: list[list[int]] = []
    for first, last in sorted(set(ranges)):
        start, end = max(1, first), min(len(all_lines), last)
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


def _map_and_findings(pack: ContextPack, repo_map: RepoMap) -> list[str]:
    shown = f"{repo_map.files} of {repo_map.indexed}"
    out = [
        f"## Repository map (the definitions of {shown} Python files, most referred-to first)",
        fenced(repo_map.text, "text"),
    ]
    if pack.findings:
        out += ["", "## Findings of the analyzers that chose the files below"]
        out += [f"- {f.code} {f.path}:{f.line}: {f.message}" for f in pack.findings]
    return out


def render_pack(pack: ContextPack) -> str:
    """The pack as Markdown prompt text."""
    if pack.repo_map is not None:
        out = _map_and_findings(pack, pack.repo_map)
    else:
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
        out += ["", f"### {packed.path} ({packed.why}{note})"]
        out.append(fenced(packed.text, _language(packed.path)))
    if pack.names_only:
        out += ["", "## Also relevant, not shown for lack of room"]
        out += [f"- {path} ({reason})" for path, reason in pack.names_only]
    if pack.names_omitted:
        out.append(f"(… {pack.names_omitted} more)")
    return "\n".join(out) + "\n"
