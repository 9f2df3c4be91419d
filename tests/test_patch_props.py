"""Properties over random files and edits (hypothesis): right or refused, never half done."""

from __future__ import annotations

import difflib
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.patch.apply import apply_sync, parse_patch
from bot.patch.plan import plan_unified

# A small alphabet makes repeated lines, hence contexts found in several places.
LINES = st.sampled_from(["a", "b", "c", "", "    d", "e = 1", "}", "\tf"])
FILES = st.lists(LINES, max_size=40)
EDITS = st.lists(
    st.tuples(st.sampled_from(["replace", "insert", "delete"]), st.integers(0, 60), LINES),
    min_size=1,
    max_size=6,
)
DAMAGES = st.sampled_from(["none", "crlf", "noprefix", "counts", "fence", "nofinalnl"])


def edited(lines: list[str], edits: list[tuple[str, int, str]]) -> list[str]:
    out = list(lines)
    for op, at, line in edits:
        i = at % (len(out) + 1)
        if op == "insert":
            out.insert(i, line + "!")
        elif out and i < len(out):
            if op == "delete":
                del out[i]
            else:
                out[i] = out[i] + " changed"
    return out


def unified(pre: list[str], post: list[str], context: int, name: str = "f.txt") -> str:
    diff = difflib.unified_diff(
        [ln + "\n" for ln in pre], [ln + "\n" for ln in post], f"a/{name}", f"b/{name}", n=context
    )
    return "".join(diff)


def damaged(text: str, damage: str) -> str:
    if damage == "crlf":
        return text.replace("\n", "\r\n")
    if damage == "noprefix":
        return text.replace("--- a/", "--- ").replace("+++ b/", "+++ ")
    if damage == "counts":
        return "\n".join(
            ln.replace(" @@", ",99 @@", 1) if ln.startswith("@@") else ln for ln in text.split("\n")
        )
    if damage == "fence":
        return f"Patch:\n```diff\n{text}```\nThanks.\n"
    if damage == "nofinalnl":
        return text.rstrip("\n")
    return text


def body(lines: list[str]) -> bytes:
    return "".join(ln + "\n" for ln in lines).encode()


@settings(max_examples=300, deadline=None)
@given(FILES, EDITS, st.integers(1, 3), DAMAGES)
def test_a_plan_is_exactly_the_edit_or_a_refusal(
    pre: list[str], edits: list[tuple[str, int, str]], context: int, damage: str
) -> None:
    post = edited(pre, edits)
    text = unified(pre, post, context)
    if not text:
        return
    patch = parse_patch(damaged(text, damage), {"f.txt": True})
    plan = plan_unified(patch.files, {"f.txt": body(pre)})
    if plan.ok and not plan.already:
        assert dict((c.path, c.content) for c in plan.changes) == {"f.txt": body(post)}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(FILES, FILES, EDITS, st.integers(0, 400), st.sampled_from(["", "x", "@@ -1 +1 @@\n-zz\n"]))
def test_a_refused_patch_leaves_the_tree_byte_identical(
    first: list[str], second: list[str], edits: list[tuple[str, int, str]], cut: int, junk: str
) -> None:
    # Two files: the first one's change is sound, the second one's is cut or corrupted.
    good = unified(first, edited(first, edits), 3, "one.txt")
    bad = unified(second, edited(second, edits), 3, "two.txt")
    bad = bad[: cut % (len(bad) + 1)] + junk
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "one.txt").write_bytes(body(first))
        (root / "two.txt").write_bytes(body(second))
        before = {p.name: p.read_bytes() for p in root.iterdir()}
        result = apply_sync(root, good + bad)
        after = {p.name: p.read_bytes() for p in root.iterdir()}
        if not result.ok:
            assert after == before
        else:
            assert set(after) == set(before)


def placements(pre: list[str], before: tuple[str, ...], after: tuple[str, ...]) -> set[bytes]:
    """Every file that applying the hunk at one of its exact places would give."""
    size = len(before)
    return {
        body(pre[:i] + list(after) + pre[i + size :])
        for i in range(len(pre) - size + 1)
        if tuple(pre[i : i + size]) == before
    }


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", ""]), max_size=14),
    st.tuples(st.sampled_from(["replace", "insert", "delete"]), st.integers(0, 20), LINES),
    st.integers(0, 2),
)
def test_one_hunk_without_numbers_applies_exactly_when_its_places_agree(
    pre: list[str], edit: tuple[str, int, str], context: int
) -> None:
    # With no line numbers and one hunk, nothing but the file text can single out a place:
    # the hunk applies if and only if every place it fits gives the same file.
    post = edited(pre, [edit])
    text = unified(pre, post, context)
    hunks = [ln for ln in text.split("\n") if ln.startswith("@@")]
    assume(len(hunks) == 1)
    patch = parse_patch(text.replace(hunks[0], "@@ @@"), {"f.txt": True})
    (hunk,) = patch.files[0].hunks
    assume(hunk.before)
    results = placements(pre, hunk.before, hunk.after)
    assert body(post) in results
    plan = plan_unified(patch.files, {"f.txt": body(pre)})
    if len(results) == 1:
        assert plan.ok, plan.message
        assert [(c.path, c.content) for c in plan.changes] == [("f.txt", body(post))]
    else:
        assert plan.already or not plan.ok
        assert plan.already or plan.ambiguous
