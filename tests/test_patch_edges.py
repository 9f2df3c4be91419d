"""Two edge cases on a real git worktree: a file created empty by a diff without git
headers, and a hunk whose context occurs in several places that all give the same file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.patch.apply import apply

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**GIT_ENV, "PATH": os.environ["PATH"], "HOME": str(cwd)}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=check, capture_output=True, text=True
    )


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    """A linked worktree (`git worktree add`) of a repository with one commit."""
    main = tmp_path / "main"
    main.mkdir()
    (main / "a.txt").write_text("hi\nthere\n")
    (main / "dup.py").write_text("import os\nimport os\nimport sys\n\nprint(sys.argv)\n")
    git(main, "init", "-q")
    git(main, "add", ".")
    git(main, "commit", "-qm", "base")
    wt = tmp_path / "wt"
    git(main, "worktree", "add", "-q", str(wt))
    return wt


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != ".git"
    }


# --- a file created empty, without `diff --git` headers ----------------------------------------

EMPTY = "--- /dev/null\n+++ b/empty.txt\n"
NEW_PY = "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n"
EDIT_A = "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,3 @@\n hi\n there\n+more\n"


async def test_an_empty_file_alone_is_created(worktree: Path) -> None:
    result = await apply(worktree, EMPTY)
    assert (result.ok, result.files) == (True, ("empty.txt",)), result.message
    assert (worktree / "empty.txt").read_bytes() == b""


async def test_an_empty_file_after_a_created_file_is_created_and_adds_no_line(
    worktree: Path,
) -> None:
    # The empty file's header used to be read as a removed and an added line of new.py.
    result = await apply(worktree, NEW_PY + EMPTY)
    assert result.ok, result.message
    assert set(result.files) == {"new.py", "empty.txt"}
    assert (worktree / "new.py").read_text() == "a = 1\nb = 2\n"
    assert (worktree / "empty.txt").read_bytes() == b""


async def test_an_empty_file_after_an_edit_is_created(worktree: Path) -> None:
    result = await apply(worktree, EDIT_A + EMPTY)
    assert result.ok, result.message
    assert set(result.files) == {"a.txt", "empty.txt"}
    assert (worktree / "a.txt").read_text() == "hi\nthere\nmore\n"
    assert (worktree / "empty.txt").read_bytes() == b""


async def test_an_empty_file_after_a_hunk_without_numbers_is_created(worktree: Path) -> None:
    text = "--- a/a.txt\n+++ b/a.txt\n@@ @@\n hi\n-there\n+THERE\n" + EMPTY
    result = await apply(worktree, text)
    assert result.ok, result.message
    assert (worktree / "a.txt").read_text() == "hi\nTHERE\n"
    assert (worktree / "empty.txt").read_bytes() == b""


async def test_an_empty_file_deleted_without_git_headers(worktree: Path) -> None:
    (worktree / "gone.txt").write_bytes(b"")
    result = await apply(worktree, EDIT_A + "--- a/gone.txt\n+++ /dev/null\n")
    assert result.ok, result.message
    assert not (worktree / "gone.txt").exists()
    assert (worktree / "a.txt").read_text() == "hi\nthere\nmore\n"


async def test_a_created_file_whose_hunk_removes_lines_is_refused(worktree: Path) -> None:
    before = tree(worktree)
    result = await apply(worktree, "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+a\n-b\n+c\n")
    assert not result.ok
    assert result.message == "new.py: the patch creates this file but hunk 1 removes lines"
    assert tree(worktree) == before


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.patch", *args], capture_output=True, text=True, check=False
    )


def test_cli_reports_the_empty_file_it_created(worktree: Path, tmp_path: Path) -> None:
    (tmp_path / "p.diff").write_text(NEW_PY + EMPTY)
    done = cli(str(worktree), str(tmp_path / "p.diff"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "git-apply: new.py, empty.txt"
    assert (worktree / "empty.txt").read_bytes() == b""
    assert {"?? empty.txt", "?? new.py"} <= set(
        git(worktree, "status", "--porcelain").stdout.split("\n")
    )


def test_cli_dry_run_says_nothing_was_written(worktree: Path, tmp_path: Path) -> None:
    (tmp_path / "p.diff").write_text(EMPTY)
    done = cli(str(worktree), str(tmp_path / "p.diff"), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "git-apply (dry run, nothing written): empty.txt"
    assert not (worktree / "empty.txt").exists()


# --- several places, one result ------------------------------------------------------------

RULES = "[lint]\nstrict = 1\n#\n#\n#\n#\n[format]\nwidth = 100\n"
# One of four equal comment lines goes; the context occurs at lines 3 and 4, and the stated
# line (20) points at neither. Either place leaves the same file.
SHORTER = "--- a/rules.txt\n+++ b/rules.txt\n@@ -20,3 +20,2 @@\n #\n-#\n #\n"


async def test_a_hunk_whose_places_all_give_the_same_file_is_applied(worktree: Path) -> None:
    # "import os" twice and a hunk without context or numbers: removing either copy leaves
    # the same file, so nothing is ambiguous.
    result = await apply(worktree, "--- a/dup.py\n+++ b/dup.py\n@@ @@\n-import os\n")
    assert result.ok, result.message
    assert (worktree / "dup.py").read_text() == "import os\nimport sys\n\nprint(sys.argv)\n"


async def test_same_result_agrees_with_git_apply(worktree: Path, tmp_path: Path) -> None:
    (tmp_path / "p.diff").write_text(SHORTER)
    other = tmp_path / "copy"
    other.mkdir()
    (other / "rules.txt").write_text(RULES)
    (worktree / "rules.txt").write_text(RULES)
    assert git(other, "apply", str(tmp_path / "p.diff")).returncode == 0
    result = await apply(worktree, SHORTER)
    assert (result.ok, result.method) == (True, "git-apply"), result.message
    assert (worktree / "rules.txt").read_bytes() == (other / "rules.txt").read_bytes()
    assert (worktree / "rules.txt").read_text() == RULES.replace("#\n", "", 1)


async def test_places_that_give_different_files_are_still_refused(worktree: Path) -> None:
    (worktree / "dup.py").write_text("x = 1\ny = 2\nx = 1\nz = 3\n")
    before = tree(worktree)
    result = await apply(worktree, "--- a/dup.py\n+++ b/dup.py\n@@ @@\n-x = 1\n+x = 10\n")
    assert not result.ok
    assert result.message == (
        "hunk 1 of 1 in dup.py (@@ @@): its context occurs at lines 1, 3 and the line"
        " numbers do not say which is meant; add more context lines"
    )
    assert tree(worktree) == before


async def test_a_search_found_twice_that_gives_one_file_is_applied(worktree: Path) -> None:
    text = "dup.py\n<<<<<<< SEARCH\nimport os\n=======\n>>>>>>> REPLACE\n"
    result = await apply(worktree, text)
    assert (result.ok, result.method) == (True, "search-replace"), result.message
    assert (worktree / "dup.py").read_text() == "import os\nimport sys\n\nprint(sys.argv)\n"
