"""The repository pack: what a model is shown of a checkout, within a token budget.

In order: the file tree (`git ls-files`), the tail of the failure log, the important files
(build and CI config, README, lint config, CODEOWNERS; each capped), then file contents by
priority — hot paths from the log, the files the change touches, their import neighbours — and
the names of what did not fit. `read_repo` is the only I/O; `build_pack` is pure.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final

from agents.hot_paths import clean_log, hot_paths
from agents.impact import import_neighbours
from agents.pack import ContextPack, PackedFile, Reason, RepoFiles
from agents.pack_render import excerpt, excerpt_ranges
from agents.usage import estimate_tokens
from bot.errors import Permanent

__all__ = [
    "IMPORTANT_FILES",
    "Packer",
    "RepoUnreadable",
    "build_pack",
    "important_files",
    "read_repo",
]

IMPORTANT_FILES: Final = (
    "pyproject.toml", "setup.cfg", "setup.py", "tox.ini", "package.json", "tsconfig.json",
    "Cargo.toml", "go.mod", "Makefile", "README*", "CONTRIBUTING*", "ruff.toml", ".ruff.toml",
    ".flake8", "mypy.ini", ".pylintrc", ".eslintrc*", "eslint.config.*", ".prettierrc*",
    ".editorconfig", ".pre-commit-config.yaml", "CODEOWNERS", ".github/CODEOWNERS",
    "docs/CODEOWNERS", ".github/workflows/*.yml", ".github/workflows/*.yaml",
)  # fmt: skip

_TREE_SHARE: Final = 0.15
_LOG_SHARE: Final = 0.15
_IMPORTANT_SHARE: Final = 0.25


class RepoUnreadable(Permanent):
    """The checkout cannot be listed with `git ls-files`."""


async def read_repo(
    root: Path, *, max_file_bytes: int = 200_000, max_total_bytes: int = 64_000_000
) -> RepoFiles:
    """Snapshot the checkout at `root`: `git ls-files`, then the texts within the caps.

    Raises `RepoUnreadable` when `root` is not a git checkout.
    """
    process = await asyncio.create_subprocess_exec(
        "git", "-C", str(root), "ls-files", "-z",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    if process.returncode != 0:
        said = err.decode(errors="replace").strip().splitlines()
        raise RepoUnreadable(f"{root}: git ls-files failed: {said[0] if said else 'no output'}")
    paths = tuple(sorted(p for p in out.decode(errors="surrogateescape").split("\0") if p))
    texts = await asyncio.to_thread(_read_texts, root, paths, max_file_bytes, max_total_bytes)
    return RepoFiles(paths, MappingProxyType(texts))


def _read_texts(root: Path, paths: Sequence[str], max_file: int, max_total: int) -> dict[str, str]:
    texts: dict[str, str] = {}
    total = 0
    for path in paths:
        full = root / path
        try:
            info = os.lstat(full)
            # Regular files only: a tracked symlink may point anywhere on the host.
            if not stat.S_ISREG(info.st_mode) or info.st_size > max_file:
                continue
            if total + info.st_size > max_total:
                break
            data = full.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue
        try:
            texts[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        total += len(data)
    return texts


def important_files(paths: Sequence[str]) -> list[str]:
    """The tracked files among `paths` that `IMPORTANT_FILES` names, in its order."""
    chosen: list[str] = []
    for pattern in IMPORTANT_FILES:
        chosen.extend(p for p in paths if fnmatch.fnmatchcase(p, pattern) and p not in chosen)
    return chosen


def _tree(paths: Sequence[str], budget: int) -> tuple[tuple[str, ...], int]:
    listed: list[str] = []
    spent = 0
    for path in paths:
        cost = len(path) // 4 + 1
        if spent + cost > budget:
            break
        listed.append(path)
        spent += cost
    return tuple(listed), len(paths) - len(listed)


def _log_tail(log: str, budget: int) -> str:
    text = clean_log(log).strip()
    chars = budget * 4
    if len(text) <= chars:
        return text
    tail = text[-chars:]
    return tail[tail.find("\n") + 1 :]


class Packer:
    """Adds files to a pack while `left` tokens remain; what does not fit is named only.

    With `headers`, each file also costs the heading and fence it is rendered with (counted in
    `header_tokens`), so that the rendered pack keeps to the budget.
    """

    def __init__(self, texts: Mapping[str, str], budget: int, *, headers: bool = False) -> None:
        self.texts = texts
        self.left = budget
        self.files: list[PackedFile] = []
        self.names_only: list[tuple[str, str]] = []
        self.seen: set[str] = set()
        self.headers = headers
        self.header_tokens = 0

    def header(self, path: str, why: str) -> int:
        """What a file's heading costs: "### PATH (WHY, excerpt)" and its fences."""
        return estimate_tokens([path, why, "", "", "```python", "```"]) if self.headers else 0

    def add(
        self,
        path: str,
        reason: Reason,
        *,
        cap: int | None = None,
        lines: Sequence[int] = (),
        ranges: Sequence[tuple[int, int]] = (),
        detail: str = "",
    ) -> bool:
        """Add `path` whole (cut to `cap` tokens), or, when it is over `cap` or the room left,
        as the excerpt of its line `ranges` (else the lines around `lines`); False when it
        was named only or was in the pack already."""
        if path in self.seen:
            return False
        self.seen.add(path)
        text = self.texts.get(path)
        if text is None:
            self.names_only.append((path, detail or reason))
            return False
        tokens = estimate_tokens([text])
        shown: tuple[int, ...] = ()
        truncated = False
        if ranges and (tokens > self.left or (cap is not None and tokens > cap)):
            text, shown, truncated = excerpt_ranges(text, ranges), tuple(lines), True
        elif cap is not None and len(text) > cap * 4:
            text, truncated = text[: cap * 4], True
        tokens = estimate_tokens([text])
        if tokens > self.left and lines and not ranges:
            text, shown = excerpt(text, lines), tuple(lines)
            tokens, truncated = estimate_tokens([text]), True
        header = self.header(path, detail or reason)
        if tokens + header > self.left:
            self.names_only.append((path, detail or reason))
            return False
        self.left -= tokens + header
        self.header_tokens += header
        self.files.append(PackedFile(path, reason, text, tokens, truncated, shown, detail))
        return True


def build_pack(
    repo: RepoFiles,
    *,
    budget_tokens: int,
    log: str = "",
    touched: Sequence[str] = (),
    important_cap_tokens: int = 1500,
) -> ContextPack:
    """Choose what of `repo` fits in `budget_tokens` (see the module docstring for the order).

    `log` is failure output (CI log, test output); `touched` are the paths a change edits.
    """
    tree, omitted = _tree(repo.paths, int(budget_tokens * _TREE_SHARE))
    spent = sum(len(p) // 4 + 1 for p in tree)
    tail = _log_tail(log, int(budget_tokens * _LOG_SHARE)) if log.strip() else ""
    spent += estimate_tokens([tail]) if tail else 0
    hot = hot_paths(log, repo.paths) if log.strip() else ()
    known = set(repo.paths)
    touched = [p for p in touched if p in known]
    packer = Packer(repo.texts, min(int(budget_tokens * _IMPORTANT_SHARE), budget_tokens - spent))
    for path in important_files(repo.paths):
        packer.add(path, "important", cap=important_cap_tokens)
    important_spent = sum(f.tokens for f in packer.files)
    packer.left = budget_tokens - spent - important_spent
    for item in hot:
        packer.add(item.path, "hot", lines=item.lines)
    for path in touched:
        packer.add(path, "touched")
    seeds = [h.path for h in hot] + touched
    for path in import_neighbours(seeds, repo.texts):
        packer.add(path, "neighbour")
    return ContextPack(
        tree=tree,
        tree_omitted=omitted,
        log_tail=tail,
        files=tuple(packer.files),
        names_only=tuple(packer.names_only),
        hot_paths=hot,
        budget_tokens=budget_tokens,
        used_tokens=budget_tokens - packer.left,
    )
