"""The repository pack as values: a checkout's snapshot, and what a model is shown of it.

`agents.context` builds a pack from a snapshot; `agents.pack_render` renders it as prompt text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from agents.findings import Finding
from agents.hot_paths import HotPath
from agents.repo_map import RepoMap
from agents.usage import estimate_tokens

__all__ = ["ContextPack", "PackedFile", "Reason", "RepoFiles"]

#: Why a file is in a pack: `finding`, `prioritized` and `turn` are a sweep's (a specialist's
#: findings, its `prioritize_paths`, and the rotation that gives every file its turn).
Reason = Literal["important", "hot", "touched", "neighbour", "finding", "prioritized", "turn"]


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
    """A file's text in the pack; `lines` is set when only an excerpt around them fits;
    `detail` says more than `reason` (`finding S602 line 41`)."""

    path: str
    reason: Reason
    text: str
    tokens: int
    truncated: bool = False
    lines: tuple[int, ...] = ()
    detail: str = ""

    @property
    def why(self) -> str:
        """The reason as shown to people and models: the detail when there is one."""
        return self.detail or self.reason


@dataclass(frozen=True, slots=True)
class ContextPack:
    """What the model sees of the repository, and why each file is in it.

    A sweep's pack shows the repository map instead of the file tree, and the findings that
    chose its files; `names_only` holds each file left out for lack of room, with its reason.
    """

    tree: tuple[str, ...]
    tree_omitted: int
    log_tail: str
    files: tuple[PackedFile, ...]
    names_only: tuple[tuple[str, str], ...]
    hot_paths: tuple[HotPath, ...]
    budget_tokens: int
    used_tokens: int
    repo_map: RepoMap | None = None
    findings: tuple[Finding, ...] = ()
    #: How many more files were left out than `names_only` names (a sweep names what fits).
    names_omitted: int = 0

    def as_dict(self) -> dict[str, object]:
        """The selection, without file texts (for `ambient debug context --json` and logs)."""
        shown: dict[str, object] = {
            "budget_tokens": self.budget_tokens,
            "used_tokens": self.used_tokens,
            "tree": {"listed": len(self.tree), "omitted": self.tree_omitted},
            "log_tail_tokens": estimate_tokens([self.log_tail]) if self.log_tail else 0,
            "files": [
                {
                    "path": f.path,
                    "reason": f.why,
                    "kind": f.reason,
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
        if self.repo_map is not None:
            # A sweep's pack shows the map in place of the file tree.
            del shown["tree"]
            shown["map"] = self.repo_map.as_dict()
            shown["findings"] = [f.as_dict() for f in self.findings]
            shown["names_omitted"] = self.names_omitted
        return shown
