"""CODEOWNERS with GitHub's semantics: where the file is, who owns a path, whom to ask to review.

Pure: text in, values out. Matching is done by the `codeowners` library; this module only
brings its input in line with what GitHub accepts (the library also speaks GitLab's dialect).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from codeowners import CodeOwners

__all__ = [
    "CODEOWNERS_LOCATIONS",
    "CodeOwnersFile",
    "Reviewers",
    "reviewers_for",
]

#: Where GitHub looks, in order; the first file found wins (GitHub Docs, "About code owners").
CODEOWNERS_LOCATIONS: Final = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")

# GitHub ignores files of 3 MB or more.
_MAX_BYTES: Final = 3 * 1024 * 1024
_ESCAPED_SPACE: Final = "\\ "


@dataclass(frozen=True, slots=True)
class Reviewers:
    """Whom to request a review from: user logins and team slugs, both without '@'."""

    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.users or self.teams)


def _github_line(line: str) -> str | None:
    """The line as the library should see it, or None when GitHub would ignore it.

    GitHub does not support `!` negation, `[ ]` character ranges or `\\#` escapes, and
    GitLab's `[Section]` headers are errors to GitHub: such lines are skipped. Brackets inside
    a pattern are literal characters to GitHub, so they are escaped for the library.
    """
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if stripped.startswith(("[", "^[", "!", "\\#")):
        return None
    # An escaped space belongs to the pattern; any other whitespace separates the owners.
    parts = stripped.replace(_ESCAPED_SPACE, "\0").split(maxsplit=1)
    pattern = parts[0].replace("\0", _ESCAPED_SPACE)
    owners = parts[1].replace("\0", _ESCAPED_SPACE) if len(parts) > 1 else ""
    pattern = re.sub(r"(?<!\\)([\[\]])", r"\\\1", pattern)
    # The library's port of hmarr's matcher predates hmarr's fix for a trailing `/**/`,
    # which GitHub (and hmarr's tests) treat as "everything below", like `/**`.
    if pattern.endswith("/**/"):
        pattern = pattern[:-1]
    return f"{pattern} {owners}".rstrip()


@dataclass(frozen=True, slots=True)
class CodeOwnersFile:
    """A parsed CODEOWNERS file; `owners(path)` follows GitHub: the last matching line wins."""

    path: str
    _rules: CodeOwners

    @classmethod
    def parse(cls, text: str, path: str = "CODEOWNERS") -> CodeOwnersFile:
        """Parse CODEOWNERS text; lines GitHub would reject are ignored, never fatal."""
        if len(text.encode()) >= _MAX_BYTES:
            text = ""
        # Skipped lines become blank so the library's line numbers still match the file.
        lines = (_github_line(line) or "" for line in text.splitlines())
        return cls(path, CodeOwners("\n".join(lines)))

    def owners(self, path: str) -> tuple[str, ...]:
        """Owners of a repository path such as `src/a.py` ('@user', '@org/team' or an email).

        An empty tuple means nobody owns it, including when the last matching line lists no
        owners (which is how a CODEOWNERS file un-owns a path).
        """
        return tuple(value for _kind, value in self._rules.of(path))


def reviewers_for(
    owners_file: CodeOwnersFile | None,
    paths: Iterable[str],
    exclude: Sequence[str] = (),
) -> Reviewers:
    """The users and teams owning any of `paths`, minus `exclude` (the PR author, the App).

    Email owners are dropped: the review API takes logins and team slugs only. A team
    `@org/name` becomes the slug `name`, as the API expects.
    """
    if owners_file is None:
        return Reviewers()
    excluded = {login.lower().lstrip("@") for login in exclude}
    users: dict[str, None] = {}
    teams: dict[str, None] = {}
    for path in paths:
        for owner in owners_file.owners(path):
            if not owner.startswith("@"):
                continue
            name = owner[1:]
            if "/" in name:
                teams.setdefault(name.split("/", 1)[1], None)
            elif name.lower() not in excluded:
                users.setdefault(name, None)
    return Reviewers(tuple(users), tuple(teams))
