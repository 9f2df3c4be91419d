"""Pure planning: from a parsed patch and the files as they are, the files as they will be.

Nothing here touches the disk. The order is: every file strictly (git's rules) → if that
fails, is the patch already applied (its reverse applies strictly everywhere)? → the
tolerant tier for the files that failed. Any file that cannot be planned refuses the whole
patch, with a message that says which hunk failed and what the file holds near there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from bot.patch.match import (
    FileText,
    HunkFailure,
    Placement,
    Tier,
    apply_placements,
    nearest,
    place_hunks,
)
from bot.patch.model import FilePatch, Hunk

__all__ = [
    "Change",
    "FilePlan",
    "HunkOutcome",
    "HunkStatus",
    "PatchPlan",
    "Snapshot",
    "already_applied",
    "decode",
    "describe_failure",
    "encode",
    "mismatch_detail",
    "plan_file",
    "plan_unified",
]

HunkStatus = Literal[
    "applied",
    "matched",
    "already-applied",
    "not-found",
    "ambiguous",
    "no-context",
    "bad-indent",
    "skipped",
]
#: Every path the patch names, mapped to its bytes, or None when it does not exist.
Snapshot = Mapping[str, bytes | None]


@dataclass(frozen=True, slots=True)
class Change:
    """One file as it will be: `content` None deletes it; `mode` is git's octal text."""

    path: str
    content: bytes | None
    mode: str | None = None


@dataclass(frozen=True, slots=True)
class HunkOutcome:
    """What happened to one hunk (1-based `index`, 1-based `line` where it landed)."""

    path: str
    index: int
    status: HunkStatus
    tier: Tier | None = None
    line: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FilePlan:
    """The plan for one file patch: changes when `ok`, else `error` (one line) and outcomes."""

    ok: bool
    changes: tuple[Change, ...]
    outcomes: tuple[HunkOutcome, ...]
    tier: Tier | None = None
    error: str = ""


def decode(data: bytes) -> str:
    """Bytes to text that round-trips any byte (undecodable bytes become surrogates)."""
    return data.decode("utf-8", errors="surrogateescape")


def encode(text: str) -> bytes:
    """The inverse of `decode`."""
    return text.encode("utf-8", errors="surrogateescape")


def _header(hunk: Hunk) -> str:
    if hunk.old_start is None:
        return "@@ @@"
    return f"@@ -{hunk.old_start},{len(hunk.before)} +{hunk.new_start},{len(hunk.after)} @@"


def _excerpt(text: FileText, at: int, size: int) -> str:
    lo = max(at - 2, 0)
    hi = min(at + size + 2, len(text.lines), lo + 14)
    width = len(str(hi))
    return "\n".join(f"{i + 1:>{width}}| {text.lines[i]}" for i in range(lo, hi))


def describe_failure(path: str, hunks: Sequence[Hunk], text: FileText, fail: HunkFailure) -> str:
    """The message a model can act on: which hunk, why, and what the file holds there."""
    hunk = hunks[fail.index]
    where = f"hunk {fail.index + 1} of {len(hunks)} in {path} ({_header(hunk)})"
    done = {0: "", 1: " (hunk 1 matched)"}.get(fail.index, f" (hunks 1-{fail.index} matched)")
    where += done
    if fail.reason == "ambiguous":
        lines = ", ".join(str(c + 1) for c in fail.candidates[:6])
        return (
            f"{where}: its context occurs at lines {lines} and the line numbers do not say"
            " which is meant; add more context lines"
        )
    if fail.reason == "no-context":
        return f"{where}: the hunk has no context lines, so there is nothing to find it by"
    reverse = place_hunks(text, [hunk.reversed()], strict=False)
    if not isinstance(reverse, HunkFailure):
        return f"{where}: this change is already in the file at line {reverse[0].start + 1}"
    return where + ": " + mismatch_detail(text, hunk.before, hunk.old_start)


def mismatch_detail(text: FileText, before: Sequence[str], stated: int | None) -> str:
    """'its lines do not match; the file holds near line N:' and a numbered excerpt."""
    near = nearest(text, before, stated - 1 if stated else None)
    if near is None:
        return "none of its lines are in the file"
    return f"its lines do not match; the file holds near line {near + 1}:\n" + _excerpt(
        text, near, len(before)
    )


def _created(fp: FilePatch) -> bytes:
    lines: list[str] = []
    no_newline = False
    for hunk in fp.hunks:
        lines.extend(hunk.after)
        no_newline = hunk.new_no_newline
    if not lines:
        return b""
    return encode("\n".join(lines) + ("" if no_newline else "\n"))


def _fail(fp: FilePatch, error: str, status: HunkStatus = "skipped") -> FilePlan:
    outcomes = tuple(HunkOutcome(fp.path, k + 1, status) for k in range(len(fp.hunks)))
    return FilePlan(False, (), outcomes, None, error)


def _outcomes(fp: FilePatch, placed: Sequence[Placement]) -> tuple[HunkOutcome, ...]:
    return tuple(HunkOutcome(fp.path, p.index + 1, "applied", p.tier, p.start + 1) for p in placed)


def _loosest(placed: Sequence[Placement]) -> Tier:
    return "whitespace" if any(p.tier == "whitespace" for p in placed) else "exact"


def _spells_cr(fp: FilePatch) -> bool:
    # A diff of a CRLF file made from its bytes carries the CRs; then its added lines say
    # exactly which endings they want (a diff that converts CRLF to LF has none on them).
    return any(line.endswith("\r") for hunk in fp.hunks for line in hunk.before)


def plan_file(fp: FilePatch, snap: Snapshot, *, strict: bool) -> FilePlan:
    """Plan one file patch against the snapshot (strict: git's rules; else tolerant)."""
    old = snap.get(fp.old_path) if fp.old_path else None
    if old is None and fp.kind == "modify" and fp.hunks and not any(h.before for h in fp.hunks):
        # Models often write a new file as `--- a/new.py` with one `@@ -0,0 +1,N @@` hunk
        # instead of `--- /dev/null`: nothing to match, so its intent is clear.
        fp = replace(fp, old_path=None)
    if fp.kind == "create":
        if snap.get(fp.path) is not None:
            return _fail(fp, f"{fp.path}: the patch creates this file but it already exists")
        # There is nothing to remove from a new file: such a line means the diff was misread
        # or mangled, and dropping it would write a file nobody asked for.
        removing = next(
            (k for k, h in enumerate(fp.hunks) if any(ln[:1] == "-" for ln in h.lines)), None
        )
        if removing is not None:
            msg = f"{fp.path}: the patch creates this file but hunk {removing + 1} removes lines"
            return _fail(fp, msg)
        return FilePlan(True, (Change(fp.path, _created(fp), fp.new_mode),), (), "exact")
    if old is None:
        return _fail(fp, f"{fp.old_path}: the patch changes this file but it does not exist")
    if fp.kind == "rename" and snap.get(fp.path) is not None:
        return _fail(fp, f"{fp.path}: the patch renames a file to here but it already exists")
    text = FileText.parse(decode(old), keep_cr=_spells_cr(fp))
    placed = place_hunks(text, fp.hunks, strict=strict)
    if isinstance(placed, HunkFailure):
        detail = describe_failure(fp.path, fp.hunks, text, placed)
        outcomes = [HunkOutcome(fp.path, k + 1, "matched") for k in range(placed.index)]
        outcomes.append(HunkOutcome(fp.path, placed.index + 1, placed.reason, detail=detail))
        return FilePlan(False, (), tuple(outcomes), None, detail)
    result = apply_placements(text, fp.hunks, placed)
    if isinstance(result, int):
        msg = f"hunk {result + 1} in {fp.path}: its added lines do not share the indentation"
        return _fail(fp, msg + " offset of its context", "bad-indent")
    changes: list[Change] = []
    if fp.kind == "delete":
        if result.lines:
            return _fail(fp, f"{fp.path}: the patch deletes this file but it holds more lines")
        changes.append(Change(fp.path, None))
    else:
        changes.append(Change(fp.path, encode(result.render()), fp.new_mode))
        if fp.kind == "rename" and fp.old_path:
            changes.append(Change(fp.old_path, None))
    return FilePlan(True, tuple(changes), _outcomes(fp, placed), _loosest(placed))


def already_applied(fp: FilePatch, snap: Snapshot) -> bool:
    """Whether the file already looks the way the patch would leave it (strict reverse)."""
    if fp.binary:
        return False
    if fp.kind == "delete":
        return snap.get(fp.path) is None
    current = snap.get(fp.path)
    if current is None or (fp.kind == "rename" and snap.get(fp.old_path or "") is not None):
        return False
    if fp.kind == "create":
        return current == _created(fp)
    text = FileText.parse(decode(current), keep_cr=_spells_cr(fp.reversed()))
    back = place_hunks(text, [h.reversed() for h in fp.hunks], strict=True)
    return not isinstance(back, HunkFailure)


@dataclass(frozen=True, slots=True)
class PatchPlan:
    """The plan for a whole unified diff.

    `ok` with `already` means nothing needs doing; `delegated` names binary files that only
    git can apply; `ambiguous` says that some hunk could go in several places that give
    different files.
    """

    ok: bool
    changes: tuple[Change, ...]
    outcomes: tuple[HunkOutcome, ...]
    tier: Tier | None = None
    message: str = ""
    already: bool = False
    ambiguous: bool = False
    delegated: tuple[str, ...] = ()


def plan_unified(files: Sequence[FilePatch], snap: Snapshot) -> PatchPlan:
    """Plan every file: strictly, then (unless already applied) tolerantly; all or nothing."""
    plans = [
        FilePlan(True, (), (), "exact") if fp.binary else plan_file(fp, snap, strict=True)
        for fp in files
    ]
    delegated = tuple(fp.path for fp in files if fp.binary)
    failing = [i for i, p in enumerate(plans) if not p.ok]
    if failing:
        done = [already_applied(fp, snap) for fp in files]
        if all(done) and not delegated:
            outcomes = tuple(
                HunkOutcome(fp.path, k + 1, "already-applied")
                for fp in files
                for k in range(len(fp.hunks))
            )
            return PatchPlan(True, (), outcomes, "exact", "already applied", already=True)
        if any(done[i] for i in failing):
            have = ", ".join(files[i].path for i in failing if done[i])
            return PatchPlan(
                False,
                (),
                _all_outcomes(plans),
                None,
                f"{have}: already has this change, but the rest of the patch is not applied;"
                " send only what is missing",
            )
        for i in failing:
            plans[i] = plan_file(files[i], snap, strict=False)
    bad = [p for p in plans if not p.ok]
    if bad:
        ambiguous = any(o.status == "ambiguous" for p in bad for o in p.outcomes)
        return PatchPlan(False, (), _all_outcomes(plans), None, bad[0].error, ambiguous=ambiguous)
    tier: Tier = "whitespace" if any(p.tier == "whitespace" for p in plans) else "exact"
    changes = tuple(c for p in plans for c in p.changes)
    return PatchPlan(True, changes, _all_outcomes(plans), tier, delegated=delegated)


def _all_outcomes(plans: Sequence[FilePlan]) -> tuple[HunkOutcome, ...]:
    return tuple(o for p in plans for o in p.outcomes)
