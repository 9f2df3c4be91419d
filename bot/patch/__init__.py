"""Atomic application of a model's patch: parse it, place each hunk, plan the whole change, and
write it or nothing, confined to the worktree.
"""

from __future__ import annotations

from bot.patch.apply import DebugBundle, apply, apply_sync
from bot.patch.paths import DEFAULT_FORBIDDEN, PathPolicy, glob_matches

__all__ = ["DEFAULT_FORBIDDEN", "DebugBundle", "PathPolicy", "apply", "apply_sync", "glob_matches"]
