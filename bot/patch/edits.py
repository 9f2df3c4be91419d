"""Pure parsing and planning of SEARCH/REPLACE blocks and whole-file replacements.

A block is a file path line, then `<<<<<<< SEARCH`, the lines to find, `=======`, the lines
to put there, `>>>>>>> REPLACE` (aider's format; fences around it are fine, and a block
without its own path line edits the previous block's file). An empty SEARCH creates a file.
A whole-file replacement is a fenced block whose opening line or the line above names a
path. Blocks apply in order, each to the text the previous ones left, and each SEARCH must
be found exactly once (tolerating trailing whitespace and one indentation offset).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.patch.match import FileText, HunkFailure, apply_placements, place_hunks
from bot.patch.model import Edit, Hunk, PatchMalformed
from bot.patch.plan import (
    Change,
    HunkOutcome,
    HunkStatus,
    Snapshot,
    decode,
    encode,
    mismatch_detail,
)

__all__ = ["EditsPlan", "parse_blocks", "parse_whole_files", "plan_edits"]

_SEARCH = re.compile(r"^<{5,9} SEARCH\s*$")
_DIVIDER = re.compile(r"^={5,9}\s*$")
_REPLACE = re.compile(r"^>{5,9} REPLACE\s*$")
_PATH = re.compile(r"[\w.+@~-][\w./+@~-]*")
_FENCE = re.compile(r"^\s*(```+|~~~+)(.*)$")


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if any(_SEARCH.match(ln.rstrip("\r")) for ln in lines) and all(
        ln.endswith("\r") for ln in lines if _SEARCH.match(ln.rstrip("\r"))
    ):
        lines = [ln.removesuffix("\r") for ln in lines]
    return lines


def _as_path(line: str) -> str | None:
    cand = line.strip().strip("*`#").strip()
    cand = re.sub(r"^(?:file(?:name)?|path)\s*:\s*", "", cand, flags=re.IGNORECASE)
    cand = cand.strip("`*").rstrip(":").strip()
    if _PATH.fullmatch(cand) and ("." in cand or "/" in cand) and not cand.endswith("."):
        return cand
    return None


def _path_above(lines: Sequence[str], i: int) -> str | None:
    """The path named just above line `i`: in a fence opener's info string, or the line
    above that opener, or the nearest non-blank line above."""
    k = i - 1
    fence = _FENCE.match(lines[k]) if k >= 0 else None
    if fence:
        named = [p for p in map(_as_path, fence.group(2).split()) if p]
        if named:
            return named[-1]
        k -= 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    return _as_path(lines[k]) if k >= 0 else None


def parse_blocks(text: str) -> tuple[Edit, ...]:
    """Every SEARCH/REPLACE block in `text`; `PatchMalformed` names the line of a broken one."""
    lines = _lines(text)
    edits: list[Edit] = []
    last: str | None = None
    i = 0
    while i < len(lines):
        if not _SEARCH.match(lines[i]):
            i += 1
            continue
        path = _path_above(lines, i) or last
        if path is None:
            raise PatchMalformed(f"line {i + 1}: a SEARCH block with no file path line before it")
        j = i + 1
        while j < len(lines) and not _DIVIDER.match(lines[j]):
            j += 1
        k = j + 1
        while k < len(lines) and not _REPLACE.match(lines[k]):
            k += 1
        if k >= len(lines):
            raise PatchMalformed(
                f"line {i + 1}: the SEARCH block is not closed by '=======' and '>>>>>>> REPLACE'"
            )
        search, replace = lines[i + 1 : j], lines[j + 1 : k]
        edits.append(Edit(path, "\n".join(search), "\n".join(replace), len(edits) + 1))
        last = path
        i = k + 1
    return tuple(edits)


def parse_whole_files(text: str) -> tuple[Edit, ...]:
    """Fenced blocks that name a file: the whole new content of that file.

    Empty unless every fenced block in `text` names its file.
    """
    lines = text.split("\n")
    edits: list[Edit] = []
    i = 0
    while i < len(lines):
        opener = _FENCE.match(lines[i])
        if not opener:
            i += 1
            continue
        close = next(
            (k for k in range(i + 1, len(lines)) if lines[k].strip() == opener.group(1)), None
        )
        if close is None:
            raise PatchMalformed(f"line {i + 1}: a fenced block is never closed")
        path = _path_above(lines, i + 1)
        if path is None:
            # A code block that names no file means this is prose with snippets, not a
            # set of whole files; replacing a file with a snippet would lose the rest.
            return ()
        body = "\n".join(lines[i + 1 : close])
        edits.append(Edit(path, None, body + "\n" if body else "", len(edits) + 1))
        i = close + 1
    return tuple(edits)


@dataclass(frozen=True, slots=True)
class EditsPlan:
    """The result of planning edits: changes and outcomes, or one failure message."""

    changes: tuple[Change, ...]
    outcomes: tuple[HunkOutcome, ...]
    error: str = ""
    already: bool = False


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split("\n")) if text else ()


def _apply_block(edit: Edit, cur: FileText | None) -> FileText | str:
    """The text after one block, or a message saying why the block does not apply."""
    where = f"block {edit.block} ({edit.path})"
    if edit.search is None:
        new = FileText.parse(edit.replace)
        return FileText(new.lines, cur.crlf if cur else False, new.final_newline)
    if not edit.search.strip():
        if cur is not None and cur.lines:
            return f"{where}: SEARCH is empty but the file exists; quote the lines to replace"
        return FileText.parse(edit.replace + "\n" if edit.replace else "")
    if cur is None:
        return f"{where}: the file does not exist"
    search, replace = _split(edit.search), _split(edit.replace)
    hunk = Hunk(None, None, tuple("-" + s for s in search) + tuple("+" + r for r in replace))
    placed = place_hunks(cur, [hunk], strict=False)
    if isinstance(placed, HunkFailure):
        if placed.reason == "ambiguous":
            at = ", ".join(str(c + 1) for c in placed.candidates[:6])
            return f"{where}: SEARCH occurs at lines {at}; add lines to make it unique"
        again = place_hunks(cur, [hunk.reversed()], strict=False)
        if not isinstance(again, HunkFailure):
            return f"{where}: already applied (REPLACE is at line {again[0].start + 1})"
        return f"{where}: SEARCH not found: " + mismatch_detail(cur, search, None)
    result = apply_placements(cur, [hunk], placed)
    if isinstance(result, int):
        return f"{where}: REPLACE lines do not share the indentation offset SEARCH needed"
    return result


def plan_edits(edits: Sequence[Edit], snap: Snapshot) -> EditsPlan:
    """Apply the blocks in order to the snapshot's texts, all or nothing."""
    texts: dict[str, FileText | None] = {}
    for edit in edits:
        data = snap.get(edit.path)
        texts.setdefault(edit.path, FileText.parse(decode(data)) if data is not None else None)
    outcomes: list[HunkOutcome] = []
    errors: list[str] = []
    for edit in edits:
        result = _apply_block(edit, texts[edit.path])
        if isinstance(result, str):
            status: HunkStatus = "already-applied" if "already applied" in result else "not-found"
            outcomes.append(HunkOutcome(edit.path, edit.block, status, detail=result))
            errors.append(result)
            continue
        texts[edit.path] = result
        outcomes.append(HunkOutcome(edit.path, edit.block, "applied", "exact"))
    if errors:
        if all(o.status == "already-applied" for o in outcomes):
            return EditsPlan((), tuple(outcomes), already=True)
        fine = [str(o.index) for o in outcomes if o.status == "applied"]
        noun = "block" if len(fine) == 1 else "blocks"
        tail = f"; {noun} {', '.join(fine)} matched (nothing was written)" if fine else ""
        return EditsPlan((), tuple(outcomes), errors[0] + tail)
    changes = []
    for path, text in texts.items():
        new = encode(text.render()) if text is not None else None
        if new != snap.get(path):
            changes.append(Change(path, new))
    return EditsPlan(tuple(changes), tuple(outcomes))
