"""An ephemeral clone of one repository at one commit, with one git worktree per proposal.

The installation token reaches git only through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/
`GIT_CONFIG_VALUE_n` in git's environment (an `http.extraHeader`): never argv (which
`/proc/*/cmdline` shows to every user), the remote URL, `.git/config`, or any file.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import secrets
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Final, cast

from bot.errors import PathNotAllowed
from bot.git.changes import FileChange, FileMode
from bot.git.run import GitFailed, run_git

__all__ = ["MARKER_FILE", "Workspace", "auth_env", "reap_stale"]

#: Present in every workspace directory, so the reaper never removes anything else.
MARKER_FILE: Final = ".ambient-workspace"
_REPO_DIR: Final = "repo"
_WORKTREES_DIR: Final = "worktrees"
_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")
_MODES: Final[frozenset[str]] = frozenset({"100644", "100755", "120000"})


def auth_env(token: str) -> dict[str, str]:
    """git's environment for a token: an Authorization header, no credential helper, no prompt."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
    return {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        # An empty helper list: git must never store or ask for credentials.
        "GIT_CONFIG_KEY_1": "credential.helper",
        "GIT_CONFIG_VALUE_1": "",
        "GIT_TERMINAL_PROMPT": "0",
    }


def _safe_name(name: str) -> str:
    cleaned = _SAFE_NAME.sub("-", name).strip(".-")[:80]
    if not cleaned:
        raise PathNotAllowed(f"workspace name {name!r} has no usable characters")
    return cleaned


class Workspace:
    """A job's clone (`repo`, detached at `base_sha`) and its worktrees; `close()` removes all.

    Build one with `await Workspace.clone(...)` and prefer `async with` so it is removed even
    when the job fails.
    """

    def __init__(self, root: Path, base_sha: str, env: Mapping[str, str]) -> None:
        self.root = root
        self.repo = root / _REPO_DIR
        self.base_sha = base_sha
        self._env = dict(env)
        self._worktrees: dict[str, Path] = {}
        # git reads every worktree's administrative files while it adds or removes one: two at
        # once can see the other's half-written (`failed to read .git/worktrees/…/commondir`).
        self._worktree_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"Workspace({self.root.name}, base={self.base_sha[:12]})"

    @classmethod
    async def clone(
        cls,
        url: str,
        sha: str,
        token: str | None,
        root: Path,
        job_id: str,
        *,
        branch: str | None = None,
    ) -> Workspace:
        """Fetch `sha` from `url` (shallow) into a new directory under `root` and check it out.

        `branch` is fetched instead when the server refuses to serve a commit by its sha; it
        must contain `sha`. On any failure the directory is removed before the error is raised.
        """
        directory = Path(await asyncio.to_thread(_make_job_dir, root, _safe_name(job_id)))
        workspace = cls(directory, sha, auth_env(token) if token else {})
        try:
            await workspace._fetch(url, sha, branch)
        except BaseException:
            await workspace.close()
            raise
        return workspace

    async def _fetch(self, url: str, sha: str, branch: str | None) -> None:
        self.repo.mkdir(mode=0o700)
        await run_git(["init", "--quiet"], self.repo)
        await run_git(["remote", "add", "origin", url], self.repo)
        try:
            await self._git("fetch", "--quiet", "--no-tags", "--depth=1", "origin", sha)
        except GitFailed:
            if branch is None:
                raise
            # Servers without uploadpack.allowReachableSHA1InWant refuse a bare sha.
            ref = f"+refs/heads/{branch}:refs/remotes/origin/{branch}"
            await self._git("fetch", "--quiet", "--no-tags", "origin", ref)
        await run_git(["-c", "advice.detachedHead=false", "checkout", "--quiet", sha], self.repo)

    async def _git(self, *args: str, cwd: Path | None = None) -> bytes:
        """A git command that talks to the server: the only place the token is handed over."""
        result = await run_git(args, cwd or self.repo, env=self._env)
        return result.stdout

    async def fetch(self, ref: str) -> str:
        """Fetch one more ref or sha (shallow) and return the commit it names."""
        await self._git("fetch", "--quiet", "--no-tags", "--depth=1", "origin", ref)
        result = await run_git(["rev-parse", "FETCH_HEAD^{commit}"], self.repo)
        return result.text.strip()

    async def add_worktree(self, name: str, sha: str | None = None) -> Path:
        """A new worktree `name`, detached at `sha` (default: the base commit)."""
        safe = _safe_name(name)
        if safe in self._worktrees:
            raise PathNotAllowed(f"worktree {safe} already exists in {self.root.name}")
        path = self.root / _WORKTREES_DIR / safe
        path.parent.mkdir(mode=0o700, exist_ok=True)
        async with self._worktree_lock:
            await run_git(
                ["worktree", "add", "--quiet", "--detach", str(path), sha or self.base_sha],
                self.repo,
            )
        self._worktrees[safe] = path
        return path

    def _checkout(self, worktree: Path | None) -> Path:
        path = self.repo if worktree is None else worktree
        if path != self.repo and path not in self._worktrees.values():
            raise PathNotAllowed(f"{path.name} is not a worktree of {self.root.name}")
        return path

    async def _stage(self, worktree: Path | None) -> Path:
        path = self._checkout(worktree)
        await run_git(["add", "--all", "--", "."], path)
        return path

    async def diff(self, worktree: Path | None = None) -> str:
        """The worktree's changes against the base commit, new files included, binary-safe.

        Bytes that are not UTF-8 come back as surrogate escapes, so
        `text.encode("utf-8", "surrogateescape")` gives git's exact output.
        """
        path = await self._stage(worktree)
        result = await run_git(
            ["diff", "--cached", "--binary", "--no-color", "--no-renames", self.base_sha], path
        )
        return result.stdout.decode("utf-8", "surrogateescape")

    async def changed_files(self, worktree: Path | None = None) -> dict[str, FileChange]:
        """Every path that differs from the base commit: new content and mode (None: deleted)."""
        path = await self._stage(worktree)
        listing = await run_git(
            ["diff", "--cached", "--name-only", "-z", "--no-renames", self.base_sha], path
        )
        names = [n for n in listing.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
        if not names:
            return {}
        staged = await run_git(["ls-files", "--stage", "-z", "--", *names], path)
        entries: dict[str, tuple[str, str]] = {}
        for record in staged.stdout.decode("utf-8", "surrogateescape").split("\0"):
            if record:
                meta, _, name = record.partition("\t")
                mode, blob, _stage = meta.split()
                entries[name] = (mode, blob)
        contents = await _read_blobs(path, [blob for _mode, blob in entries.values()])
        changes: dict[str, FileChange] = {}
        for name in names:
            if name not in entries:
                changes[name] = FileChange(None)
                continue
            mode, blob = entries[name]
            if mode not in _MODES:
                raise PathNotAllowed(f"{name} has git mode {mode}; only files and symlinks")
            changes[name] = FileChange(contents[blob], cast(FileMode, mode))
        return changes

    async def reset(self, worktree: Path | None = None) -> None:
        """Put the worktree back exactly at the base commit: tracked, new and ignored files."""
        path = self._checkout(worktree)
        await run_git(["reset", "--quiet", "--hard", self.base_sha], path)
        await run_git(["clean", "-ffdxq"], path)

    async def remove_worktree(self, worktree: Path) -> None:
        """Delete one worktree and its administrative files."""
        path = self._checkout(worktree)
        async with self._worktree_lock:
            await run_git(["worktree", "remove", "--force", "--force", str(path)], self.repo)
        self._worktrees = {k: v for k, v in self._worktrees.items() if v != path}

    async def close(self) -> None:
        """Remove the whole workspace directory; safe to call twice."""
        self._env.clear()
        self._worktrees.clear()
        await asyncio.to_thread(shutil.rmtree, self.root, ignore_errors=True)

    async def __aenter__(self) -> Workspace:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def _read_blobs(cwd: Path, blobs: list[str]) -> dict[str, bytes]:
    """Contents of many blobs through one `git cat-file --batch`."""
    if not blobs:
        return {}
    unique = list(dict.fromkeys(blobs))
    result = await run_git(["cat-file", "--batch"], cwd, stdin="\n".join(unique).encode() + b"\n")
    out, position, contents = result.stdout, 0, {}
    for blob in unique:
        header_end = out.index(b"\n", position)
        _sha, _kind, size = out[position:header_end].split()
        start = header_end + 1
        contents[blob] = out[start : start + int(size)]
        position = start + int(size) + 1
    return contents


def _make_job_dir(root: Path, job: str) -> str:
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory = Path(f"{root}/{job}-{secrets.token_hex(4)}")
    directory.mkdir(mode=0o700)
    (directory / MARKER_FILE).write_text(f"{os.getpid()} {time.time():.0f}\n")
    return str(directory)


def _reap(root: Path, older_than_s: float, now: float) -> list[Path]:
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for entry in root.iterdir():
        marker = entry / MARKER_FILE
        try:
            age = now - marker.stat().st_mtime
        except OSError:
            continue
        if age > older_than_s and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


async def reap_stale(root: Path, older_than_s: float, now: float | None = None) -> list[Path]:
    """Remove workspaces under `root` older than `older_than_s` (left by a crashed worker).

    Only directories carrying `MARKER_FILE` are touched. Call it at worker start with a
    threshold longer than the longest job.
    """
    return await asyncio.to_thread(_reap, root, older_than_s, time.time() if now is None else now)
