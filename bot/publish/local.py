"""The local publisher: each accepted proposal becomes a review branch and a `.patch` file.

The user's working tree, index and current branch are never touched: the commit is made in the
proposal's worktree (inside Ambient's own clone), then fetched into the user's repository as a
new branch `ambient/<kind>/<slug>`. Existing branches are never moved.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from agents.proposal import Proposal
from bot.git import GitFailed, run_git
from bot.pipeline import Publication

__all__ = ["LocalPublisher", "commit_message", "slugify", "state_dir"]

_AUTHOR: Final = ("-c", "user.name=Ambient", "-c", "user.email=ambient@localhost")
_MAX_SUFFIX: Final = 50


def slugify(text: str, limit: int = 48) -> str:
    """A branch-safe slug of `text`: lowercase words joined by dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "change"


def commit_message(proposal: Proposal) -> str:
    """The commit message of a proposal: its title, then why."""
    body = "\n\n".join(part for part in (proposal.description, proposal.rationale) if part)
    return proposal.title + (f"\n\n{body}" if body else "") + f"\n\nProposed-by: {proposal.agent}"


def state_dir(target: Path) -> Path:
    """The checkout's `.ambient/` (proposals, sweep cursor), made with a `.gitignore` that
    keeps it out of the repository."""
    folder = target / ".ambient"
    folder.mkdir(exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Ambient's proposals and state; not part of the repository.\n*\n")
    return folder


class LocalPublisher:
    """Publishes into the repository at `target` (a local checkout)."""

    def __init__(self, target: Path, kind: str) -> None:
        self._target = target
        self._kind = kind
        self._proposals_dir = target / ".ambient" / "proposals"

    async def publish(
        self, proposal: Proposal, source_repo: Path, worktree: Path, diff: str, number: int
    ) -> Publication:
        """Commit what is staged in `worktree` (the gated change), make it a new branch of the
        target, and write the patch file."""
        await run_git([*_AUTHOR, "commit", "--quiet", "-m", commit_message(proposal)], worktree)
        sha = (await run_git(["rev-parse", "HEAD"], worktree)).text.strip()
        handle = f"refs/ambient/proposal-{number}"
        await run_git(["update-ref", handle, sha], source_repo)
        branch = await self._new_branch(source_repo, handle, slugify(proposal.title))
        patch_file = self._write_patch(branch, diff)
        return Publication(branch=branch, commit=sha, patch_file=str(patch_file))

    async def _new_branch(self, source_repo: Path, handle: str, slug: str) -> str:
        for suffix in range(1, _MAX_SUFFIX + 1):
            branch = f"ambient/{self._kind}/{slug}" + (f"-{suffix}" if suffix > 1 else "")
            exists = await run_git(
                ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                self._target,
                check=False,
            )
            if exists.returncode == 0:
                continue
            # No "+": a branch that appeared meanwhile is never overwritten.
            spec = f"{handle}:refs/heads/{branch}"
            try:
                await run_git(
                    ["fetch", "--quiet", "--no-tags", str(source_repo), spec], self._target
                )
            except GitFailed:
                continue
            return branch
        raise GitFailed(f"no free branch name for ambient/{self._kind}/{slug}", 1, "")

    def _write_patch(self, branch: str, diff: str) -> Path:
        state_dir(self._target)
        self._proposals_dir.mkdir(parents=True, exist_ok=True)
        path = self._proposals_dir / (branch.removeprefix("ambient/").replace("/", "-") + ".patch")
        path.write_text(diff, encoding="utf-8", errors="surrogateescape")
        return path
