"""The repository pack as values: a checkout's snapshot, and what a model is shown of it.

`agents.context` builds a pack from a snapshot; `agents.pack_render` renders it as prompt text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from agents.hot_paths import HotPath
from agents.usage import estimate_tokens

__all__ = ["ContextPack", "PackedFile", "Reason", "RepoFiles"]

Reason = Literal["important", "hot", "touched", "neighbour"]


@dataclass(frozen=True, slots=True)
class RepoFiles:
    """A snapshot of a checkout: every tracked path, and the text of those that were read
    (regular text files within the size caps; symlinks are never followed)."""

    paths: tuple[str, ...]
    texts: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_texts(cls, texts: Mapping[str, str]) -> RepoFiles:
        """A snapshot of files held in memory."""
        return cls(tuple(sorted(texts)), MappingProxyType(dict(texts)))


@dataclass(frozen=True, slots=True)
class PackedFile:
    """A file's text in the pack; `lines` is set when only an excerpt around them fits."""

    path: str
    reason: Reason
    text: str
    tokens: int
    truncated: bool = False
    lines: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ContextPack:
    """What the model sees of the repository, and why each file is in it."""

    tree: tuple[str, ...]
    tree_omitted: int
    log_tail: str
    files: tuple[PackedFile, ...]
    names_only: tuple[tuple[str, Reason], ...]
    hot_paths: tuple[HotPath, ...]
    budget_tokens: int
    used_tokens: int

    def as_dict(self) -> dict[str, object]:
        """The selection, without file texts (for `ambient debug context --json` and logs)."""
        return {
            "budget_tokens": self.budget_tokens,
            "used_tokens": self.used_tokens,
            "tree": {"listed": len(self.tree), "omitted": self.tree_omitted},
            "log_tail_tokens": estimate_tokens([self.log_tail]) if self.log_tail else 0,
            "files": [
                {
                    "path": f.path,
                    "reason": f.reason,
                    "tokens": f.tokens,
                    "truncated": f.truncated,
                    "lines": list(f.lines),
                }
                for f in self.files
            ],
            "names_only": [{"path": p, "reason": r} for p, r in self.names_only],
            "hot_paths": [
                {
                    "path": h.path,
                    "lines": list(h.lines),
                    "mentions": h.mentions,
                    "kinds": list(h.kinds),
                }
                for h in self.hot_paths
            ],
        }
