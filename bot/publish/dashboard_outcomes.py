"""The outcomes section of the quality dashboard: what merged and what did not, per specialist,
which specialists the record holds back, what a person's PR already does, and the proposals
that are not proposed again, each with a "propose again" box.

Pure text in, text out. The section lives between two hidden markers, so it is replaced in
place without touching the boxes above it. Below the boxes, hidden, the fingerprint of each
branch that waited on the dashboard: a branch a maintainer deleted is a dismissed proposal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "Dismissable",
    "OutcomesSection",
    "again_ticked",
    "render_section",
    "section_of",
    "waiting_of",
    "with_section",
]

BEGIN: Final = "<!-- ambient:outcomes -->"
END: Final = "<!-- /ambient:outcomes -->"
_AGAIN: Final = re.compile(r"^- \[(?P<box>[ xX])\] propose again: .* \(`(?P<fp>[^`]+)`\)", re.M)
_WAITING: Final = re.compile(r"^<!-- ambient:waiting (?P<json>\{[^\n]*\}) -->$", re.M)


@dataclass(frozen=True, slots=True)
class Dismissable:
    """A proposal that is not proposed again: its title, fingerprint and closed PR (0: none,
    it was dismissed from the dashboard), and whether a maintainer ticked "propose again"."""

    title: str
    fp: str
    number: int = 0
    ticked: bool = False


@dataclass(frozen=True, slots=True)
class OutcomesSection:
    """What the section shows."""

    table: str = ""
    notes: tuple[str, ...] = ()
    rejected: tuple[Dismissable, ...] = ()
    #: Branch → fingerprint of every proposal that waits (or waited) for approval.
    waiting: Mapping[str, str] = field(default_factory=dict)


def _clean(text: str) -> str:
    return re.sub(r"[`\[\]\r\n<>]+", " ", text).strip()[:200] or "change"


def render_section(section: OutcomesSection) -> str:
    """The section's text, markers included."""
    lines = [BEGIN, "### Outcomes"]
    if section.table:
        lines += ["", section.table]
    lines += [f"- {_clean(note)}" for note in section.notes]
    if section.rejected:
        lines += [
            "",
            "Not proposed again (a maintainer closed its PR, or removed its line or its branch); "
            "reopen the PR, or tick its box, to have it proposed again:",
        ]
        for item in section.rejected:
            box = "x" if item.ticked else " "
            where = f" — #{item.number}" if item.number else " — dismissed from the dashboard"
            lines.append(f"- [{box}] propose again: {_clean(item.title)} (`{item.fp}`){where}")
    if section.waiting:
        lines.append(
            f"<!-- ambient:waiting {json.dumps(dict(section.waiting), sort_keys=True)} -->"
        )
    lines.append(END)
    return "\n".join(lines)


def section_of(body: str) -> str:
    """The section a body holds, markers included ('' when none)."""
    start, end = body.find(BEGIN), body.find(END)
    if start < 0 or end < start:
        return ""
    return body[start : end + len(END)]


def with_section(body: str, section: str) -> str:
    """`body` with its section replaced by `section` ('' removes it), or it added at the end."""
    old = section_of(body)
    if old:
        return body.replace(old, section) if section else body.replace(old + "\n", "")
    if not section:
        return body
    return body.rstrip("\n") + "\n\n" + section + "\n"


def again_ticked(body: str) -> frozenset[str]:
    """Fingerprints whose "propose again" box is ticked."""
    return frozenset(m["fp"] for m in _AGAIN.finditer(section_of(body)) if m["box"] != " ")


def waiting_of(body: str) -> dict[str, str]:
    """Branch → fingerprint of the proposals that waited on the dashboard."""
    found = _WAITING.search(section_of(body))
    if found is None:
        return {}
    try:
        data = json.loads(found["json"])
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
