"""Atomic patch application: apply every patch whose intent is clear, refuse the rest.

`apply(worktree, text)` reads unified diffs (however models mangle them), SEARCH/REPLACE
blocks and whole-file replacements. The ladder, strictest first: `git apply -p1` on the
canonical diff → `git apply --3way` (when the worktree is a repository that holds the
pre-image blobs) → Ambient's own hunk matcher (exact lines anywhere, then trailing
whitespace and one indentation offset). Every path is checked by `bot.patch.paths` before any
file is read, git's result must agree with the matcher's, an ambiguous hunk is refused,
and nothing is written unless every hunk of every file is placed. A refusal leaves the
worktree byte-identical and returns a message naming the failed hunk and what the file
holds near there, with a debug bundle of the raw and normalised patch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from bot.errors import PatchDoesNotApply, PathNotAllowed
from bot.patch.edits import parse_blocks, parse_whole_files, plan_edits
from bot.patch.git import GitOutcome, git_apply, git_dirs
from bot.patch.model import FilePatch, Patch, PatchMalformed
from bot.patch.normalize import render, resolve_paths
from bot.patch.parse import parse_unified
from bot.patch.paths import PathPolicy, check_paths
from bot.patch.plan import Change, HunkOutcome, PatchPlan, plan_unified
from bot.patch.write import read_snapshot, write_changes

__all__ = ["ApplyResult", "DebugBundle", "Method", "apply", "apply_sync", "parse_patch"]

Method = Literal[
    "git-apply",
    "git-apply-3way",
    "context-match",
    "whitespace-tolerant",
    "search-replace",
    "whole-file",
    "already-applied",
    "refused",
]
Refusal = Literal["", "path", "patch"]


@dataclass(frozen=True, slots=True)
class DebugBundle:
    """What a report needs to debug an apply: the raw and normalised text, each hunk's fate."""

    raw: str
    normalized: str = ""
    format: str = ""
    hunks: tuple[HunkOutcome, ...] = ()
    git: str = ""

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The outcome: `ok` and the `files` written (none when refused or already applied)."""

    ok: bool
    files: tuple[str, ...]
    method: Method
    message: str
    debug_bundle: DebugBundle
    high_risk: tuple[str, ...] = ()
    refusal: Refusal = ""

    def raise_for_refusal(self) -> None:
        """Raise `PathNotAllowed` or `PatchDoesNotApply` (with the message) when refused."""
        if self.refusal == "path":
            raise PathNotAllowed(self.message)
        if not self.ok:
            raise PatchDoesNotApply(self.message)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict, debug bundle included."""
        return asdict(self)


@dataclass(slots=True)
class _Outcome:
    ok: bool
    method: Method
    message: str
    changes: tuple[Change, ...] = ()
    outcomes: tuple[HunkOutcome, ...] = ()
    normalized: str = ""
    git: list[str] = field(default_factory=list)


def parse_patch(text: str, exists: Mapping[str, bool] | None = None) -> Patch:
    """Parse `text` as SEARCH/REPLACE blocks, a unified diff, or whole files (in that order).

    `exists` says which relative paths exist, to choose each diff's strip level; paths it
    does not list count as missing. Raises `PatchMalformed` when no format fits.
    """
    known = exists or {}
    edits = parse_blocks(text)
    if edits:
        return Patch("search-replace", edits=edits)
    raws = parse_unified(text)
    if raws:
        return Patch("unified", files=resolve_paths(raws, lambda p: known.get(p, False)))
    wholes = parse_whole_files(text)
    if wholes:
        return Patch("whole-file", edits=wholes)
    raise PatchMalformed("no unified diff, SEARCH/REPLACE block or whole-file block found")


def _parse_in(root: Path, text: str) -> Patch:
    edits = parse_blocks(text)
    if edits:
        return Patch("search-replace", edits=edits)
    raws = parse_unified(text)
    if raws:
        return Patch("unified", files=resolve_paths(raws, lambda p: (root / p).exists()))
    return parse_patch(text)


def _starts(files: tuple[FilePatch, ...], plan: PatchPlan) -> dict[tuple[str, int], int]:
    located = {(o.path, o.index - 1): o.line for o in plan.outcomes if o.line is not None}
    return {
        (fp.path, k): located[(fp.path, k)]
        for fp in files
        for k, hunk in enumerate(fp.hunks)
        if hunk.old_start is None and (fp.path, k) in located
    }


def _final(
    files: Mapping[str, bytes | None], changes: tuple[Change, ...]
) -> dict[str, bytes | None]:
    state = dict(files)
    state.update({c.path: c.content for c in changes})
    return state


def _from_git(
    patch: Patch, files: Mapping[str, bytes | None], git: GitOutcome
) -> tuple[Change, ...]:
    modes = {fp.path: fp.new_mode for fp in patch.files}
    return tuple(
        Change(path, data, modes.get(path))
        for path, data in git.files.items()
        if data != files.get(path)
    )


async def _three_way(root: Path, patch: Patch) -> tuple[Path, Path] | None:
    """The repository's dirs when `--3way` can work: every changed file names its blob."""
    if not all(fp.index for fp in patch.files if fp.kind != "create"):
        return None
    return await git_dirs(root)


async def _unified(
    root: Path, patch: Patch, files: Mapping[str, bytes | None], modes: Mapping[str, int]
) -> _Outcome:
    plan = plan_unified(patch.files, files)
    canonical = render(patch.files, _starts(patch.files, plan))
    out = _Outcome(False, "refused", plan.message, (), plan.outcomes, canonical)
    if plan.already:
        out.ok, out.method, out.message = True, "already-applied", "already applied"
        return out
    if plan.ambiguous:
        return out
    tried: list[tuple[Method, GitOutcome]] = [
        ("git-apply", await git_apply(files, modes, canonical))
    ]
    dirs = None if tried[0][1].ok else await _three_way(root, patch)
    if dirs is not None:
        text = render(patch.files, _starts(patch.files, plan), with_index=True)
        tried.append(("git-apply-3way", await git_apply(files, modes, text, three_way=dirs)))
    out.git = [f"{m}: {g.message}" if g.message else f"{m}: ok" for m, g in tried]
    method, git = tried[-1]
    if git.ok:
        final = _final(files, plan.changes)
        delegated = set(plan.delegated)
        agree = all(final.get(p) == data for p, data in git.files.items() if p not in delegated)
        if plan.ok and not agree:
            out.message = (
                "git and the context matcher place the hunks differently; refusing to guess"
            )
            return out
        from_git = _from_git(patch, files, git)
        if plan.ok:
            # The plan carries modes; git's bytes are only needed for binary files.
            changes = plan.changes + tuple(c for c in from_git if c.path in delegated)
        elif method == "git-apply-3way":
            changes = from_git
        else:
            return out
        out.ok, out.method, out.changes = True, method, changes
        out.message = f"applied with {method}"
        return out
    if plan.ok and not plan.delegated:
        out.ok, out.changes = True, plan.changes
        out.method = "whitespace-tolerant" if plan.tier == "whitespace" else "context-match"
        out.message = f"applied with {out.method}"
    elif plan.ok:
        out.message = f"{', '.join(plan.delegated)}: binary patches need git apply, which said: "
        out.message += git.message.splitlines()[0] if git.message else "no"
    return out


def _edits(patch: Patch, files: Mapping[str, bytes | None]) -> _Outcome:
    plan = plan_edits(patch.edits, files)
    method: Method = "search-replace" if patch.format == "search-replace" else "whole-file"
    if plan.already:
        return _Outcome(True, "already-applied", "already applied", (), plan.outcomes)
    if plan.error:
        return _Outcome(False, "refused", plan.error, (), plan.outcomes)
    return _Outcome(True, method, f"applied with {method}", plan.changes, plan.outcomes)


@dataclass(frozen=True, slots=True)
class _Prepared:
    root: Path
    patch: Patch
    high_risk: tuple[str, ...]
    files: dict[str, bytes | None]
    modes: dict[str, int]


def _prepare(worktree: Path, text: str, policy: PathPolicy) -> _Prepared:
    """Parse, check every path, then read the files (blocking I/O; run in a thread)."""
    root = worktree.resolve()
    patch = _parse_in(root, text)
    checked = check_paths(root, patch.paths, policy)
    files, modes = read_snapshot(root, checked.paths)
    return _Prepared(root, patch, checked.high_risk, files, modes)


def _refused(text: str, message: str, refusal: Refusal) -> ApplyResult:
    return ApplyResult(False, (), "refused", message, DebugBundle(text), (), refusal)


async def apply(
    worktree: Path, text: str, *, policy: PathPolicy | None = None, dry_run: bool = False
) -> ApplyResult:
    """Apply patch `text` to `worktree` atomically; never raises for a refused patch.

    Read `ok`, `method` and `message`; `raise_for_refusal()` turns a refusal into the
    matching `AmbientError`. With `dry_run` nothing is written.
    """
    try:
        prep = await asyncio.to_thread(_prepare, worktree, text, policy or PathPolicy())
        if prep.patch.format == "unified":
            out = await _unified(prep.root, prep.patch, prep.files, prep.modes)
        else:
            out = _edits(prep.patch, prep.files)
        if out.ok and out.changes and not dry_run:
            await asyncio.to_thread(write_changes, prep.root, out.changes)
    except PathNotAllowed as exc:
        return _refused(text, str(exc), "path")
    except PatchDoesNotApply as exc:
        return _refused(text, str(exc), "patch")
    except OSError as exc:
        where = exc.filename or worktree
        return _refused(text, f"{where}: {exc.strerror}; the worktree is unchanged", "patch")
    bundle = DebugBundle(text, out.normalized, prep.patch.format, out.outcomes, "\n".join(out.git))
    written = tuple(c.path for c in out.changes) if out.ok else ()
    return ApplyResult(
        out.ok, written, out.method, out.message, bundle, prep.high_risk, "" if out.ok else "patch"
    )


def apply_sync(
    worktree: Path, text: str, *, policy: PathPolicy | None = None, dry_run: bool = False
) -> ApplyResult:
    """`apply` for callers without an event loop (the CLI, the benchmark)."""
    return asyncio.run(apply(worktree, text, policy=policy, dry_run=dry_run))
