"""Pure parsing of unified diffs as models write them, into `RawFile` values.

Tolerated: prose and markdown fences around the diff, CRLF text, headers without
`diff --git` or `index` lines, wrong hunk counts (the body decides), hunk headers without
numbers, a missing final newline, blank context lines written as empty lines. Refused: a hunk
cut short by a line without a prefix, which would otherwise apply half a change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.patch.model import Hunk, PatchMalformed

__all__ = ["RawFile", "parse_unified", "split_lines", "unquote"]

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
_EXTENDED = (
    "old mode ",
    "new mode ",
    "deleted file mode ",
    "new file mode ",
    "similarity index ",
    "dissimilarity index ",
    "rename from ",
    "rename to ",
    "copy from ",
    "copy to ",
    "index ",
)


@dataclass(slots=True)
class RawFile:
    """One file section as written: names still carry their prefixes (`a/`, `b/`, or none)."""

    old_name: str | None = None
    new_name: str | None = None
    git_names: tuple[str, str] | None = None
    hunks: list[Hunk] = field(default_factory=list)
    old_mode: str | None = None
    new_mode: str | None = None
    created: bool = False
    deleted: bool = False
    rename: bool = False
    binary: bool = False
    index: str | None = None
    line: int = 0


def split_lines(text: str) -> list[str]:
    """Split on '\\n' only, dropping one CR per line when the diff's own headers carry CRs.

    Headers ending in CR mean the whole text went through a CRLF conversion; a CR only in
    content lines belongs to the file (a CRLF file diffed with LF headers) and stays.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    headers = [ln for ln in lines if ln.startswith(("diff --git ", "--- ", "+++ ", "@@ "))]
    if headers and all(ln.endswith("\r") for ln in headers):
        lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    return lines


def unquote(name: str) -> str:
    """Undo git's C-style quoting of a path (`"a/caf\\303\\251"`); plain names pass through."""
    if not (len(name) >= 2 and name.startswith('"') and name.endswith('"')):
        return name
    out = bytearray()
    body = name[1:-1]
    i = 0
    escapes = {"n": 10, "t": 9, '"': 34, "\\": 92, "a": 7, "b": 8, "f": 12, "r": 13, "v": 11}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "01234567" and re.match(r"[0-7]{3}", body[i + 1 : i + 4]):
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(escapes.get(nxt, ord(nxt)))
            i += 2
            continue
        out.extend(ch.encode())
        i += 1
    return out.decode("utf-8", errors="surrogateescape")


def _name(field_text: str) -> str | None:
    name = field_text.split("\t", 1)[0].rstrip()
    name = unquote(name)
    return None if name == "/dev/null" else name


def _split_git_names(rest: str) -> tuple[str, str] | None:
    if rest.startswith('"'):
        match = re.match(r'^("(?:[^"\\]|\\.)*")\s+(.*)$', rest)
        if match:
            return unquote(match.group(1)), unquote(match.group(2))
        return None
    # Unquoted names may contain spaces: split where both halves name the same path.
    for k in (i for i, ch in enumerate(rest) if ch == " "):
        left, right = rest[:k], rest[k + 1 :]
        if left.split("/", 1)[-1] == right.split("/", 1)[-1]:
            return left, right
    return None


def _is_fence(line: str) -> bool:
    return line.lstrip().startswith(("```", "~~~"))


def _is_file_start(lines: list[str], i: int) -> bool:
    line = lines[i]
    if line.startswith(("diff --git ", "diff -", "Index: ")):
        return True
    return line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")


def _is_header_inside(lines: list[str], i: int, complete: bool = False) -> bool:
    """A file header inside a hunk: '--- x' / '+++ y' could be a removed and an added line.

    It is a header when a hunk header follows it, when the hunk before it already holds the
    lines its header counted (`complete`: git reads no further), or when one side is
    /dev/null: a file created or deleted empty has no hunk, so no '@@' follows its header.
    """
    if lines[i].startswith(("diff --git ", "diff -", "Index: ")):
        return True
    if not _is_file_start(lines, i):
        return False
    if i + 2 < len(lines) and lines[i + 2].startswith("@@"):
        return True
    return complete or None in (_name(lines[i][4:]), _name(lines[i + 1][4:]))


def _body_like(line: str) -> bool:
    return line[:1] in (" ", "+", "-", "\\")


class _Parser:
    def __init__(self, text: str) -> None:
        self.lines = split_lines(text)
        self.i = 0
        self.in_fence = False
        self.files: list[RawFile] = []

    def run(self) -> list[RawFile]:
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if _is_fence(line):
                self.in_fence = not self.in_fence
                self.i += 1
            elif line.startswith("diff --git "):
                self._git_header()
            elif _is_file_start(self.lines, self.i) and line.startswith("--- "):
                self.files.append(RawFile(line=self.i + 1))
                self._names()
            elif line.startswith("@@@"):
                raise PatchMalformed(f"line {self.i + 1}: combined diffs (@@@) are not supported")
            elif line.startswith("@@") and self.files:
                self.files[-1].hunks.append(self._hunk())
            else:
                self.i += 1
        return self.files

    def _git_header(self) -> None:
        raw = RawFile(line=self.i + 1)
        raw.git_names = _split_git_names(self.lines[self.i][len("diff --git ") :])
        self.files.append(raw)
        self.i += 1
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.startswith(_EXTENDED):
                self._extended(raw, line)
            elif line.startswith("Binary files ") or line.startswith("GIT binary patch"):
                raw.binary = True
            elif line.startswith("--- ") or line.startswith("@@") or not line.strip():
                break
            elif line.startswith(("literal ", "delta ")) or (raw.binary and line[:1].isalpha()):
                pass
            else:
                break
            self.i += 1
        if self.i < len(self.lines) and self.lines[self.i].startswith("--- "):
            self._names()

    @staticmethod
    def _extended(raw: RawFile, line: str) -> None:
        key, _, value = line.partition(" ")
        if line.startswith("new file mode "):
            raw.created, raw.new_mode = True, line.rsplit(" ", 1)[1]
        elif line.startswith("deleted file mode "):
            raw.deleted, raw.old_mode = True, line.rsplit(" ", 1)[1]
        elif line.startswith("old mode "):
            raw.old_mode = line.rsplit(" ", 1)[1]
        elif line.startswith("new mode "):
            raw.new_mode = line.rsplit(" ", 1)[1]
        elif line.startswith(("rename from ", "copy from ")):
            raw.rename, raw.old_name = True, "a/" + unquote(line.split(" ", 2)[2])
        elif line.startswith(("rename to ", "copy to ")):
            raw.rename, raw.new_name = True, "b/" + unquote(line.split(" ", 2)[2])
        elif key == "index":
            raw.index = value.split(" ")[0]

    def _names(self) -> None:
        raw = self.files[-1]
        old, new = _name(self.lines[self.i][4:]), _name(self.lines[self.i + 1][4:])
        if not raw.rename:
            raw.old_name, raw.new_name = old, new
        raw.created = raw.created or old is None
        raw.deleted = raw.deleted or new is None
        self.i += 2

    def _hunk(self) -> Hunk:
        header_at = self.i
        header = self.lines[self.i]
        match = _HUNK.match(header)
        counts: tuple[int, int] | None = None
        old_start: int | None = None
        new_start: int | None = None
        if match:
            old_start, new_start = int(match.group(1)), int(match.group(3))
            counts = (int(match.group(2) or 1), int(match.group(4) or 1))
            section = match.group(5).strip()
        else:
            section = header[2:].partition("@@")[2].strip()
        self.i += 1
        body, marks, cut = self._body(counts)
        if cut is not None and self._truncated(body, counts, cut):
            raise PatchMalformed(
                f"line {cut + 1}: {self.lines[cut]!r} inside the hunk at line {header_at + 1}"
                " has no ' ', '+' or '-' prefix"
            )
        if not any(ln[:1] in ("+", "-") for ln in body):
            raise PatchMalformed(f"line {header_at + 1}: hunk {header!r} changes nothing")
        return Hunk(old_start, new_start, tuple(body), section, marks[0], marks[1])

    def _truncated(self, body: list[str], counts: tuple[int, int] | None, cut: int) -> bool:
        if self.in_fence:
            return True
        nxt = self.lines[cut + 1] if cut + 1 < len(self.lines) else ""
        if _body_like(nxt) and not _is_file_start(self.lines, cut + 1):
            return True
        if counts is None:
            return False
        old = sum(1 for ln in body if ln[:1] in (" ", "-"))
        new = sum(1 for ln in body if ln[:1] in (" ", "+"))
        return old < counts[0] and new < counts[1]

    def _body(
        self, counts: tuple[int, int] | None
    ) -> tuple[list[str], tuple[bool, bool], int | None]:
        body: list[str] = []
        old_nl = new_nl = False
        lines = self.lines
        # The lines the header still counts on each side; wrong counts only shorten or
        # lengthen a hunk where the next line could also be read as a file header.
        want_old, want_new = counts if counts is not None else (-1, -1)
        while self.i < len(lines):
            line = lines[self.i]
            done = counts is not None and want_old <= 0 and want_new <= 0
            # A fence closes the diff only at column 0: " ```" is a context line of markdown.
            if line.startswith(("@@", "```", "~~~")) or _is_header_inside(lines, self.i, done):
                return body, (old_nl, new_nl), None
            if line.startswith("\\"):
                prefix = body[-1][:1] if body else " "
                old_nl = old_nl or prefix in (" ", "-")
                new_nl = new_nl or prefix in (" ", "+")
            elif line[:1] in (" ", "+", "-"):
                body.append(line)
                want_old -= 0 if line[:1] == "+" else 1
                want_new -= 0 if line[:1] == "-" else 1
            elif not line.strip():
                k = self.i
                while k < len(lines) and not lines[k].strip():
                    k += 1
                # Blank lines continue the hunk only when more hunk lines follow them.
                more = k < len(lines) and _body_like(lines[k])
                if more and not _is_header_inside(lines, k, done):
                    body.extend(" " for _ in range(k - self.i))
                    want_old, want_new = want_old - (k - self.i), want_new - (k - self.i)
                    self.i = k
                    continue
                return body, (old_nl, new_nl), None
            else:
                return body, (old_nl, new_nl), self.i
            self.i += 1
        return body, (old_nl, new_nl), None


def parse_unified(text: str) -> list[RawFile]:
    """Parse every file section of a unified diff found in `text` (prose around is ignored).

    Raises `PatchMalformed` naming the line when a section cannot be read safely.
    """
    files = _Parser(text).run()
    for raw in files:
        if raw.old_name is None and raw.new_name is None and raw.git_names:
            raw.old_name = None if raw.created else raw.git_names[0]
            raw.new_name = None if raw.deleted else raw.git_names[1]
        if raw.old_name is None and raw.new_name is None:
            raise PatchMalformed(f"line {raw.line}: a file section names no file")
        empty = not raw.hunks and not raw.binary and not raw.rename
        if empty and raw.old_mode == raw.new_mode and not (raw.created or raw.deleted):
            raise PatchMalformed(f"line {raw.line}: a file section has no hunks")
    return files
