"""Applying patches to real directories: every model quirk, every format, atomicity, safety."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.errors import PatchDoesNotApply, PathNotAllowed
from bot.patch.apply import apply, apply_sync
from bot.patch.paths import PathPolicy

APP = "".join(f"line {i}\n" for i in range(1, 31))
DIFF = """\
diff --git a/src/app.txt b/src/app.txt
--- a/src/app.txt
+++ b/src/app.txt
@@ -8,7 +8,7 @@
 line 8
 line 9
 line 10
-line 11
+LINE 11
 line 12
 line 13
 line 14
"""
AFTER = APP.replace("line 11\n", "LINE 11\n")


def snapshot(root: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            out[rel] = path.read_bytes()
        elif path.is_dir():
            out[rel + "/"] = "dir"
    return out


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.txt").write_text(APP)
    (root / "README.md").write_text("# demo\n\nSome text.\n")
    return root


async def test_clean_diff_applies_with_git(repo: Path) -> None:
    result = await apply(repo, DIFF)
    assert (result.ok, result.method, result.files) == (True, "git-apply", ("src/app.txt",))
    assert (repo / "src" / "app.txt").read_text() == AFTER


@pytest.mark.parametrize(
    ("damage", "method"),
    [
        (lambda d: f"Here is the fix:\n\n```diff\n{d}```\nDone.\n", "git-apply"),
        (lambda d: d.replace("\n", "\r\n"), "git-apply"),
        (lambda d: d.replace("a/src", "src").replace("b/src", "src"), "git-apply"),
        (lambda d: d.replace("@@ -8,7 +8,7 @@", "@@ -8,3 +8,9 @@"), "git-apply"),
        (lambda d: d.replace("@@ -8,7 +8,7 @@", "@@ -19,7 +19,7 @@"), "git-apply"),
        (lambda d: d.split("\n", 1)[1], "git-apply"),
        (lambda d: d.rstrip("\n"), "git-apply"),
        (lambda d: d.replace(" line 9\n", " line 9   \n"), "whitespace-tolerant"),
        (
            lambda d: (
                d.replace("\n ", "\n     ")
                .replace("-line", "-    line")
                .replace("+LINE", "+    LINE")
            ),
            "whitespace-tolerant",
        ),
        (lambda d: d.replace("@@ -8,7 +8,7 @@", "@@ ... @@"), "git-apply"),
    ],
    ids=[
        "fence",
        "crlf",
        "noprefix",
        "counts",
        "lineno",
        "noheader",
        "nofinalnl",
        "ws",
        "indent",
        "nonumbers",
    ],
)
async def test_model_quirks(repo: Path, damage: object, method: str) -> None:
    result = await apply(repo, damage(DIFF))  # type: ignore[operator]
    assert result.ok, result.message
    assert result.method == method
    assert (repo / "src" / "app.txt").read_text() == AFTER


async def test_file_changed_since_the_model_saw_it(repo: Path) -> None:
    grown = "# new header\n# another\n" + APP
    (repo / "src" / "app.txt").write_text(grown)
    result = await apply(repo, DIFF)
    assert result.ok
    assert (repo / "src" / "app.txt").read_text() == "# new header\n# another\n" + AFTER


async def test_already_applied_is_ok_and_writes_nothing(repo: Path) -> None:
    assert (await apply(repo, DIFF)).ok
    again = await apply(repo, DIFF)
    assert (again.ok, again.method, again.files, again.message) == (
        True,
        "already-applied",
        (),
        "already applied",
    )


async def test_refusal_leaves_the_tree_byte_identical_and_says_where(repo: Path) -> None:
    (repo / "src" / "app.txt").write_text(APP.replace("line 10\n", "line ten\n"))
    before = snapshot(repo)
    result = await apply(repo, DIFF)
    assert not result.ok
    assert result.method == "refused"
    assert snapshot(repo) == before
    assert result.message.startswith("hunk 1 of 1 in src/app.txt (@@ -8,7 +8,7 @@): ")
    assert "10| line ten" in result.message
    assert result.debug_bundle.raw == DIFF
    assert result.debug_bundle.normalized.startswith("diff --git a/src/app.txt")
    assert [h.status for h in result.debug_bundle.hunks] == ["not-found"]
    with pytest.raises(PatchDoesNotApply, match="hunk 1 of 1"):
        result.raise_for_refusal()


async def test_one_failing_file_refuses_the_whole_patch(repo: Path) -> None:
    other = (
        "--- a/README.md\n+++ b/README.md\n@@ -1,3 +1,3 @@\n # demo\n \n-No such text.\n+Changed.\n"
    )
    before = snapshot(repo)
    result = await apply(repo, DIFF + other)
    assert not result.ok
    assert "README.md" in result.message
    assert snapshot(repo) == before


async def test_create_delete_and_rename(repo: Path) -> None:
    (repo / "old").mkdir()
    (repo / "old" / "gone.txt").write_text("bye\n")
    (repo / "docs.txt").write_text("a\nb\nc\n")
    patch = (
        "diff --git a/pkg/sub/new.py b/pkg/sub/new.py\nnew file mode 100755\n--- /dev/null\n"
        "+++ b/pkg/sub/new.py\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+echo hi\n"
        "diff --git a/old/gone.txt b/old/gone.txt\ndeleted file mode 100644\n--- a/old/gone.txt\n"
        "+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
        "diff --git a/docs.txt b/guide.txt\nsimilarity index 80%\nrename from docs.txt\n"
        "rename to guide.txt\n--- a/docs.txt\n+++ b/guide.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
    )
    result = await apply(repo, patch)
    assert result.ok, result.message
    assert (repo / "pkg" / "sub" / "new.py").read_text() == "#!/bin/sh\necho hi\n"
    assert os.access(repo / "pkg" / "sub" / "new.py", os.X_OK)
    assert not (repo / "old").exists()
    assert not (repo / "docs.txt").exists()
    assert (repo / "guide.txt").read_text() == "a\nB\nc\n"


async def test_creating_an_existing_file_is_refused(repo: Path) -> None:
    patch = "--- /dev/null\n+++ b/README.md\n@@ -0,0 +1 @@\n+other\n"
    result = await apply(repo, patch)
    assert not result.ok
    assert "already exists" in result.message


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../outside.txt", "'..'"),
        ("/etc/passwd", "absolute"),
        (".git/config", ".git/"),
        (".env", "forbidden"),
        ("keys/server.pem", "forbidden"),
        (".github/workflows/ci.yml", "workflow"),
    ],
)
async def test_unsafe_paths_refuse_the_whole_patch(repo: Path, path: str, why: str) -> None:
    patch = DIFF + f"--- /dev/null\n+++ {path}\n@@ -0,0 +1 @@\n+x\n"
    before = snapshot(repo)
    result = await apply(repo, patch)
    assert not result.ok
    assert result.refusal == "path"
    assert why in result.message
    assert snapshot(repo) == before
    with pytest.raises(PathNotAllowed):
        result.raise_for_refusal()


async def test_symlink_out_of_the_worktree_is_refused(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f.txt").write_text("x\n")
    os.symlink(tmp_path / "elsewhere", repo / "link")
    result = await apply(repo, "--- a/link/f.txt\n+++ b/link/f.txt\n@@ -1 +1 @@\n-x\n+y\n")
    assert not result.ok
    assert "outside the worktree" in result.message
    assert (tmp_path / "elsewhere" / "f.txt").read_text() == "x\n"


async def test_a_symlinked_file_is_not_edited_through(repo: Path) -> None:
    os.symlink("src/app.txt", repo / "alias.txt")
    result = await apply(repo, DIFF.replace("src/app.txt", "alias.txt"))
    assert not result.ok
    assert "symbolic link" in result.message
    assert (repo / "src" / "app.txt").read_text() == APP


async def test_workflow_change_allowed_by_policy_is_high_risk(repo: Path) -> None:
    patch = "--- /dev/null\n+++ b/.github/workflows/ci.yml\n@@ -0,0 +1 @@\n+on: push\n"
    result = await apply(repo, patch, policy=PathPolicy(allow_workflow_changes=True))
    assert result.ok
    assert result.high_risk == (".github/workflows/ci.yml",)


async def test_dry_run_writes_nothing(repo: Path) -> None:
    before = snapshot(repo)
    result = await apply(repo, DIFF, dry_run=True)
    assert result.ok
    assert result.files == ("src/app.txt",)
    assert snapshot(repo) == before


# --- SEARCH/REPLACE blocks and whole files ----------------------------------------------------

SR = """I will change two lines.

src/app.txt
```
<<<<<<< SEARCH
line 11
line 12
=======
LINE 11
line 12
>>>>>>> REPLACE
```
"""


async def test_search_replace_block(repo: Path) -> None:
    result = await apply(repo, SR)
    assert (result.ok, result.method) == (True, "search-replace")
    assert (repo / "src" / "app.txt").read_text() == AFTER


async def test_search_replace_blocks_apply_in_order_and_reuse_the_path(repo: Path) -> None:
    text = SR + "<<<<<<< SEARCH\nLINE 11\n=======\nLINE ELEVEN\n>>>>>>> REPLACE\n"
    result = await apply(repo, text)
    assert result.ok, result.message
    assert "LINE ELEVEN\nline 12\n" in (repo / "src" / "app.txt").read_text()


async def test_search_replace_creates_a_file_with_an_empty_search(repo: Path) -> None:
    text = "notes/todo.md\n<<<<<<< SEARCH\n=======\n- write docs\n>>>>>>> REPLACE\n"
    result = await apply(repo, text)
    assert result.ok
    assert (repo / "notes" / "todo.md").read_text() == "- write docs\n"


async def test_search_replace_tolerates_indentation(repo: Path) -> None:
    (repo / "m.py").write_text("class A:\n    def f(self):\n        return 1\n")
    text = (
        "m.py\n<<<<<<< SEARCH\ndef f(self):\n    return 1\n"
        "=======\ndef f(self):\n    return 2\n>>>>>>> REPLACE\n"
    )
    result = await apply(repo, text)
    assert result.ok
    assert (repo / "m.py").read_text() == "class A:\n    def f(self):\n        return 2\n"


async def test_search_found_twice_is_refused(repo: Path) -> None:
    (repo / "dup.txt").write_text("x = 1\ny\nx = 1\n")
    result = await apply(repo, "dup.txt\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n")
    assert not result.ok
    assert "occurs at lines 1, 3" in result.message
    assert (repo / "dup.txt").read_text() == "x = 1\ny\nx = 1\n"


async def test_search_not_found_says_what_is_there(repo: Path) -> None:
    text = SR + "README.md\n<<<<<<< SEARCH\n# demo\n\nSome texts.\n=======\nX\n>>>>>>> REPLACE\n"
    before = snapshot(repo)
    result = await apply(repo, text)
    assert not result.ok
    assert snapshot(repo) == before
    assert result.message.startswith("block 2 (README.md): SEARCH not found")
    assert "3| Some text." in result.message
    assert "block 1 matched" in result.message


async def test_search_replace_already_applied(repo: Path) -> None:
    assert (await apply(repo, SR)).ok
    again = await apply(repo, SR)
    assert (again.ok, again.method) == (True, "already-applied")


async def test_whole_file_replacement(repo: Path) -> None:
    text = "Here is the new file.\n\nREADME.md\n```markdown\n# demo\n\nNew text.\n```\n"
    result = await apply(repo, text)
    assert (result.ok, result.method) == (True, "whole-file")
    assert (repo / "README.md").read_text() == "# demo\n\nNew text.\n"


async def test_a_snippet_that_names_no_file_is_not_a_whole_file(repo: Path) -> None:
    text = "README.md\n```\nnew\n```\nand also\n```python\nprint('x')\n```\n"
    result = await apply(repo, text)
    assert not result.ok
    assert "no unified diff" in result.message
    assert (repo / "README.md").read_text() == "# demo\n\nSome text.\n"


# --- git apply --3way -------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": os.environ["PATH"],
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "HOME": str(repo),
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout


async def test_three_way_merges_when_the_context_changed(repo: Path) -> None:
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    (repo / "src" / "app.txt").write_text(AFTER)
    patch = git(repo, "diff")
    git(repo, "checkout", "-q", "--", ".")
    # Someone else changed a context line of the hunk meanwhile.
    (repo / "src" / "app.txt").write_text(APP.replace("line 9\n", "line nine\n"))
    git(repo, "commit", "-qam", "theirs")
    git_state = snapshot(repo / ".git")
    result = await apply(repo, patch)
    assert (result.ok, result.method) == (True, "git-apply-3way"), result.message
    assert (repo / "src" / "app.txt").read_text() == AFTER.replace("line 9\n", "line nine\n")
    assert snapshot(repo / ".git") == git_state


async def test_mode_only_change(repo: Path) -> None:
    patch = "diff --git a/README.md b/README.md\nold mode 100644\nnew mode 100755\n"
    result = await apply(repo, patch)
    assert result.ok, result.message
    assert os.access(repo / "README.md", os.X_OK)


async def test_appending_at_the_end_twice_does_not_double_the_line(repo: Path) -> None:
    patch = "--- a/README.md\n+++ b/README.md\n@@ -1,3 +1,4 @@\n # demo\n \n Some text.\n+More.\n"
    assert (await apply(repo, patch)).method == "git-apply"
    again = await apply(repo, patch)
    assert again.method == "already-applied"
    assert (repo / "README.md").read_text() == "# demo\n\nSome text.\nMore.\n"


async def test_patch_half_applied_before_is_refused_with_what_is_missing(repo: Path) -> None:
    readme = "--- a/README.md\n+++ b/README.md\n@@ -1,3 +1,3 @@\n # demo\n \n-Some text.\n+New.\n"
    assert (await apply(repo, readme)).ok
    before = snapshot(repo)
    result = await apply(repo, readme + DIFF)
    assert not result.ok
    assert result.message.startswith("README.md: already has this change")
    assert snapshot(repo) == before


def test_a_new_file_written_as_a_modification_of_nothing_is_created(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x\n")
    diff = "--- a/new.py\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n"
    result = apply_sync(tmp_path, diff)
    assert result.ok, result.message
    assert (tmp_path / "new.py").read_text() == "a = 1\nb = 2\n"
