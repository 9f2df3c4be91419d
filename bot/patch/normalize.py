"""Pure normalisation: choose each file's strip level, and render the canonical git diff.

The canonical text has `diff --git a/… b/…` headers, hunk counts recomputed from the body,
`\\ No newline at end of file` markers where they belong, and a final newline, so that
`git apply -p1` reads exactly what the matcher reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.errors import PathNotAllowed
from bot.patch.model import FilePatch, Hunk, PatchMalformed
from bot.patch.parse import RawFile
from bot.patch.paths import clean_relative

__all__ = ["quote_path", "render", "resolve_paths"]

_MAX_STRIP = 3


def _strip(name: str | None, level: int) -> str | None:
    if name is None:
        return None
    parts = name.split("/")
    if level >= len(parts):
        return None
    return "/".join(parts[level:])


def _lexically_safe(path: str | None) -> bool:
    if path is None:
        return True
    try:
        clean_relative(path)
    except PathNotAllowed:
        return False
    return True


def _git_style(raw: RawFile) -> bool:
    old_ok = raw.old_name is None or raw.old_name.startswith("a/")
    new_ok = raw.new_name is None or raw.new_name.startswith("b/")
    return old_ok and new_ok


def _level(raw: RawFile, exists: Callable[[str], bool]) -> int:
    """The strip level at which the file the patch expects exists; else git's convention."""
    preferred = 1 if _git_style(raw) else 0
    order = [preferred, *(lv for lv in range(_MAX_STRIP + 1) if lv != preferred)]
    probe = raw.old_name if raw.old_name is not None and not raw.created else None
    if probe is None:
        return preferred
    for level in order:
        path = _strip(probe, level)
        # Without a rename, both names must agree at the chosen level.
        same = raw.rename or raw.new_name is None or _strip(raw.new_name, level) == path
        if path is not None and same and _lexically_safe(path) and exists(path):
            return level
    return preferred


def _clean(name: str | None, level: int, raw: RawFile) -> str | None:
    if name is None:
        return None
    path = _strip(name, level)
    if path is None:
        raise PatchMalformed(f"line {raw.line}: cannot find a file name in {name!r}")
    return clean_relative(path)


def resolve_paths(raws: Sequence[RawFile], exists: Callable[[str], bool]) -> tuple[FilePatch, ...]:
    """Turn raw file sections into file patches with clean relative paths.

    `exists(path)` says whether a relative path exists in the worktree; it is only asked
    about lexically safe paths. Raises `PathNotAllowed` for an unsafe name.
    """
    out: list[FilePatch] = []
    for raw in raws:
        level = _level(raw, exists)
        old = None if raw.created else _clean(raw.old_name, level, raw)
        new = None if raw.deleted else _clean(raw.new_name, level, raw)
        if old is None and new is None:
            raise PatchMalformed(f"line {raw.line}: a file section names no file")
        if old is not None and new is not None and old != new and not raw.rename:
            # `--- x.orig` / `+++ x` (diff -u) edits x. When only the '---' file exists,
            # it could be an edit or a rename: without a git header, refuse to guess.
            if not exists(new) or exists(old):
                raise PatchMalformed(
                    f"line {raw.line}: '---' names {old} and '+++' names {new}; use one name,"
                    " or a git header with 'rename from'/'rename to'"
                )
            old = new
        out.append(
            FilePatch(
                old_path=old,
                new_path=new,
                hunks=tuple(raw.hunks),
                old_mode=raw.old_mode,
                new_mode=raw.new_mode,
                binary=raw.binary,
                index=raw.index,
            )
        )
    _check_unique(out)
    return tuple(out)


def _check_unique(files: Sequence[FilePatch]) -> None:
    seen: set[str] = set()
    for fp in files:
        if fp.path in seen:
            raise PatchMalformed(f"{fp.path}: the patch changes this file in two sections")
        seen.add(fp.path)


def quote_path(path: str) -> str:
    """Quote a path the way git does when it holds a quote, a backslash or a control byte."""
    if not any(ch in path for ch in '"\\') and all(32 <= ord(ch) < 127 for ch in path):
        return path
    out = []
    for byte in path.encode("utf-8", errors="surrogateescape"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _hunk_text(hunk: Hunk, old_start: int, new_start: int) -> list[str]:
    old_len = len(hunk.before)
    new_len = len(hunk.after)
    # git writes the start of an empty side as the line before it.
    o = old_start if old_len else max(old_start - 1, 0)
    n = new_start if new_len else max(new_start - 1, 0)
    head = f"@@ -{o},{old_len} +{n},{new_len} @@"
    out = [head + (" " + hunk.section if hunk.section else "")]
    last_old = max((i for i, ln in enumerate(hunk.lines) if ln[:1] in (" ", "-")), default=-1)
    last_new = max((i for i, ln in enumerate(hunk.lines) if ln[:1] in (" ", "+")), default=-1)
    for i, line in enumerate(hunk.lines):
        out.append(line)
        if (hunk.old_no_newline and i == last_old) or (hunk.new_no_newline and i == last_new):
            out.append("\\ No newline at end of file")
    return out


def render(
    files: Sequence[FilePatch],
    starts: dict[tuple[str, int], int] | None = None,
    *,
    with_index: bool = False,
) -> str:
    """The canonical git diff of `files`; `starts` overrides a hunk's old start (1-based).

    Hunks without stated numbers get their start from `starts` (where the matcher found
    them) so that git searches from the right place. `with_index` keeps the `index` lines
    that `git apply --3way` needs.
    """
    out: list[str] = []
    for fp in files:
        a = quote_path("a/" + (fp.old_path or fp.path))
        b = quote_path("b/" + (fp.new_path or fp.path))
        out.append(f"diff --git {a} {b}")
        if fp.kind == "create":
            out.append(f"new file mode {fp.new_mode or '100644'}")
        elif fp.kind == "delete":
            out.append(f"deleted file mode {fp.old_mode or '100644'}")
        elif fp.old_mode and fp.new_mode and fp.old_mode != fp.new_mode:
            out += [f"old mode {fp.old_mode}", f"new mode {fp.new_mode}"]
        if fp.kind == "rename":
            out += [f"rename from {quote_path(fp.old_path or '')}"]
            out += [f"rename to {quote_path(fp.new_path or '')}"]
        if with_index and fp.index:
            out.append(f"index {fp.index}")
        if not fp.hunks:
            continue
        out.append("--- " + (a if fp.old_path else "/dev/null"))
        out.append("+++ " + (b if fp.new_path else "/dev/null"))
        shift = 0
        for k, hunk in enumerate(fp.hunks):
            old_start = (starts or {}).get((fp.path, k), hunk.old_start or 1)
            if fp.kind == "create":
                old_start = 0
            out += _hunk_text(hunk, old_start, max(old_start + shift, 1 if hunk.after else 0))
            shift += len(hunk.after) - len(hunk.before)
    return "\n".join(out) + "\n" if out else ""
