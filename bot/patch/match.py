"""Pure hunk matching: find where each hunk's context is, and rewrite the text there.

Tiers, strictest first: exact lines (anchored at the start or end of the file the way git
anchors) → exact lines anywhere → lines equal but for trailing whitespace and one uniform
indentation offset. Nothing looser. A hunk whose context is found in several places is
placed when the stated line (shifted by the drift the previous hunk showed) or a file
boundary singles one out, or when every place gives the same file (removing one of two
equal lines); otherwise it is refused as ambiguous.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from bot.patch.model import FileText, Hunk

__all__ = [
    "FileText",
    "HunkFailure",
    "Placement",
    "Tier",
    "apply_placements",
    "nearest",
    "place_hunks",
]

Tier = Literal["exact", "whitespace"]
Failure = Literal["not-found", "ambiguous", "no-context"]

#: How many placements of ambiguous hunks are tried, in all, to see whether they give the
#: same file; past it the hunk is refused as ambiguous (a run of hundreds of equal lines).
_MAX_TRIALS: Final = 256


@dataclass(frozen=True, slots=True)
class Placement:
    """Where hunk `index` goes: its `before` lines start at 0-based `start`."""

    index: int
    start: int
    tier: Tier
    add: str = ""
    remove: str = ""


@dataclass(frozen=True, slots=True)
class HunkFailure:
    """Why hunk `index` could not be placed; `candidates` are 0-based starts when ambiguous."""

    index: int
    reason: Failure
    candidates: tuple[int, ...] = ()


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _offset(file_line: str, patch_line: str) -> tuple[str, str] | None:
    """(add, remove) such that file_line == add + patch_line.removeprefix(remove), ignoring
    trailing whitespace; None when the two lines differ in more than indentation."""
    f, p = file_line.rstrip(), patch_line.rstrip()
    if f.lstrip(" \t") != p.lstrip(" \t"):
        return None
    fi, pi = _indent(f), _indent(p)
    if fi.endswith(pi):
        return fi[: len(fi) - len(pi)], ""
    if pi.endswith(fi):
        return "", pi[: len(pi) - len(fi)]
    return None


def _match_at(
    lines: Sequence[str], before: Sequence[str], pos: int, tier: Tier
) -> Placement | None:
    if tier == "exact":
        ok = all(lines[pos + j] == b for j, b in enumerate(before))
        return Placement(-1, pos, "exact") if ok else None
    shift: tuple[str, str] | None = None
    for j, b in enumerate(before):
        f = lines[pos + j]
        if not b.strip() or not f.strip():
            if b.strip() or f.strip():
                return None
            continue
        found = _offset(f, b)
        if found is None or (shift is not None and found != shift):
            return None
        shift = found
    add, remove = shift or ("", "")
    return Placement(-1, pos, "whitespace", add, remove)


def _key(line: str, tier: Tier) -> str:
    return line if tier == "exact" else line.strip()


def _candidates(
    lines: Sequence[str], before: Sequence[str], lo: int, tier: Tier
) -> list[Placement]:
    first = next((j for j, b in enumerate(before) if b.strip()), 0)
    key = _key(before[first], tier)
    found = []
    for q in range(lo + first, len(lines) - len(before) + first + 1):
        if _key(lines[q], tier) == key:
            placed = _match_at(lines, before, q - first, tier)
            if placed is not None:
                found.append(placed)
    return found


def _anchored(hunk: Hunk, start: int, size: int, total: int) -> bool:
    # Only a real unified hunk (one with line numbers) says where the file starts or ends.
    if hunk.old_start is None:
        return True
    if hunk.old_start <= 1 and start != 0:
        return False
    return not (hunk.trailing_context == 0 and start + size != total)


@dataclass(frozen=True, slots=True)
class _Hunks:
    """The hunks of one file with their candidate placements, per tier, over the whole file."""

    hunks: Sequence[Hunk]
    sizes: tuple[int, ...]
    found: tuple[tuple[list[Placement], ...], ...]
    total: int


def _window(k: int, ctx: _Hunks, fixed: list[Placement | None]) -> tuple[int, int]:
    """Hunks keep their order: hunk k lies between the placed hunks around it."""
    lo, hi = 0, ctx.total
    for j in range(k - 1, -1, -1):
        if (p := fixed[j]) is not None:
            lo = p.start + ctx.sizes[j]
            break
    for j in range(k + 1, len(fixed)):
        if (p := fixed[j]) is not None:
            hi = p.start
            break
    return lo, hi


def _deltas(k: int, ctx: _Hunks, fixed: list[Placement | None]) -> set[int]:
    """The drifts that may apply to hunk k: that of the nearest placed hunk above (or none,
    when none is placed above), and that of the nearest placed hunk below."""
    out: set[int] = set()
    for rng, default in ((range(k - 1, -1, -1), 0), (range(k + 1, len(fixed)), None)):
        found = default
        for j in rng:
            p, stated = fixed[j], ctx.hunks[j].old_start
            if p is not None and stated is not None:
                found = p.start - (stated - 1)
                break
        if found is not None:
            out.add(found)
    return out


def _resolve(
    k: int, ctx: _Hunks, fixed: list[Placement | None], use_hint: bool
) -> Placement | list[Placement] | None:
    """The one place for hunk k, the places it could take (several), or None (no place)."""
    hunk = ctx.hunks[k]
    lo, hi = _window(k, ctx, fixed)
    options: list[Placement] = []
    for tier_cands in ctx.found[k]:
        options = [c for c in tier_cands if lo <= c.start and c.start + ctx.sizes[k] <= hi]
        if options:
            break
    if len(options) <= 1:
        return options[0] if options else None
    anchored = [c for c in options if _anchored(hunk, c.start, ctx.sizes[k], ctx.total)]
    if len(anchored) == 1:
        return anchored[0]
    if use_hint and hunk.old_start is not None:
        # Drift is only known for the hunks around; if the drift above and the drift below
        # point at different copies, either could be meant: refuse rather than guess.
        deltas = _deltas(k, ctx, fixed)
        at = [c for c in options if c.start - (hunk.old_start - 1) in deltas]
        if len(at) == 1:
            return at[0]
    return options


def _settle(ctx: _Hunks, start: Sequence[Placement | None]) -> list[Placement | None]:
    """Fix unique hunks first, then one hunk at a time by the drift of its neighbours."""
    fixed = list(start)
    while any(p is None for p in fixed):
        for use_hint in (False, True):
            progress = False
            for k in range(len(fixed)):
                if fixed[k] is None:
                    got = _resolve(k, ctx, fixed, use_hint)
                    if isinstance(got, Placement):
                        fixed[k] = got
                        progress = True
                        if use_hint:
                            break
            if progress:
                break
        else:
            return fixed
    return fixed


def place_hunks(
    text: FileText, hunks: Sequence[Hunk], *, strict: bool
) -> list[Placement] | HunkFailure:
    """Place every hunk on the original text, in order, or say which one cannot be placed.

    `strict` is git's rule: exact lines only, and a hunk stated at line 1, or one without
    trailing context, must sit at the start or end of the file. Otherwise a hunk found in
    several places is placed only if its order among the other hunks, a file boundary, or
    its stated line shifted by a neighbour's drift leaves exactly one place, or if every
    place (with every place of the hunks still open) gives the same file.
    """
    lines = text.lines
    tiers: tuple[Tier, ...] = ("exact",) if strict else ("exact", "whitespace")
    befores = [_patch_lines(h.before, text.crlf) for h in hunks]
    for k, before in enumerate(befores):
        if not before:
            if lines or len(hunks) > 1:
                return HunkFailure(k, "no-context")
            return [Placement(0, 0, "exact")]
    found = []
    for hunk, before in zip(hunks, befores, strict=True):
        per_tier = []
        for tier in tiers:
            cands = _candidates(lines, before, 0, tier)
            if strict:
                cands = [c for c in cands if _anchored(hunk, c.start, len(before), len(lines))]
            per_tier.append(cands)
        found.append(tuple(per_tier))
    ctx = _Hunks(hunks, tuple(len(b) for b in befores), tuple(found), len(lines))
    fixed = _settle(ctx, [None] * len(hunks))
    for k, p in enumerate(fixed):
        if p is None:
            got = _resolve(k, ctx, fixed, True)
            if not isinstance(got, list):
                return HunkFailure(k, "not-found")
            same = _same_file(text, ctx, fixed, _Trials(_MAX_TRIALS))
            if same is None:
                return HunkFailure(k, "ambiguous", tuple(c.start for c in got))
            return same[0]
    return _numbered(fixed)


def _numbered(fixed: Sequence[Placement | None]) -> list[Placement]:
    return [
        Placement(k, p.start, p.tier, p.add, p.remove) for k, p in enumerate(fixed) if p is not None
    ]


@dataclass(slots=True)
class _Trials:
    """The placements `_same_file` may still try, shared by its whole search."""

    left: int


def _same_file(
    text: FileText, ctx: _Hunks, fixed: list[Placement | None], trials: _Trials
) -> tuple[list[Placement], FileText] | None:
    """Try every place of the first unplaced hunk (and so on for the rest): when all of them
    place every hunk and give the same file, nothing is ambiguous; return the first.

    None when a place leaves a hunk unplaced, two places give different files, or the
    trials run out.
    """
    k = next((k for k, p in enumerate(fixed) if p is None), None)
    if k is None:
        placed = _numbered(fixed)
        result = apply_placements(text, ctx.hunks, placed)
        return None if isinstance(result, int) else (placed, result)
    options = _resolve(k, ctx, fixed, True)
    if not isinstance(options, list) or len(options) > trials.left:
        return None
    trials.left -= len(options)
    first: tuple[list[Placement], FileText] | None = None
    for option in options:
        branch = _settle(ctx, [*fixed[:k], option, *fixed[k + 1 :]])
        got = _same_file(text, ctx, branch, trials)
        if got is None or (first is not None and got[1] != first[1]):
            return None
        if first is None:
            first = got
    return first


def _patch_lines(lines: Sequence[str], crlf: bool) -> tuple[str, ...]:
    # A CRLF file diffed with LF headers leaves a CR on every content line.
    return tuple(ln[:-1] if crlf and ln.endswith("\r") else ln for ln in lines)


def _adjust(line: str, placement: Placement) -> str | None:
    if not line.strip():
        return line
    if placement.remove:
        if not line.startswith(placement.remove):
            return None
        line = line[len(placement.remove) :]
    return placement.add + line


def apply_placements(
    text: FileText, hunks: Sequence[Hunk], placements: Sequence[Placement]
) -> FileText | int:
    """The text with every placed hunk applied; an int is a hunk whose added lines cannot
    take the indentation offset its context needed."""
    lines = text.lines
    out: list[str] = []
    cur = 0
    final = text.final_newline
    for placement in placements:
        hunk = hunks[placement.index]
        out.extend(lines[cur : placement.start])
        pos = placement.start
        for raw in hunk.lines:
            body = _patch_lines((raw[1:],), text.crlf)[0]
            if raw[:1] == " ":
                out.append(lines[pos])
                pos += 1
            elif raw[:1] == "-":
                pos += 1
            else:
                added = _adjust(body, placement)
                if added is None:
                    return placement.index
                out.append(added)
        cur = pos
        if pos == len(lines) and (hunk.old_no_newline or hunk.new_no_newline):
            final = not hunk.new_no_newline
    out.extend(lines[cur:])
    return FileText(tuple(out), text.crlf, final)


def nearest(text: FileText, before: Sequence[str], hint: int | None) -> int | None:
    """The 0-based line where the file looks most like `before` (for messages), or None."""
    where: dict[str, list[int]] = {}
    for i, line in enumerate(text.lines):
        if line.strip():
            where.setdefault(line.strip(), []).append(i)
    votes: dict[int, int] = {}
    for j, b in enumerate(before):
        for i in where.get(b.strip(), ())[:200] if b.strip() else ():
            votes[i - j] = votes.get(i - j, 0) + 1
    if not votes:
        return None
    target = hint if hint is not None else 0
    best = max(votes.items(), key=lambda kv: (kv[1], -abs(kv[0] - target)))
    return max(best[0], 0)
