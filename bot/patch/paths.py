"""Path confinement: every path a patch or a model names must stay inside the worktree.

`check_paths` is the one gate. It refuses absolute paths, any `..` component, paths that
resolve (through symlinks) outside the worktree, anything under `.git/`, and anything the
policy's forbidden globs match. `.github/workflows/**` is refused unless the policy allows
workflow changes, and then the path is reported as high risk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Final

from bot.errors import PathNotAllowed

__all__ = [
    "DEFAULT_FORBIDDEN",
    "WORKFLOW_GLOB",
    "PathCheck",
    "PathPolicy",
    "check_paths",
    "clean_relative",
    "glob_matches",
]

#: Secrets and repository plumbing a change never touches. `.gitmodules` is added to the
#: issue's list because a submodule URL is fetched by anyone who clones with submodules.
DEFAULT_FORBIDDEN: Final[tuple[str, ...]] = (
    ".env*",
    ".ssh/",
    "*.pem",
    ".git/hooks",
    ".gitmodules",
)
WORKFLOW_GLOB: Final = ".github/workflows/**"


@dataclass(frozen=True, slots=True)
class PathPolicy:
    """What a change may touch: forbidden globs (gitignore-like) and the workflow switch."""

    forbidden: tuple[str, ...] = DEFAULT_FORBIDDEN
    allow_workflow_changes: bool = False


@dataclass(frozen=True, slots=True)
class PathCheck:
    """The accepted paths, cleaned (posix, relative), and those that are high risk."""

    paths: tuple[str, ...]
    high_risk: tuple[str, ...]


def clean_relative(path: str) -> str:
    """Return `path` as a clean relative posix path, or raise `PathNotAllowed` saying why.

    Purely lexical: refuses empty names, NUL bytes, backslashes, absolute paths and `..`.
    """
    if not path or path.strip() != path:
        raise PathNotAllowed(f"{path!r}: empty path or surrounding whitespace")
    if "\0" in path:
        raise PathNotAllowed(f"{path!r}: contains a NUL byte")
    if "\\" in path:
        # A Windows-style name is ambiguous here: a literal backslash or a separator.
        raise PathNotAllowed(f"{path}: contains a backslash; use '/' between directories")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise PathNotAllowed(f"{path}: absolute paths are not allowed; name it from the repo root")
    parts = [p for p in PurePosixPath(path).parts if p != "."]
    if ".." in parts:
        raise PathNotAllowed(f"{path}: '..' is not allowed in a path")
    if not parts:
        raise PathNotAllowed(f"{path!r}: names the repository root, not a file")
    for part in parts:
        # git itself refuses these spellings of .git (case, trailing dots/spaces, 8.3 name).
        if part.lower().rstrip(". ") == ".git" or part.lower() == "git~1":
            raise PathNotAllowed(f"{path}: nothing under .git/ may be changed")
    return "/".join(parts)


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    anchored = "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    out = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    # A match on a directory covers everything below it, as in .gitignore.
    return re.compile(prefix + "".join(out) + "(?:/.*)?", re.IGNORECASE | re.DOTALL)


def glob_matches(pattern: str, path: str) -> bool:
    """Whether a gitignore-like `pattern` matches the clean relative `path` (case-insensitive).

    A pattern without an inner slash matches a name at any depth (`*.pem`, `.env*`); one
    with a slash is anchored at the root (`.git/hooks`); `**` spans directories.
    """
    return _glob_regex(pattern).fullmatch(path) is not None


def _resolved(worktree: Path, rel: str) -> str | None:
    """Where `rel` really lands, relative to the worktree, or None when it lands outside."""
    root = worktree.resolve()
    target = Path(os.path.realpath(root / rel))
    if target == root or not target.is_relative_to(root):
        return None
    return target.relative_to(root).as_posix()


def _check_rules(rel: str, policy: PathPolicy) -> bool:
    """Apply the forbidden list and the workflow rule; return whether `rel` is high risk."""
    for pattern in policy.forbidden:
        if glob_matches(pattern, rel):
            raise PathNotAllowed(f"{rel}: matches the forbidden pattern {pattern!r}")
    if glob_matches(WORKFLOW_GLOB, rel):
        if not policy.allow_workflow_changes:
            raise PathNotAllowed(
                f"{rel}: workflow files change only when the repository config allows it"
            )
        return True
    return False


def check_paths(worktree: Path, paths: Iterable[str], policy: PathPolicy) -> PathCheck:
    """Check every path against the worktree and the policy; raise `PathNotAllowed` on the first.

    Symlinks are followed as far as they exist, so a link leading out of the worktree is
    refused even when the final file does not exist yet.
    """
    accepted: list[str] = []
    risky: list[str] = []
    for raw in paths:
        rel = clean_relative(raw)
        high = _check_rules(rel, policy)
        real = _resolved(worktree, rel)
        if real is None:
            raise PathNotAllowed(f"{rel}: resolves outside the worktree through a symlink")
        if real != rel:
            # A link inside the worktree may still lead into .git/ or a forbidden file.
            try:
                high = _check_rules(clean_relative(real), policy) or high
            except PathNotAllowed as exc:
                raise PathNotAllowed(f"{rel}: leads through a symlink to {exc}") from None
        if high:
            risky.append(rel)
        if rel not in accepted:
            accepted.append(rel)
    return PathCheck(paths=tuple(accepted), high_risk=tuple(dict.fromkeys(risky)))
