"""The added lines of a unified diff, with their file and line number in the new version.

Pure: text in, values out. It follows git's hunk counts, so an added line that happens to start
with "++ " is still an added line; after a hunk's counts run out (a damaged diff), a line that
starts with "+" is still taken as added, because the secret gate must see everything a diff
could add.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["FileAdditions", "parse_additions"]

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_OCTAL = re.compile(r"\\([0-7]{3})")
_ESCAPES = {"\\n": "\n", "\\t": "\t", '\\"': '"', "\\\\": "\\"}


@dataclass(frozen=True, slots=True)
class FileAdditions:
    """The lines a diff adds to one file; `binary` when the diff carries no text for it."""

    path: str
    lines: tuple[tuple[int, str], ...]
    binary: bool = False


@dataclass(slots=True)
class _File:
    path: str
    lines: list[tuple[int, str]]
    binary: bool = False


class _Parser:
    def __init__(self) -> None:
        self.files: list[_File] = []
        self.current: _File | None = None
        self.new_line = 0
        self.old_left = 0
        self.new_left = 0
        self.old_path = ""
        self.git_path = ""

    def in_hunk(self) -> bool:
        return self.old_left > 0 or self.new_left > 0

    def start_file(self, path: str) -> None:
        self.current = _File(path=path, lines=[])
        self.files.append(self.current)
        self.old_left = self.new_left = 0

    def feed(self, raw: str) -> None:
        if self.in_hunk():
            self.hunk_line(raw)
        elif raw.startswith("diff --git "):
            self.current = None
            self.old_path = ""
            # "diff --git a/x b/x": the only name a binary patch has.
            self.git_path = _path(raw[11:].rpartition(" ")[2])
        elif raw.startswith("--- "):
            self.old_path = _path(raw[4:])
        elif raw.startswith("+++ "):
            path = _path(raw[4:])
            self.start_file(self.old_path if path == "/dev/null" else path)
        elif raw.startswith(("Binary files ", "GIT binary patch")):
            self.binary(raw)
        elif (match := _HUNK.match(raw)) is not None:
            self.new_line = int(match.group(1))
            self.new_left = int(match.group(2) or "1")
            self.old_left = _old_count(raw)
        elif raw.startswith("+") and self.current is not None:
            # Past the hunk's counts: fail closed and scan it as an added line.
            self.current.lines.append((self.new_line, raw[1:]))
            self.new_line += 1

    def hunk_line(self, raw: str) -> None:
        tag, text = raw[:1], raw[1:]
        if tag == "\\":
            return
        if tag == "+" and self.current is not None:
            self.current.lines.append((self.new_line, text))
        if tag in ("+", " ", ""):
            self.new_line += 1
            self.new_left -= 1
        if tag in ("-", " ", ""):
            self.old_left -= 1

    def binary(self, raw: str) -> None:
        if self.current is None:
            found = re.match(r"Binary files (.+) and (.+) differ", raw)
            path = _path(found.group(2)) if found else self.git_path
            if path == "/dev/null":
                return
            self.start_file(path)
        if self.current is not None:
            self.current.binary = True


def parse_additions(diff_text: str) -> tuple[FileAdditions, ...]:
    """Each file's added lines (number in the new file, text without the "+"), in diff order.

    Deleted files yield nothing to scan; a file the diff marks as binary comes back with
    `binary=True` and no lines.
    """
    parser = _Parser()
    for raw in diff_text.splitlines():
        parser.feed(raw.rstrip("\r"))
    return tuple(
        FileAdditions(path=f.path, lines=tuple(f.lines), binary=f.binary)
        for f in parser.files
        if f.path and (f.lines or f.binary)
    )


def _old_count(header: str) -> int:
    match = re.match(r"^@@ -\d+(?:,(\d+))?", header)
    return int(match.group(1) or "1") if match else 0


def _path(field: str) -> str:
    """A header path without its a/ or b/ prefix, tab-separated timestamp or C quoting."""
    field = field.split("\t", 1)[0].strip()
    if field.startswith('"') and field.endswith('"') and len(field) >= 2:
        field = _unquote(field[1:-1])
    if field == "/dev/null":
        return field
    if field.startswith(("a/", "b/")):
        field = field[2:]
    return field


def _unquote(text: str) -> str:
    """Undo git's C-style quoting: octal bytes are UTF-8, plus \\n, \\t, \\" and \\\\."""
    for escape, char in _ESCAPES.items():
        text = text.replace(escape, char)
    raw = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), text)
    return raw.encode("latin-1", "replace").decode("utf-8", "replace")
