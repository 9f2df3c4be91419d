"""Parsing and normalising unified diffs the way models write them (one test per quirk)."""

from __future__ import annotations

import pytest

from bot.errors import PathNotAllowed
from bot.patch.apply import parse_patch
from bot.patch.model import PatchMalformed
from bot.patch.normalize import render
from bot.patch.parse import parse_unified, split_lines, unquote

CLEAN = """\
diff --git a/src/app.py b/src/app.py
index 83db48f..bf269f4 100644
--- a/src/app.py
+++ b/src/app.py
@@ -1,3 +1,3 @@
 import os
-x = 1
+x = 2
 y = 3
"""


def test_clean_git_diff() -> None:
    (raw,) = parse_unified(CLEAN)
    assert (raw.old_name, raw.new_name, raw.index) == (
        "a/src/app.py",
        "b/src/app.py",
        "83db48f..bf269f4",
    )
    (hunk,) = raw.hunks
    assert hunk.before == ("import os", "x = 1", "y = 3")
    assert hunk.after == ("import os", "x = 2", "y = 3")
    assert (hunk.old_start, hunk.new_start) == (1, 1)


def test_prose_and_fences_around_the_diff_are_ignored() -> None:
    text = "Sure, here you go:\n\n```diff\n" + CLEAN + "```\n\nThat fixes it.\n"
    (raw,) = parse_unified(text)
    assert raw.hunks[0].lines == (" import os", "-x = 1", "+x = 2", " y = 3")


def test_markdown_code_fence_inside_a_hunk_is_a_context_line() -> None:
    text = "--- a/README.md\n+++ b/README.md\n@@ -1,3 +1,3 @@\n ```console\n-$ old\n+$ new\n ```\n"
    (raw,) = parse_unified(text)
    assert raw.hunks[0].before == ("```console", "$ old", "```")


def test_crlf_patch_text_is_read_as_lf() -> None:
    (raw,) = parse_unified(CLEAN.replace("\n", "\r\n"))
    assert raw.hunks[0].after == ("import os", "x = 2", "y = 3")


def test_crs_in_content_lines_of_an_lf_diff_belong_to_the_file() -> None:
    lines = split_lines("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\r\n+b\r\n")
    assert lines[-2:] == ["-a\r", "+b\r"]


def test_wrong_hunk_counts_are_recomputed_from_the_body() -> None:
    text = CLEAN.replace("@@ -1,3 +1,3 @@", "@@ -1,7 +1,2 @@")
    (raw,) = parse_unified(text)
    assert len(raw.hunks[0].before) == 3
    assert "@@ -1,3 +1,3 @@" in render(parse_patch(text, {"src/app.py": True}).files)


def test_hunk_header_without_numbers() -> None:
    (raw,) = parse_unified("--- a/f\n+++ b/f\n@@ ... @@\n a\n-b\n+c\n")
    assert raw.hunks[0].old_start is None


def test_missing_final_newline_of_the_patch_text() -> None:
    (raw,) = parse_unified(CLEAN.rstrip("\n"))
    assert raw.hunks[0].lines[-1] == " y = 3"


def test_blank_context_lines_written_as_empty_lines() -> None:
    text = "--- a/f\n+++ b/f\n@@ -1,4 +1,4 @@\n a\n\n-b\n+c\n d\n\nSome prose after.\n"
    (raw,) = parse_unified(text)
    assert raw.hunks[0].lines == (" a", " ", "-b", "+c", " d")


def test_missing_diff_git_and_index_lines_are_rebuilt() -> None:
    text = "--- src/app.py\n+++ src/app.py\n@@ -1,3 +1,3 @@\n import os\n-x = 1\n+x = 2\n y = 3\n"
    canonical = render(parse_patch(text, {"src/app.py": True}).files)
    assert canonical.startswith("diff --git a/src/app.py b/src/app.py\n--- a/src/app.py\n")


@pytest.mark.parametrize(
    ("old", "new", "exists", "expected"),
    [
        ("a/src/app.py", "b/src/app.py", {"src/app.py"}, "src/app.py"),
        ("src/app.py", "src/app.py", {"src/app.py"}, "src/app.py"),
        ("a/a/app.py", "b/a/app.py", {"a/app.py"}, "a/app.py"),
        ("a/app.py", "a/app.py", {"a/app.py"}, "a/app.py"),
        ("repo/src/app.py", "repo/src/app.py", {"src/app.py"}, "src/app.py"),
    ],
)
def test_strip_level_is_chosen_by_which_paths_exist(
    old: str, new: str, exists: set[str], expected: str
) -> None:
    text = f"--- {old}\n+++ {new}\n@@ -1 +1 @@\n-x\n+y\n"
    (fp,) = parse_patch(text, dict.fromkeys(exists, True)).files
    assert fp.path == expected


def test_creation_deletion_and_rename_headers() -> None:
    text = (
        "diff --git a/new.txt b/new.txt\nnew file mode 100755\n--- /dev/null\n+++ b/new.txt\n"
        "@@ -0,0 +1,2 @@\n+one\n+two\n"
        "diff --git a/old.txt b/old.txt\ndeleted file mode 100644\n--- a/old.txt\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-gone\n"
        "diff --git a/a.txt b/b.txt\nsimilarity index 100%\nrename from a.txt\nrename to b.txt\n"
    )
    files = parse_patch(text, {"old.txt": True, "a.txt": True}).files
    assert [(f.kind, f.old_path, f.new_path) for f in files] == [
        ("create", None, "new.txt"),
        ("delete", "old.txt", None),
        ("rename", "a.txt", "b.txt"),
    ]
    assert files[0].new_mode == "100755"


def test_no_newline_markers() -> None:
    text = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n"
    (raw,) = parse_unified(text)
    assert raw.hunks[0].old_no_newline
    assert not raw.hunks[0].new_no_newline


def test_quoted_paths_are_unquoted() -> None:
    assert unquote('"a/caf\\303\\251 \\"x\\".txt"') == 'a/café "x".txt'
    name = '"a/caf\\303\\251" "b/caf\\303\\251"'
    text = f'diff --git {name}\n--- "a/caf\\303\\251"\n+++ "b/caf\\303\\251"\n@@ -1 +1 @@\n-a\n+b\n'
    (fp,) = parse_patch(text, {"café": True}).files
    assert fp.path == "café"


def test_a_line_without_prefix_inside_a_fenced_hunk_is_refused() -> None:
    text = "```diff\n--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\ndef lost_its_space():\n-b\n+c\n```\n"
    with pytest.raises(PatchMalformed, match="no ' ', '\\+' or '-' prefix"):
        parse_unified(text)


def test_a_hunk_cut_short_against_its_counts_is_refused() -> None:
    text = "--- a/f\n+++ b/f\n@@ -1,4 +1,4 @@\n a\n-b\n+c\nthis line lost its prefix\n d\n"
    with pytest.raises(PatchMalformed, match="prefix"):
        parse_unified(text)


def test_removed_and_added_lines_that_look_like_headers() -> None:
    text = (
        "--- a/f.sql\n+++ b/f.sql\n@@ -1,3 +1,3 @@\n select 1;\n--- old comment\n+++ new\n end;\n"
    )
    (raw,) = parse_unified(text)
    assert raw.hunks[0].before == ("select 1;", "-- old comment", "end;")
    assert raw.hunks[0].after == ("select 1;", "++ new", "end;")


def test_orig_file_convention_edits_the_existing_file() -> None:
    text = "--- app.py.orig\n+++ app.py\n@@ -1 +1 @@\n-a\n+b\n"
    (fp,) = parse_patch(text, {"app.py": True}).files
    assert (fp.kind, fp.path) == ("modify", "app.py")


def test_different_names_without_a_git_header_are_refused_when_it_could_be_a_rename() -> None:
    text = "--- a/old.py\n+++ b/new.py\n@@ -1 +1 @@\n-a\n+b\n"
    with pytest.raises(PatchMalformed, match="rename"):
        parse_patch(text, {"old.py": True})


def test_unsafe_names_are_refused_while_parsing() -> None:
    with pytest.raises(PathNotAllowed, match=r"'\.\.'"):
        parse_patch("--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n", {})


def test_same_file_twice_is_refused() -> None:
    with pytest.raises(PatchMalformed, match="two sections"):
        parse_patch(CLEAN + CLEAN, {"src/app.py": True})


def test_combined_diffs_are_refused() -> None:
    with pytest.raises(PatchMalformed, match="combined"):
        parse_unified("--- a/f\n+++ b/f\n@@@ -1,1 -1,1 +1,1 @@@\n")


def test_text_without_any_patch_is_refused() -> None:
    with pytest.raises(PatchMalformed, match="no unified diff"):
        parse_patch("I could not find the bug, sorry.")


def test_a_file_header_after_a_complete_hunk_starts_the_next_file() -> None:
    # An empty file has no hunk, so no '@@' follows its header; '/dev/null' and the counts
    # of the hunk before it (complete, as git reads them) both say it is a header.
    text = "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+a\n+b\n--- /dev/null\n+++ b/empty.txt\n"
    new, empty = parse_unified(text)
    assert new.hunks[0].lines == ("+a", "+b")
    assert (empty.old_name, empty.new_name, empty.created, empty.hunks) == (
        None,
        "b/empty.txt",
        True,
        [],
    )


def test_a_dev_null_header_ends_a_hunk_whose_counts_are_wrong() -> None:
    text = "--- a/x.py\n+++ b/x.py\n@@ -1,9 +1,9 @@\n a\n-b\n+B\n--- a/gone.txt\n+++ /dev/null\n"
    edit, gone = parse_unified(text)
    assert edit.hunks[0].lines == (" a", "-b", "+B")
    assert (gone.old_name, gone.deleted) == ("a/gone.txt", True)


def test_a_header_after_a_complete_hunk_is_not_read_as_its_lines() -> None:
    text = "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n--- a/y.py\n+++ b/y.py\n"
    with pytest.raises(PatchMalformed, match="line 7: a file section has no hunks"):
        parse_unified(text)
