"""Path confinement: what a patch or a model may name, checked against a real directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.errors import PathNotAllowed
from bot.patch.paths import DEFAULT_FORBIDDEN, PathPolicy, check_paths, clean_relative, glob_matches


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("x = 1\n")
    (root / ".git" / "hooks").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("s\n")
    return root


@pytest.mark.parametrize(
    ("path", "clean"),
    [
        ("src/app.py", "src/app.py"),
        ("./src//app.py", "src/app.py"),
        ("new/dir/f.txt", "new/dir/f.txt"),
    ],
)
def test_clean_relative_accepts_plain_paths(path: str, clean: str) -> None:
    assert clean_relative(path) == clean


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/etc/passwd", "absolute"),
        ("C:/Windows/x", "absolute"),
        ("../x", "'..'"),
        ("src/../../x", "'..'"),
        ("src/..", "'..'"),
        ("src\\app.py", "backslash"),
        ("", "empty"),
        (" src/app.py", "whitespace"),
        ("a\0b", "NUL"),
        (".git/config", ".git/"),
        ("sub/.git/config", ".git/"),
        (".GIT/config", ".git/"),
        (".git./config", ".git/"),
        ("GIT~1/config", ".git/"),
        (".", "root"),
    ],
)
def test_clean_relative_refuses(path: str, why: str) -> None:
    with pytest.raises(PathNotAllowed, match=why):
        clean_relative(path)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        (".env*", ".env", True),
        (".env*", "config/.env.local", True),
        (".env*", "src/environment.py", False),
        (".ssh/", ".ssh/id_rsa", True),
        (".ssh/", "home/.ssh/config", True),
        (".ssh/", "ssh/config", False),
        ("*.pem", "certs/server.pem", True),
        ("*.pem", "server.pem.txt", False),
        (".git/hooks", ".git/hooks/pre-commit", True),
        (".github/workflows/**", ".github/workflows/ci.yml", True),
        (".github/workflows/**", ".github/workflows/sub/x.yml", True),
        (".github/workflows/**", "docs/.github/workflows/ci.yml", False),
        (".github/workflows/**", ".github/dependabot.yml", False),
        ("docs/**/*.md", "docs/a/b/c.md", True),
        ("docs/**/*.md", "docs/c.md", True),
        ("*.PEM", "key.pem", True),
    ],
)
def test_glob_matches_like_gitignore(pattern: str, path: str, expected: bool) -> None:
    assert glob_matches(pattern, path) is expected


def test_default_forbidden_list_is_the_documented_one() -> None:
    assert {".env*", ".ssh/", "*.pem", ".git/hooks"} <= set(DEFAULT_FORBIDDEN)


@pytest.mark.parametrize(
    "path", [".env", "deploy/.env.production", ".ssh/authorized_keys", "tls/key.pem", ".gitmodules"]
)
def test_forbidden_paths_are_refused(tree: Path, path: str) -> None:
    with pytest.raises(PathNotAllowed, match="forbidden pattern"):
        check_paths(tree, [path], PathPolicy())


def test_workflows_are_refused_unless_allowed_and_then_high_risk(tree: Path) -> None:
    with pytest.raises(PathNotAllowed, match="workflow"):
        check_paths(tree, [".github/workflows/ci.yml"], PathPolicy())
    allowed = check_paths(
        tree, ["src/app.py", ".github/workflows/ci.yml"], PathPolicy(allow_workflow_changes=True)
    )
    assert allowed.paths == ("src/app.py", ".github/workflows/ci.yml")
    assert allowed.high_risk == (".github/workflows/ci.yml",)


def test_custom_forbidden_list_replaces_the_default(tree: Path) -> None:
    policy = PathPolicy(forbidden=("secrets/**",))
    assert check_paths(tree, [".env"], policy).paths == (".env",)
    with pytest.raises(PathNotAllowed, match="secrets"):
        check_paths(tree, ["secrets/prod.yml"], policy)


def test_symlink_leading_outside_is_refused(tree: Path) -> None:
    os.symlink(tree.parent / "outside", tree / "link")
    with pytest.raises(PathNotAllowed, match="outside the worktree"):
        check_paths(tree, ["link/secret.txt"], PathPolicy())
    with pytest.raises(PathNotAllowed, match="outside the worktree"):
        check_paths(tree, ["link/new-file.txt"], PathPolicy())


def test_symlinked_file_leading_outside_is_refused(tree: Path) -> None:
    os.symlink(tree.parent / "outside" / "secret.txt", tree / "notes.txt")
    with pytest.raises(PathNotAllowed, match="outside the worktree"):
        check_paths(tree, ["notes.txt"], PathPolicy())


def test_symlink_inside_that_leads_into_git_is_refused(tree: Path) -> None:
    os.symlink(tree / ".git" / "hooks", tree / "hooks")
    with pytest.raises(PathNotAllowed, match=r"symlink.*\.git/"):
        check_paths(tree, ["hooks/post-checkout"], PathPolicy())


def test_symlink_inside_the_worktree_is_allowed(tree: Path) -> None:
    os.symlink(tree / "src", tree / "lib")
    assert check_paths(tree, ["lib/app.py"], PathPolicy()).paths == ("lib/app.py",)


def test_one_violation_refuses_the_whole_list(tree: Path) -> None:
    with pytest.raises(PathNotAllowed, match=r"'\.\.'"):
        check_paths(tree, ["src/app.py", "../outside/secret.txt"], PathPolicy())


def test_duplicates_are_reported_once(tree: Path) -> None:
    assert check_paths(tree, ["src/app.py", "./src/app.py"], PathPolicy()).paths == ("src/app.py",)
