"""Which finding prompted a specialist's proposal, said in its description (and so in its PR).

A proposal is matched with the findings of the pack its specialist was shown: those whose code
it names among its tags (the prompt asks for that) and whose file it changes, else the
findings of the files it changes, else those of a module its added lines import or name (a new
test of an untested module changes only the test). A file shown for its turn, with no finding,
is said as such. Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from agents.findings import Finding
from agents.pack import ContextPack
from agents.proposal import Proposal, diff_paths
from agents.risk import changed_lines

__all__ = ["prompted_by", "with_prompt"]

SHOWN: Final = 3


def _stem(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    name = name.rsplit(".", 1)[0]
    return path.rsplit("/", 2)[-2] if name == "__init__" and "/" in path else name


def prompted_by(proposal: Proposal, pack: ContextPack) -> tuple[Finding, ...]:
    """The findings of `pack` that prompted `proposal`, weightiest first (at most three)."""
    files = set(diff_paths(proposal.diff)) | set(proposal.files_touched)
    tags = {tag.lower() for tag in proposal.tags}
    own = [f for f in pack.findings if f.path in files]
    named = [f for f in own if f.code.lower() in tags]
    if named or own:
        return tuple((named or own)[:SHOWN])
    added = "\n".join(changed_lines(proposal.diff)[0])
    words = set(re.findall(r"[A-Za-z_]\w*", added))
    return tuple(f for f in pack.findings if _stem(f.path) in words)[:SHOWN]


def _said(findings: Sequence[Finding]) -> str:
    return "; ".join(f"{f.reason} in `{f.path}` ({f.message})" for f in findings)


def with_prompt(proposal: Proposal, pack: ContextPack) -> Proposal:
    """`proposal` with a last paragraph naming what prompted it: its findings, or the turn of
    the file it changes; unchanged when neither is known."""
    found = prompted_by(proposal, pack)
    if found:
        note = f"**Prompted by:** {_said(found)}."
    else:
        files = set(diff_paths(proposal.diff)) | set(proposal.files_touched)
        turns = sorted(f.path for f in pack.files if f.reason == "turn" and f.path in files)
        if not turns:
            return proposal
        shown = ", ".join(f"`{path}`" for path in turns)
        note = f"**Prompted by:** the sweep showed {shown} for its turn (no finding)."
    description = f"{proposal.description.rstrip()}\n\n{note}" if proposal.description else note
    return replace(proposal, description=description)
