"""`git apply` (and `git apply --3way`) run on a scratch copy of the touched files.

The worktree itself is never handed to git: the files a patch names are copied into a
temporary directory, git applies the canonical patch there, and the caller compares the
result with its own plan before anything is written. For `--3way`, git reads the
worktree's object store (for the pre-image blobs named on `index` lines) through
`GIT_ALTERNATE_OBJECT_DIRECTORIES`, and writes its own objects and index to the scratch
directory, so the repository is left exactly as it was.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GitOutcome", "git_apply", "git_dirs"]


@dataclass(frozen=True, slots=True)
class GitOutcome:
    """The files after git applied the patch (`ok`), or git's complaint (`message`)."""

    ok: bool
    files: Mapping[str, bytes | None]
    message: str


def _base_env(scratch: Path) -> dict[str, str]:
    # Nobody's git config may change how a patch applies (apply.whitespace=fix, rerere).
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(scratch),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CEILING_DIRECTORIES": str(scratch),
    }


async def _git(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "git",
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    code = proc.returncode if proc.returncode is not None else -1
    return code, out.decode("utf-8", errors="replace").strip()


async def git_dirs(worktree: Path) -> tuple[Path, Path] | None:
    """The absolute git dir and object directory of `worktree`, or None if it is no repo."""
    env = {**_base_env(worktree.parent), "GIT_CEILING_DIRECTORIES": str(worktree.parent)}
    code, out = await _git(
        ["rev-parse", "--absolute-git-dir", "--git-path", "objects"], worktree, env
    )
    if code != 0 or len(out.splitlines()) != 2:
        return None
    git_dir, objects = out.splitlines()
    return Path(git_dir), (worktree / objects).resolve()


def _stage(scratch: Path, files: Mapping[str, bytes | None], modes: Mapping[str, int]) -> Path:
    tree = scratch / "tree"
    tree.mkdir()
    (scratch / "objects").mkdir()
    for rel, data in files.items():
        if data is None:
            continue
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(modes.get(rel, 0o644))
    return tree


def _collect(tree: Path, paths: Sequence[str]) -> dict[str, bytes | None]:
    return {rel: (tree / rel).read_bytes() if (tree / rel).is_file() else None for rel in paths}


async def git_apply(
    files: Mapping[str, bytes | None],
    modes: Mapping[str, int],
    text: str,
    *,
    three_way: tuple[Path, Path] | None = None,
) -> GitOutcome:
    """Apply canonical diff `text` with `git apply -p1` to a scratch copy of `files`.

    With `three_way` (git dir, object dir) it runs `git apply --3way` instead, and only a
    merge without conflicts counts as applied.
    """
    scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="ambient-apply-"))
    try:
        tree = await asyncio.to_thread(_stage, scratch, files, modes)
        patch_file = scratch / "patch.diff"
        await asyncio.to_thread(patch_file.write_bytes, text.encode("utf-8", "surrogateescape"))
        env = _base_env(scratch)
        argv = ["apply", "-p1", "--whitespace=nowarn", str(patch_file)]
        if three_way is not None:
            git_dir, objects = three_way
            env |= {
                "GIT_DIR": str(git_dir),
                "GIT_WORK_TREE": str(tree),
                "GIT_INDEX_FILE": str(scratch / "index"),
                "GIT_OBJECT_DIRECTORY": str(scratch / "objects"),
                "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects),
            }
            present = [rel for rel, data in files.items() if data is not None]
            code, out = await _git(["update-index", "--add", "--", *present], tree, env)
            if code != 0:
                return GitOutcome(False, {}, out)
            argv = ["-c", "rerere.enabled=false", "apply", "--3way", *argv[1:]]
        code, out = await _git(argv, tree, env)
        if code != 0:
            return GitOutcome(False, {}, out)
        result = await asyncio.to_thread(_collect, tree, list(files))
        return GitOutcome(True, result, out)
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)
