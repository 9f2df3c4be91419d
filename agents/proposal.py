"""Proposals: the one answer format of every agent, parsed strictly from model output.

An answer is a JSON array of objects (bare, fenced, or amid prose; `{"proposals": [...]}` and a
single object are accepted too, since JSON mode only returns objects):

    {"agent": "SecurityGuardian", "title": "...", "description": "...",
     "diff": "--- a/src/auth.py\\n+++ b/src/auth.py\\n@@ ...", "risk_level": "critical",
     "rationale": "...", "files_touched": ["src/auth.py"], "estimated_loc_change": 3,
     "tags": ["security"]}

`title`, `diff` and `risk_level` are required. `agent` defaults to the caller's name;
`description`, `rationale` and `tags` default to empty; `files_touched` and
`estimated_loc_change` default to what the diff says. A present field of the wrong type, an
unknown risk level or a diff that is not a unified diff rejects its item with a reason phrased
for the model; the other items are kept. The diff itself is kept as written (minus a fence
around it): repairing hunk counts is the patch applier's job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, cast, get_args

from agents.model_json import JsonNotFound, find_json, strip_fence

__all__ = [
    "RISK_LEVELS",
    "ParseOutcome",
    "Proposal",
    "RiskLevel",
    "diff_paths",
    "parse_proposals",
]

RiskLevel = Literal["low", "medium", "high", "critical"]
RISK_LEVELS: Final[tuple[str, ...]] = get_args(RiskLevel)

_HUNK: Final = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@", re.M)
_HEADER: Final = re.compile(r"^--- (\S.*)\n\+\+\+ (\S.*)$", re.M)
_GIT_HEADER: Final = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.M)


@dataclass(frozen=True, slots=True)
class Proposal:
    """One proposed change: a unified diff and why it is worth making."""

    agent: str
    title: str
    description: str
    diff: str
    risk_level: RiskLevel
    rationale: str
    files_touched: tuple[str, ...]
    estimated_loc_change: int
    tags: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The proposal in the answer format (for prompts that show proposals to agents)."""
        return {
            "agent": self.agent,
            "title": self.title,
            "description": self.description,
            "diff": self.diff,
            "risk_level": self.risk_level,
            "rationale": self.rationale,
            "files_touched": list(self.files_touched),
            "estimated_loc_change": self.estimated_loc_change,
            "tags": list(self.tags),
        }


@dataclass(frozen=True, slots=True)
class ParseOutcome:
    """The proposals that parsed, and one error per item (or answer) that did not."""

    proposals: tuple[Proposal, ...]
    errors: tuple[str, ...]
    accepted_items: tuple[int, ...] = ()

    def feedback(self) -> str:
        """A message to send back to the model: what was wrong, and what not to resend."""
        if not self.errors:
            return ""
        lines = ["Your answer had problems:", *(f"- {error}" for error in self.errors)]
        if self.accepted_items:
            numbers = ", ".join(str(n) for n in self.accepted_items)
            lines.append(f"Items {numbers} were accepted; do not send them again.")
        lines.append("Answer with a JSON array holding only the corrected proposals.")
        return "\n".join(lines)


def _is_answer(value: object) -> bool:
    if isinstance(value, list):
        # Any object makes it an answer (bad items are reported); `[1]` in prose is not one.
        return any(isinstance(item, dict) for item in value)
    return isinstance(value, dict) and (bool(value.get("proposals")) or "diff" in value)


def _is_empty_answer(value: object) -> bool:
    return value == [] or value == {"proposals": []}


def _find_answer(text: str) -> object:
    # A "[]" mentioned in prose must not hide the real array that follows it.
    try:
        return find_json(text, _is_answer)
    except JsonNotFound as exc:
        if exc.broken:
            raise
        return find_json(text, _is_empty_answer)


def parse_proposals(text: str, *, agent: str | None = None) -> ParseOutcome:
    """Parse a model's answer into proposals; `agent` names the answering agent.

    Never raises on bad model output: every problem is an entry of `errors`.
    """
    if not text.strip():
        return ParseOutcome(
            (), ("the answer is empty; answer [] when there is nothing to propose",)
        )
    try:
        found = _find_answer(text)
    except JsonNotFound as exc:
        return ParseOutcome((), (f"{exc}; answer with a JSON array of proposals",))
    items: object = found
    if isinstance(found, dict):
        items = found.get("proposals", [found])
    if not isinstance(items, list):
        return ParseOutcome((), ("'proposals' must be a JSON array of proposal objects",))
    proposals: list[Proposal] = []
    errors: list[str] = []
    accepted: list[int] = []
    for number, item in enumerate(items, 1):
        try:
            proposals.append(_proposal(item, agent))
            accepted.append(number)
        except _ItemInvalid as exc:
            errors.append(f"item {number}: {exc}")
    return ParseOutcome(tuple(proposals), tuple(errors), tuple(accepted))


class _ItemInvalid(ValueError):
    pass


def _text(item: Mapping[str, object], key: str, *, default: str | None = None) -> str:
    value = item.get(key, default)
    if value is None:
        raise _ItemInvalid(f"{key} is missing")
    if not isinstance(value, str):
        raise _ItemInvalid(f"{key} must be a string, not {_json_type(value)}")
    return value


def _strings(item: Mapping[str, object], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = item.get(key)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _ItemInvalid(f"{key} must be an array of non-empty strings")
    return tuple(cast(list[str], value))


def _json_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", list: "an array"}
    names |= {dict: "an object", str: "a string"}
    return names.get(type(value), "null")


def _proposal(item: object, agent: str | None) -> Proposal:
    if not isinstance(item, dict):
        raise _ItemInvalid(f"expected a proposal object, got {_json_type(item)}")
    title = _text(item, "title").strip()
    if not title:
        raise _ItemInvalid("title is empty")
    risk = _text(item, "risk_level").strip().lower()
    if risk not in RISK_LEVELS:
        raise _ItemInvalid(
            f"risk_level {item['risk_level']!r} is not one of {', '.join(RISK_LEVELS)}"
        )
    diff = strip_fence(_text(item, "diff"))
    if not _HUNK.search(diff) or not (_HEADER.search(diff) or _GIT_HEADER.search(diff)):
        raise _ItemInvalid(
            "diff is not a unified diff (it needs '--- a/PATH' and '+++ b/PATH' lines, then "
            "'@@ -l,n +l,n @@' hunks)"
        )
    name = _text(item, "agent", default=agent or "").strip() or agent
    if not name:
        raise _ItemInvalid("agent is missing")
    loc = item.get("estimated_loc_change")
    if loc is not None and (isinstance(loc, bool) or not isinstance(loc, int)):
        raise _ItemInvalid(f"estimated_loc_change must be a whole number, not {_json_type(loc)}")
    return Proposal(
        agent=name,
        title=title,
        description=_text(item, "description", default=""),
        diff=diff,
        risk_level=cast(RiskLevel, risk),
        rationale=_text(item, "rationale", default=""),
        files_touched=_strings(item, "files_touched", diff_paths(diff)),
        estimated_loc_change=_loc_change(diff) if loc is None else loc,
        tags=_strings(item, "tags", ()),
    )


def _header_path(raw: str) -> str | None:
    path = raw.split("\t", 1)[0].strip()
    if path == "/dev/null":
        return None
    return path[2:] if path.startswith(("a/", "b/")) else path


def diff_paths(diff: str) -> tuple[str, ...]:
    """The paths a unified diff changes, in order, without `a/` / `b/` prefixes."""
    paths: list[str] = []
    for old, new in _HEADER.findall(diff):
        path = _header_path(new) or _header_path(old)
        if path and path not in paths:
            paths.append(path)
    if not paths:
        for _old, new in _GIT_HEADER.findall(diff):
            if new not in paths:
                paths.append(new)
    return tuple(paths)


def _loc_change(diff: str) -> int:
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++ "):
            added += 1
        elif line.startswith("-") and not line.startswith("--- "):
            removed += 1
    return added - removed
