"""The one gateway to git: async git processes, and the job's workspace (clone with the token in
the environment only, worktrees, diffs, rollback).
"""

from __future__ import annotations

from bot.git.changes import FileChange
from bot.git.run import GitFailed, run_git
from bot.git.tree import EMPTY_TREE, MAX_READ_BYTES, TreeDiff, tree_diff
from bot.git.workspace import Workspace, reap_stale

__all__ = [
    "EMPTY_TREE",
    "MAX_READ_BYTES",
    "FileChange",
    "GitFailed",
    "TreeDiff",
    "Workspace",
    "reap_stale",
    "run_git",
    "tree_diff",
]
