"""Damaged variants of the clean corpus, generated deterministically (seeded per case).

Each clean case (a real diff with its exact pre- and post-images, see PROVENANCE.md) yields
the damages models inflict, alone and combined, plus "drift" (lines added to the file
above a hunk since the model saw it) and "already" (the patch was applied before). Those
are recoverable: the intent is clear and the expected tree is known. Two more are not:
"gone" (a line the patch removes was changed) and "ambiguous" (the hunk's context occurs
twice and the line numbers point at neither); the only right answer is a clean refusal.

Used by the benchmark (bench/patch_apply.py) and the tests; importable by file path.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
_GIT_ONLY = (
    "diff --git ",
    "index ",
    "similarity index ",
    "new file mode ",
    "deleted file mode ",
    "old mode ",
    "new mode ",
    "dissimilarity index ",
)


@dataclass(frozen=True)
class Case:
    """One input: the patch text, the files before, and the files expected after.

    `expected` is None when the only right outcome is a refusal (`recoverable` False).
    """

    id: str
    variant: str
    patch: str
    pre: dict[str, str]
    expected: dict[str, str] | None

    @property
    def recoverable(self) -> bool:
        return self.expected is not None


@dataclass
class _Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    section: str
    body: list[str]

    def header(self) -> str:
        return f"@@ -{self.old_start},{self.old_len} +{self.new_start},{self.new_len} @@" + (
            self.section
        )


@dataclass
class _Section:
    head: list[str]
    hunks: list[_Hunk]
    old: str | None
    new: str | None

    @property
    def kind(self) -> str:
        if self.old is None:
            return "create"
        if self.new is None:
            return "delete"
        return "rename" if self.old != self.new else "modify"

    def text(self) -> str:
        out = list(self.head)
        for h in self.hunks:
            out.append(h.header())
            out.extend(h.body)
        return "\n".join(out) + "\n"


def _sections(patch: str) -> list[_Section]:
    out: list[_Section] = []
    for line in patch[:-1].split("\n") if patch.endswith("\n") else patch.split("\n"):
        if line.startswith("diff --git "):
            out.append(_Section([line], [], None, None))
            continue
        sec = out[-1]
        match = _HUNK.match(line)
        if match:
            a, b, c, d, s = match.groups()
            sec.hunks.append(_Hunk(int(a), int(b or 1), int(c), int(d or 1), s, []))
        elif sec.hunks:
            sec.hunks[-1].body.append(line)
        else:
            sec.head.append(line)
            if line.startswith("--- "):
                sec.old = None if line == "--- /dev/null" else line[6:]
            elif line.startswith("+++ "):
                sec.new = None if line == "+++ /dev/null" else line[6:]
            elif line.startswith("rename from "):
                sec.old = line[len("rename from ") :]
            elif line.startswith("rename to "):
                sec.new = line[len("rename to ") :]
    return out


def _join(sections: list[_Section]) -> str:
    return "".join(s.text() for s in sections)


# --- damages to the text -------------------------------------------------------------------


def fence(text: str, rng: random.Random) -> str:
    intro = rng.choice(["Here is the fix:", "Sure! The patch below should do it.", "Patch:"])
    return f"{intro}\n\n```diff\n{text}```\n\nThis keeps the behaviour otherwise unchanged.\n"


def crlf(text: str, rng: random.Random) -> str:
    return text.replace("\n", "\r\n")


def noprefix(text: str, rng: random.Random) -> str:
    out = []
    for line in text.split("\n"):
        if line.startswith("diff --git a/"):
            line = line.replace("diff --git a/", "diff --git ", 1).replace(" b/", " ", 1)
        elif line.startswith(("--- a/", "+++ b/")):
            line = line[:4] + line[6:]
        out.append(line)
    return "\n".join(out)


def nofinalnl(text: str, rng: random.Random) -> str:
    return text[:-1] if text.endswith("\n") else text


def _hunkwise(fn: Callable[[_Hunk, random.Random], None]) -> Callable[[str, random.Random], str]:
    def damage(text: str, rng: random.Random) -> str:
        secs = _sections(text)
        for sec in secs:
            for h in sec.hunks:
                fn(h, rng)
        return _join(secs)

    return damage


def _counts(h: _Hunk, rng: random.Random) -> None:
    h.old_len = max(h.old_len + rng.choice([-2, -1, 1, 2, 3]), 0)
    h.new_len = max(h.new_len + rng.choice([-2, -1, 1, 2, 4]), 0)


def _lineno(h: _Hunk, rng: random.Random) -> None:
    shift = rng.choice([-1, 1]) * rng.randint(3, 25)
    h.old_start = max(h.old_start + shift, 2)
    h.new_start = max(h.new_start + shift, 2)


def _ws(h: _Hunk, rng: random.Random) -> None:
    out = []
    for line in h.body:
        if line[:1] == " " and not line[1:].strip():
            out.append("")
        elif line[:1] == " " and rng.random() < 0.5:
            out.append(line.rstrip() + " ")
        else:
            out.append(line)
    h.body = out


def noheader(text: str, rng: random.Random) -> str:
    return "".join(ln + "\n" for ln in text.split("\n")[:-1] if not ln.startswith(_GIT_ONLY))


counts = _hunkwise(_counts)
lineno = _hunkwise(_lineno)
wsdrift = _hunkwise(_ws)


def indent(text: str, rng: random.Random) -> str:
    secs = _sections(text)
    for sec in secs:
        if sec.kind in ("modify", "rename"):
            for h in sec.hunks:
                h.body = [
                    ln[0] + "    " + ln[1:] if ln[1:].strip() and ln[:1] in " +-" else ln
                    for ln in h.body
                ]
    return _join(secs)


TEXT_DAMAGES: dict[str, Callable[[str, random.Random], str]] = {
    "fence": fence,
    "crlf": crlf,
    "noprefix": noprefix,
    "counts": counts,
    "lineno": lineno,
    "noheader": noheader,
    "nofinalnl": nofinalnl,
    "wsdrift": wsdrift,
    "indent": indent,
}
#: Order in which combined damages are applied (body first, then headers, then the wrapping).
ORDER = (
    "indent",
    "wsdrift",
    "counts",
    "lineno",
    "noheader",
    "noprefix",
    "crlf",
    "fence",
    "nofinalnl",
)
COMBOS: dict[str, tuple[str, ...]] = {
    "all-text": (
        "wsdrift",
        "counts",
        "lineno",
        "noheader",
        "noprefix",
        "crlf",
        "nofinalnl",
        "fence",
    ),
    "counts+lineno": ("counts", "lineno"),
    "noprefix+crlf+fence": ("noprefix", "crlf", "fence"),
    "indent+counts": ("indent", "counts"),
}


# --- changes to the files --------------------------------------------------------------------


def _lines(text: str) -> tuple[list[str], bool]:
    final = text.endswith("\n")
    return (text[:-1] if final else text).split("\n"), final


def _unlines(lines: list[str], final: bool) -> str:
    return "\n".join(lines) + ("\n" if final else "")


def _drift(sec: _Section, pre: dict[str, str], post: dict[str, str], rng: random.Random) -> None:
    assert sec.old is not None and sec.new is not None
    a, a_final = _lines(pre[sec.old])
    b, b_final = _lines(post[sec.new])
    cr = "\r" if a and sum(ln.endswith("\r") for ln in a) > len(a) // 2 else ""
    inserts: list[tuple[int, int]] = []
    shift = 0
    prev_end = 0
    for h in sec.hunks[:2]:
        start = h.old_start - 1
        if start >= prev_end:
            idx = rng.randint(prev_end, start)
            inserts.append((idx, idx + shift))
        prev_end = h.old_start - 1 + h.old_len
        shift += h.new_len - h.old_len
    for n, (ia, ib) in reversed(list(enumerate(inserts))):
        k = rng.randint(2, 8)
        new = [f"# drift {n}.{j}: a line added after the patch was written{cr}" for j in range(k)]
        a[ia:ia] = new
        b[ib:ib] = new
    pre[sec.old] = _unlines(a, a_final)
    post[sec.new] = _unlines(b, b_final)


def _editable(secs: list[_Section]) -> list[_Section]:
    return [s for s in secs if s.kind in ("modify", "rename") and s.hunks]


def _already(pre: dict[str, str], post: dict[str, str]) -> dict[str, str]:
    return dict(post)


def _gone(sec: _Section, pre: dict[str, str]) -> bool:
    assert sec.old is not None
    lines, final = _lines(pre[sec.old])
    h = sec.hunks[0]
    pos = h.old_start - 1
    targets = []
    for line in h.body:
        if line[:1] in (" ", "-"):
            if line[:1] == "-" and line[1:].strip():
                targets.append(pos)
            pos += 1
    if not targets:
        return False
    for t in targets:
        lines[t] = lines[t] + " + changed since"
    pre[sec.old] = _unlines(lines, final)
    return True


def _append_copy(sec: _Section, pre: dict[str, str], post: dict[str, str]) -> bool:
    """Append a copy of the first hunk's pre-image at the end of the file, in both trees.

    The line numbers and the order of the hunks still single out the original.
    """
    assert sec.old is not None and sec.new is not None
    h = sec.hunks[0]
    # A hunk at the start or end of the file is anchored there; a copy would not confuse it.
    if h.old_start <= 1 or not h.body or h.body[-1][:1] != " ":
        return False
    block = [ln[1:] for ln in h.body if ln[:1] in (" ", "-")]
    for tree, path in ((pre, sec.old), (post, sec.new)):
        lines, final = _lines(tree[path])
        if not final:
            return False
        tree[path] = _unlines(lines + block, True)
    return True


def _copy_after(sec: _Section, pre: dict[str, str]) -> int:
    """Put a copy of the first hunk's pre-image right after it; return the copy's size.

    The order of the hunks cannot tell the two apart (both lie before the next hunk).
    """
    assert sec.old is not None
    h = sec.hunks[0]
    if h.old_start <= 1 or not h.body or h.body[-1][:1] != " ":
        return 0
    block = [ln[1:] for ln in h.body if ln[:1] in (" ", "-")]
    a, a_final = _lines(pre[sec.old])
    at = h.old_start - 1 + h.old_len
    a[at:at] = block
    pre[sec.old] = _unlines(a, a_final)
    return len(block)


def _mislead(sec: _Section, size: int, rng: random.Random) -> None:
    """Shift the first hunk's line numbers so that they point at neither copy, even when
    shifted by the drift the next hunk shows."""
    h = sec.hunks[0]
    starts = {h.old_start - 1, h.old_start - 1 + size}
    shift = rng.choice(
        [s for s in range(4, 21) if not {h.old_start - 1 + s, h.old_start - 1 + s + size} & starts]
    )
    h.old_start += shift
    h.new_start += shift


def _damage(text: str, names: tuple[str, ...], rng: random.Random) -> str:
    for name in ORDER:
        if name in names:
            text = TEXT_DAMAGES[name](text, rng)
    return text


def variants(clean: dict[str, object]) -> Iterator[Case]:
    """Every variant of one clean case, the same on every run."""
    cid = str(clean["id"])
    patch = str(clean["patch"])
    pre: dict[str, str] = dict(clean["pre"])  # type: ignore[call-overload]
    post: dict[str, str] = dict(clean["post"])  # type: ignore[call-overload]
    secs = _sections(patch)
    editable = _editable(secs)
    has_rename = any(s.kind == "rename" for s in secs) or any(not s.hunks for s in secs)

    def rng(tag: str) -> random.Random:
        return random.Random(f"{cid}/{tag}")

    def fits(names: tuple[str, ...]) -> bool:
        # A rename cannot be told without its git header; indent needs a file to edit.
        return not ((has_rename and "noheader" in names) or ("indent" in names and not editable))

    yield Case(f"{cid}/clean", "clean", patch, pre, post)
    for name in TEXT_DAMAGES:
        if not fits((name,)):
            continue
        yield Case(f"{cid}/{name}", name, _damage(patch, (name,), rng(name)), pre, post)
    for combo, names in COMBOS.items():
        if fits(names):
            yield Case(f"{cid}/{combo}", combo, _damage(patch, names, rng(combo)), pre, post)
    yield Case(f"{cid}/already", "already", patch, _already(pre, post), post)
    if editable:
        yield from _file_variants(cid, patch, pre, post, fits)


def _file_variants(
    cid: str,
    patch: str,
    pre: dict[str, str],
    post: dict[str, str],
    fits: Callable[[tuple[str, ...]], bool],
) -> Iterator[Case]:
    """The variants that change the files: drift, copies of the context, changed lines."""
    editable = _editable(_sections(patch))

    def rng(tag: str) -> random.Random:
        return random.Random(f"{cid}/{tag}")

    for name, names in (
        ("drift", ()),
        ("drift+all-text", COMBOS["all-text"]),
        ("drift+indent+fence", ("indent", "fence")),
    ):
        if not fits(names):
            continue
        dpre, dpost = dict(pre), dict(post)
        r = rng(name)
        for sec in editable:
            _drift(sec, dpre, dpost, r)
        yield Case(f"{cid}/{name}", name, _damage(patch, names, r), dpre, dpost)
    dpre, dpost = dict(pre), dict(post)
    if _append_copy(editable[0], dpre, dpost):
        yield Case(f"{cid}/dup-hinted", "dup-hinted", patch, dpre, dpost)
    apre = dict(pre)
    size = _copy_after(editable[0], apre)
    if size:
        secs2 = _sections(patch)
        _mislead(_editable(secs2)[0], size, rng("ambiguous"))
        yield Case(f"{cid}/ambiguous", "ambiguous", _join(secs2), apre, None)
    gpre = dict(pre)
    if _gone(editable[0], gpre):
        yield Case(f"{cid}/gone", "gone", patch, gpre, None)


def clean_cases(root: Path = HERE) -> list[dict[str, object]]:
    """The clean cases of every release pair in `root/clean/`, in a stable order."""
    out: list[dict[str, object]] = []
    for path in sorted((root / "clean").glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        out.extend(record["cases"])
    return out


def all_cases(root: Path = HERE) -> list[Case]:
    """Every variant of every clean case."""
    return [case for clean in clean_cases(root) for case in variants(clean)]


if __name__ == "__main__":
    import collections
    import sys

    tally = collections.Counter(c.variant for c in all_cases())
    for key, value in sorted(tally.items()):
        sys.stdout.write(f"{key:24} {value}\n")
    sys.stdout.write(f"total {sum(tally.values())}\n")
