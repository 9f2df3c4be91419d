"""Run git asynchronously and get a value back; a failure raises `GitFailed` with git's words.

Secrets never reach argv here: callers pass credentials through `env` (see `bot.git.workspace`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.errors import AmbientError, Permanent, Retryable

__all__ = ["GitFailed", "GitRefused", "GitResult", "GitUnreachable", "base_env", "run_git"]

_STDERR_TAIL: Final = 600

# Variables that let a user's or the host's git configuration leak into ours.
_DROPPED: Final = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG", "GIT_ASKPASS")


class GitFailed(AmbientError):
    """A git command exited non-zero; the message ends with the tail of its stderr."""

    def __init__(self, message: str, returncode: int, stderr: str) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class GitRefused(GitFailed, Permanent):
    """git failed in a way that running it again will not fix (bad ref, refused access)."""


class GitUnreachable(GitFailed, Retryable):
    """The git server could not be reached or answered 5xx: worth a later retry."""


# What git (and its curl) print when the server, not the request, is at fault.
_TRANSIENT: Final = (
    "could not resolve host",
    "connection refused",
    "connection timed out",
    "operation timed out",
    "the remote end hung up unexpectedly",
    "returned error: 500",
    "returned error: 502",
    "returned error: 503",
    "returned error: 504",
)


@dataclass(frozen=True, slots=True)
class GitResult:
    """What one git command printed; `stdout` is bytes because diffs may be binary."""

    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for git that ignores global and system config and never prompts."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED and not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Ambient",
        GIT_AUTHOR_EMAIL="ambient@localhost",
        GIT_COMMITTER_NAME="Ambient",
        GIT_COMMITTER_EMAIL="ambient@localhost",
        LC_ALL="C",
    )
    if extra:
        env.update(extra)
    return env


async def run_git(
    args: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    stdin: bytes | None = None,
) -> GitResult:
    """Run `git ARGS` in `cwd` with `base_env(env)`; raise `GitFailed` on a non-zero exit."""
    argv = ("git", *args)
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=base_env(env),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await process.communicate(stdin)
    except asyncio.CancelledError:
        # A cancelled job must not leave a git process writing into a workspace being removed.
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    returncode = -1 if process.returncode is None else process.returncode
    result = GitResult(tuple(args), returncode, out, err.decode("utf-8", "replace"))
    if check and result.returncode != 0:
        tail = " ".join(result.stderr.strip()[-_STDERR_TAIL:].split())
        lowered = result.stderr.lower()
        error = GitUnreachable if any(t in lowered for t in _TRANSIENT) else GitRefused
        raise error(
            f"git {args[0]} failed in {cwd.name} (exit {result.returncode}): {tail}",
            result.returncode,
            result.stderr,
        )
    return result
