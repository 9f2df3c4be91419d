"""The values a patch is parsed into: hunks, file patches, search/replace edits.

Pure data, shared by the parser, the matcher, the planner and the git adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.errors import PatchDoesNotApply

__all__ = [
    "Edit",
    "FileKind",
    "FilePatch",
    "FileText",
    "Hunk",
    "Patch",
    "PatchAmbiguous",
    "PatchFormat",
    "PatchMalformed",
]

FileKind = Literal["modify", "create", "delete", "rename"]
PatchFormat = Literal["unified", "search-replace", "whole-file"]


class PatchMalformed(PatchDoesNotApply):
    """The text is not a patch Ambient can read; the message names the line."""


class PatchAmbiguous(PatchDoesNotApply):
    """A hunk's context occurs in more than one place and nothing says which one is meant."""


@dataclass(frozen=True, slots=True)
class Hunk:
    """One hunk: body lines keep their ' ', '-' or '+' prefix and lose their line ending.

    `old_start`/`new_start` are the 1-based line numbers the header stated (None when the
    header had none, as in `@@ ... @@`); they are hints, never trusted blindly.
    """

    old_start: int | None
    new_start: int | None
    lines: tuple[str, ...]
    section: str = ""
    old_no_newline: bool = False
    new_no_newline: bool = False

    @property
    def before(self) -> tuple[str, ...]:
        """The lines the hunk expects to find (context and removed lines)."""
        return tuple(line[1:] for line in self.lines if line[:1] in (" ", "-"))

    @property
    def after(self) -> tuple[str, ...]:
        """The lines the hunk leaves behind (context and added lines)."""
        return tuple(line[1:] for line in self.lines if line[:1] in (" ", "+"))

    @property
    def leading_context(self) -> int:
        """How many context lines come before the first change."""
        count = 0
        for line in self.lines:
            if line[:1] != " ":
                break
            count += 1
        return count

    @property
    def trailing_context(self) -> int:
        """How many context lines come after the last change."""
        count = 0
        for line in reversed(self.lines):
            if line[:1] != " ":
                break
            count += 1
        return count

    def reversed(self) -> Hunk:
        """The hunk that undoes this one."""
        swap = {"-": "+", "+": "-"}
        return Hunk(
            old_start=self.new_start,
            new_start=self.old_start,
            lines=tuple(swap.get(line[:1], line[:1]) + line[1:] for line in self.lines),
            section=self.section,
            old_no_newline=self.new_no_newline,
            new_no_newline=self.old_no_newline,
        )


@dataclass(frozen=True, slots=True)
class FilePatch:
    """The change to one file: paths are clean and relative once the strip level is chosen."""

    old_path: str | None
    new_path: str | None
    hunks: tuple[Hunk, ...] = ()
    old_mode: str | None = None
    new_mode: str | None = None
    binary: bool = False
    index: str | None = None

    @property
    def kind(self) -> FileKind:
        """Creation, deletion, rename (possibly with edits) or a plain modification."""
        if self.old_path is None:
            return "create"
        if self.new_path is None:
            return "delete"
        return "rename" if self.old_path != self.new_path else "modify"

    @property
    def path(self) -> str:
        """The path the change lands on (the new one, or the deleted one)."""
        # The parser never builds a file patch that names neither side.
        return self.new_path or self.old_path or ""

    def reversed(self) -> FilePatch:
        """The file patch that undoes this one."""
        return FilePatch(
            old_path=self.new_path,
            new_path=self.old_path,
            hunks=tuple(h.reversed() for h in self.hunks),
            old_mode=self.new_mode,
            new_mode=self.old_mode,
            binary=self.binary,
        )


@dataclass(frozen=True, slots=True)
class Edit:
    """One search/replace block or whole-file replacement; `search` None means whole file."""

    path: str
    search: str | None
    replace: str
    block: int


@dataclass(frozen=True, slots=True)
class Patch:
    """A parsed patch: unified file patches, or edits for the other formats."""

    format: PatchFormat
    files: tuple[FilePatch, ...] = ()
    edits: tuple[Edit, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path the patch names, old and new, in order and without repeats."""
        names: list[str] = []
        for fp in self.files:
            names.extend(p for p in (fp.old_path, fp.new_path) if p is not None)
        names.extend(e.path for e in self.edits)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class FileText:
    """A text file as lines without endings; CRLF files are matched as LF and written back."""

    lines: tuple[str, ...]
    crlf: bool = False
    final_newline: bool = True

    @classmethod
    def parse(cls, data: str, *, keep_cr: bool = False) -> FileText:
        """Split on '\\n' only (form feeds and other separators stay inside lines).

        `keep_cr` matches a CRLF file byte for byte, for a patch that spells out its CRs.
        """
        if not data:
            return cls((), False, True)
        crlf = not keep_cr and data.count("\r\n") == data.count("\n") > 0
        body = data.replace("\r\n", "\n") if crlf else data
        final = body.endswith("\n")
        lines = body[:-1].split("\n") if final else body.split("\n")
        return cls(tuple(lines), crlf, final)

    def render(self) -> str:
        """The file's text again, with its own line endings."""
        if not self.lines:
            return ""
        eol = "\r\n" if self.crlf else "\n"
        return eol.join(self.lines) + (eol if self.final_newline else "")
