"""A change to one file as git records it: its new content and mode.

The workspace produces these from a worktree's diff, and the GitHub gateway turns them into a
commit through the Git Data API, so the value sits below both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FileChange", "FileMode"]

FileMode = Literal["100644", "100755", "120000"]


@dataclass(frozen=True, slots=True)
class FileChange:
    """New content of one path (None deletes it) and its git mode (executable, symlink)."""

    content: bytes | None
    mode: FileMode = "100644"
