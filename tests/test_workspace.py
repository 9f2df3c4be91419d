"""Workspaces with real git: clone (token only in git's environment), worktrees, diffs, cleanup."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import PathNotAllowed
from bot.git.changes import FileChange
from bot.git.run import GitFailed, GitRefused, GitUnreachable
from bot.git.workspace import MARKER_FILE, Workspace, auth_env, reap_stale
from tests.sim.github_client import GitHubSim
from tests.support import require_binary

GIT_ENV = {
    "GIT_AUTHOR_NAME": "T",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "T",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def origin(tmp_path: Path) -> tuple[str, str, str]:
    """A local bare repository with two commits: (file URL, first sha, second sha)."""
    require_binary("git")
    src = tmp_path / "src"
    src.mkdir()
    _git(src, "init", "-q", "-b", "main")
    (src / "README.md").write_text("hello\n")
    (src / "run.sh").write_text("#!/bin/sh\necho run\n")
    (src / "run.sh").chmod(0o755)
    (src / "old.txt").write_text("old\n")
    (src / ".gitignore").write_text("__pycache__/\n")
    _git(src, "add", ".")
    _git(src, "commit", "-qm", "first")
    first = _git(src, "rev-parse", "HEAD")
    (src / "README.md").write_text("hello again\n")
    _git(src, "commit", "-qam", "second")
    second = _git(src, "rev-parse", "HEAD")
    _git(tmp_path, "clone", "-q", "--bare", str(src), "origin.git")
    return f"file://{tmp_path / 'origin.git'}", first, second


async def test_clone_checks_out_the_sha_shallow(
    tmp_path: Path, origin: tuple[str, str, str]
) -> None:
    url, first, _second = origin
    async with await Workspace.clone(url, first, None, tmp_path / "ws", "job-1") as ws:
        assert (ws.repo / "README.md").read_text() == "hello\n"
        assert _git(ws.repo, "rev-parse", "HEAD") == first
        assert (ws.repo / ".git" / "shallow").exists()
        assert stat.S_IMODE(ws.root.stat().st_mode) == 0o700
        assert ws.root.name.startswith("job-1-")
        assert (ws.root / MARKER_FILE).exists()
    assert not ws.root.exists()


async def test_worktree_changes_diff_and_modes(
    tmp_path: Path, origin: tuple[str, str, str]
) -> None:
    url, first, _ = origin
    async with await Workspace.clone(url, first, None, tmp_path / "ws", "job") as ws:
        tree = await ws.add_worktree("proposal-1")
        (tree / "README.md").write_text("changed\n")
        (tree / "new.sh").write_text("#!/bin/sh\n")
        (tree / "new.sh").chmod(0o755)
        (tree / "blob.bin").write_bytes(bytes(range(256)))
        (tree / "old.txt").unlink()
        (tree / "link").symlink_to("README.md")
        (tree / "__pycache__").mkdir()
        (tree / "__pycache__" / "x.pyc").write_bytes(b"\0")
        diff = await ws.diff(tree)
        assert "+changed" in diff
        assert "new file mode 100755" in diff
        assert "GIT binary patch" in diff
        assert "deleted file mode 100644" in diff
        assert "__pycache__" not in diff
        changes = await ws.changed_files(tree)
        assert changes == {
            "README.md": FileChange(b"changed\n", "100644"),
            "new.sh": FileChange(b"#!/bin/sh\n", "100755"),
            "blob.bin": FileChange(bytes(range(256)), "100644"),
            "old.txt": FileChange(None),
            "link": FileChange(b"README.md", "120000"),
        }
        # The base checkout is untouched by the worktree's changes.
        assert await ws.diff() == ""
        await ws.reset(tree)
        assert await ws.diff(tree) == ""
        assert await ws.changed_files(tree) == {}
        assert not (tree / "new.sh").exists()
        assert (tree / "old.txt").read_text() == "old\n"
        await ws.remove_worktree(tree)
        assert not tree.exists()


async def test_executable_bit_change_alone_is_a_change(
    tmp_path: Path, origin: tuple[str, str, str]
) -> None:
    url, first, _ = origin
    async with await Workspace.clone(url, first, None, tmp_path / "ws", "job") as ws:
        tree = await ws.add_worktree("p")
        (tree / "run.sh").chmod(0o644)
        assert await ws.changed_files(tree) == {
            "run.sh": FileChange(b"#!/bin/sh\necho run\n", "100644")
        }


async def test_diff_is_binary_safe_for_non_utf8_text(
    tmp_path: Path, origin: tuple[str, str, str]
) -> None:
    url, first, _ = origin
    async with await Workspace.clone(url, first, None, tmp_path / "ws", "job") as ws:
        tree = await ws.add_worktree("p")
        (tree / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
        diff = await ws.diff(tree)
        assert b"+caf\xe9" in diff.encode("utf-8", "surrogateescape")


async def test_worktree_names_are_confined(tmp_path: Path, origin: tuple[str, str, str]) -> None:
    url, first, _ = origin
    async with await Workspace.clone(url, first, None, tmp_path / "ws", "job") as ws:
        tree = await ws.add_worktree("../../escape")
        assert tree.parent == ws.root / "worktrees"
        with pytest.raises(PathNotAllowed):
            await ws.add_worktree("../../escape")
        with pytest.raises(PathNotAllowed):
            await ws.diff(tmp_path)
        with pytest.raises(PathNotAllowed):
            await ws.add_worktree("..")


async def test_worktrees_added_and_removed_at_once_all_succeed(
    tmp_path: Path, origin: tuple[str, str, str]
) -> None:
    url, first, _ = origin
    async with await Workspace.clone(url, first, None, tmp_path / "ws", "job") as ws:
        trees = await asyncio.gather(*(ws.add_worktree(f"proposal-{n}") for n in range(12)))
        assert all((tree / ".git").is_file() for tree in trees)
        await asyncio.gather(*(ws.remove_worktree(tree) for tree in trees))
        assert not any(tree.exists() for tree in trees)


async def test_workspace_removed_when_the_job_fails(
    tmp_path: Path, origin: tuple[str, str, str]
) -> None:
    url, first, _ = origin
    root = tmp_path / "ws"

    async def job() -> None:
        async with await Workspace.clone(url, first, None, root, "job") as ws:
            await ws.add_worktree("p")
            raise RuntimeError("job failed")

    with pytest.raises(RuntimeError, match="job failed"):
        await job()
    assert list(root.iterdir()) == []


async def test_failed_clone_leaves_nothing(tmp_path: Path, origin: tuple[str, str, str]) -> None:
    url, _, _ = origin
    root = tmp_path / "ws"
    with pytest.raises(GitFailed, match="git fetch failed"):
        await Workspace.clone(url, "0" * 40, None, root, "job")
    assert list(root.iterdir()) == []


async def test_fetch_another_commit(tmp_path: Path, origin: tuple[str, str, str]) -> None:
    url, first, second = origin
    async with await Workspace.clone(url, first, None, tmp_path / "ws", "job") as ws:
        assert await ws.fetch("refs/heads/main") == second
        tree = await ws.add_worktree("head", second)
        assert (tree / "README.md").read_text() == "hello again\n"


async def test_reaper_removes_only_stale_workspaces(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    stale, fresh, foreign = root / "a-1", root / "b-2", root / "not-ours"
    for directory in (stale, fresh, foreign):
        directory.mkdir(parents=True)
    (stale / MARKER_FILE).write_text("1 0\n")
    (fresh / MARKER_FILE).write_text("1 0\n")
    old = time.time() - 7200
    os.utime(stale / MARKER_FILE, (old, old))
    os.utime(foreign, (old, old))
    assert await reap_stale(root, older_than_s=3600) == [stale]
    assert sorted(p.name for p in root.iterdir()) == ["b-2", "not-ours"]
    assert await reap_stale(tmp_path / "missing", older_than_s=1) == []


def test_auth_env_carries_the_token_as_a_header() -> None:
    env = auth_env("ghs_secret")
    header = env["GIT_CONFIG_VALUE_0"]
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert base64.b64decode(header.split()[-1]) == b"x-access-token:ghs_secret"
    assert env["GIT_TERMINAL_PROMPT"] == "0"


# Against the simulator: real smart HTTP, real installation tokens.


def _files_containing(root: Path, needles: list[bytes]) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(needle in data for needle in needles):
                found.append(path)
    return found


# Runs in its own process, so the test's threads (the simulator serves from one) never starve
# it: writes every distinct argv of a git process (git, git-remote-http, …: every process a
# clone starts) until the stop file exists. Other processes' argv is not read: reading it
# takes the process's memory lock and can stall for seconds while a large process exits;
# `comm` can always be read.
SAMPLER = """
import os, sys
out, stop, seen = open(sys.argv[1], "wb", buffering=0), sys.argv[2], set()
out.write(b"started\\n")
while not os.path.exists(stop):
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm", "rb") as f:
                    if not f.read().startswith(b"git"):
                        continue
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    line = f.read().replace(b"\\n", b" ")
            except OSError:
                continue
            if line not in seen:
                seen.add(line)
                out.write(line + b"\\n")
"""


class ProcSampler:
    """A separate process reading the argv of every git process over and over until stopped."""

    def __init__(self, directory: Path) -> None:
        self._out = directory / "cmdlines"
        self._stop = directory / "stop"
        self._process = subprocess.Popen(
            [sys.executable, "-c", SAMPLER, str(self._out), str(self._stop)]
        )
        deadline = time.monotonic() + 30
        while not (self._out.exists() and self._out.stat().st_size) and self._running():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)

    def _running(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> list[bytes]:
        self._stop.touch()
        self._process.wait(timeout=30)
        return self._out.read_bytes().split(b"\n") if self._out.exists() else []


@pytest.fixture
def proc_sampler(tmp_path: Path) -> Iterator[ProcSampler]:
    directory = tmp_path / "sampler"
    directory.mkdir()
    sampler = ProcSampler(directory)
    yield sampler
    sampler.stop()


async def test_clone_never_puts_the_token_in_argv_config_or_files(
    tmp_path: Path, github_sim: GitHubSim, proc_sampler: ProcSampler
) -> None:
    repo = github_sim.create_repo("octo", "secretive", files={"a.txt": "a\n"})
    sha = github_sim.commit("octo", "secretive", "main", {"b.txt": "b\n"})
    token = github_sim.installation_token("octo", "secretive", {"contents": "read"})
    # Slow git's requests down so the sampler sees the git processes mid-clone.
    github_sim.fault("GET", r"^/git/", 0, times=5, delay_s=0.5)
    github_sim.fault("POST", r"^/git/", 0, times=5, delay_s=1.0)
    url = github_sim.git_url(repo.owner, repo.name)
    ws = await Workspace.clone(url, sha, token, tmp_path / "ws", "job")
    try:
        assert (ws.repo / "b.txt").read_text() == "b\n"
        needles = [token.encode(), base64.b64encode(f"x-access-token:{token}".encode())]
        assert _files_containing(ws.root, needles) == []
        assert "extraheader" not in (ws.repo / ".git" / "config").read_text().lower()
    finally:
        await ws.close()
    cmdlines = proc_sampler.stop()
    git_fetches = [c for c in cmdlines if b"fetch" in c or b"remote-http" in c]
    assert git_fetches, "the sampler saw no git process: the check proved nothing"
    assert not [c for c in cmdlines if any(n in c for n in needles)]


async def test_a_token_for_repo_a_cannot_clone_repo_b(
    tmp_path: Path, github_sim: GitHubSim
) -> None:
    github_sim.create_repo("octo", "a", files={"a.txt": "a\n"})
    b = github_sim.create_repo("octo", "b", files={"b.txt": "b\n"})
    sha_b = github_sim.commit("octo", "b", "main", {"c.txt": "c\n"})
    token_a = github_sim.installation_token("octo", "a", {"contents": "read"})
    root = tmp_path / "ws"
    with pytest.raises(GitRefused, match="git fetch failed"):
        await Workspace.clone(github_sim.git_url(b.owner, b.name), sha_b, token_a, root, "job")
    assert list(root.iterdir()) == []
    token_b = github_sim.installation_token("octo", "b", {"contents": "read"})
    url = github_sim.git_url(b.owner, b.name)
    async with await Workspace.clone(url, sha_b, token_b, root, "job") as ws:
        assert (ws.repo / "c.txt").exists()


async def test_clone_an_older_commit_by_sha(tmp_path: Path, github_sim: GitHubSim) -> None:
    github_sim.create_repo("octo", "hist", files={"v.txt": "1\n"})
    old = github_sim.commit("octo", "hist", "main", {"v.txt": "2\n"})
    github_sim.commit("octo", "hist", "main", {"v.txt": "3\n"})
    token = github_sim.installation_token("octo", "hist", {"contents": "read"})
    url = github_sim.git_url("octo", "hist")
    async with await Workspace.clone(url, old, token, tmp_path / "ws", "j", branch="main") as ws:
        assert (ws.repo / "v.txt").read_text() == "2\n"


async def test_falls_back_to_the_branch_when_the_sha_fetch_fails(
    tmp_path: Path, github_sim: GitHubSim
) -> None:
    github_sim.create_repo("octo", "fallback", files={"v.txt": "1\n"})
    sha = github_sim.commit("octo", "fallback", "main", {"v.txt": "2\n"})
    token = github_sim.installation_token("octo", "fallback", {"contents": "read"})
    url = github_sim.git_url("octo", "fallback")
    # The server refuses the fetch by sha once (as one without allowReachableSHA1InWant would).
    github_sim.fault("POST", r"/git-upload-pack$", 403, times=1)
    async with await Workspace.clone(url, sha, token, tmp_path / "ws", "j", branch="main") as ws:
        assert (ws.repo / "v.txt").read_text() == "2\n"
    posts = [r for r in github_sim.requests() if r["path"].endswith("/git-upload-pack")]
    assert posts[0]["status"] == 403
    assert len(posts) >= 2


async def test_a_server_error_while_cloning_is_retryable(
    tmp_path: Path, github_sim: GitHubSim
) -> None:
    github_sim.create_repo("octo", "down", files={"v.txt": "1\n"})
    sha = github_sim.commit("octo", "down", "main", {"v.txt": "2\n"})
    token = github_sim.installation_token("octo", "down", {"contents": "read"})
    github_sim.fault("*", r"^/git/octo/down\.git/", 502, times=20)
    root = tmp_path / "ws"
    with pytest.raises(GitUnreachable, match="502"):
        await Workspace.clone(github_sim.git_url("octo", "down"), sha, token, root, "job")
    assert list(root.iterdir()) == []
