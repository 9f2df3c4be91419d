"""`ambient patch PATH FILE [--json]`, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PATCH = "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.patch", *args], capture_output=True, text=True, check=False
    )


def test_applies_and_exits_0(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a\nb\nc\n")
    (tmp_path / "p.diff").write_text(PATCH)
    done = run(str(tmp_path), str(tmp_path / "p.diff"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "git-apply: f.txt"
    assert (tmp_path / "f.txt").read_text() == "a\nB\nc\n"


def test_refuses_with_one_line_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a\nx\nc\n")
    (tmp_path / "p.diff").write_text(PATCH)
    done = run(str(tmp_path), str(tmp_path / "p.diff"))
    assert done.returncode == 1
    assert done.stderr.startswith("refused: hunk 1 of 1 in f.txt")
    assert "Traceback" not in done.stderr
    assert (tmp_path / "f.txt").read_text() == "a\nx\nc\n"


def test_json_output_has_the_debug_bundle(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a\nb\nc\n")
    (tmp_path / "p.diff").write_text(PATCH)
    done = run(str(tmp_path), str(tmp_path / "p.diff"), "--json", "--dry-run")
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert data["ok"] is True
    assert data["method"] == "git-apply"
    assert data["files"] == ["f.txt"]
    assert data["debug_bundle"]["raw"] == PATCH
    assert data["debug_bundle"]["hunks"][0]["status"] == "applied"
    assert (tmp_path / "f.txt").read_text() == "a\nb\nc\n"


def test_missing_worktree_is_a_usage_error(tmp_path: Path) -> None:
    done = run(str(tmp_path / "nope"), "-")
    assert done.returncode == 2
    assert "does not exist" in done.stderr
