"""A proposal's fingerprint: who proposed it and what it changes, whatever its wording.

The fingerprint is the agent's name and a hash of the normalized change: each file's path and
the lines the diff removes and adds, in order, with all whitespace dropped (re-indentation,
trailing spaces and blank lines do not make another proposal) and the hunk headers and context
left out (a rebase that moves the lines does not either). Two proposals that change the same
lines in different ways differ. Pure text in, text out.

Ambient writes it in two places GitHub keeps: a hidden marker in the PR body (and the sweep's
evidence, which a dashboard-approved PR takes as its body) and a commit trailer. A later sweep
recognises its earlier proposal there, so what a maintainer decided survives a flushed Redis.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Final

__all__ = [
    "TRAILER",
    "fingerprint",
    "fingerprint_marker",
    "fingerprint_of_text",
    "fingerprint_trailer",
]

TRAILER: Final = "Ambient-Fingerprint"
_MARKER: Final = re.compile(r"<!-- ambient:proposal (?P<fp>[A-Za-z0-9_.-]+/[0-9a-f]{16}) -->")
_TRAILER: Final = re.compile(
    rf"^{TRAILER}: (?P<fp>[A-Za-z0-9_.-]+/[0-9a-f]{{16}})\s*$", re.MULTILINE
)
_SPACE: Final = re.compile(r"\s+")


def _path(header: str) -> str:
    """The path of a `--- a/x` or `+++ b/x` line ('' for /dev/null)."""
    name = header[4:].split("\t", 1)[0].strip()
    if name == "/dev/null":
        return ""
    return name[2:] if name[:2] in ("a/", "b/") else name


def _changes(diff: str) -> Iterator[tuple[str, str]]:
    """(path, "+line" or "-line") for every removed or added line, whitespace dropped."""
    path = ""
    old = ""
    for line in diff.splitlines():
        if line.startswith("--- "):
            old = _path(line)
            continue
        if line.startswith("+++ "):
            path = _path(line) or old
            continue
        if line[:1] in ("+", "-") and path:
            text = _SPACE.sub("", line[1:])
            if text:
                yield path, line[0] + text


def fingerprint(agent: str, diff: str) -> str:
    """`<agent>/<16 hex>`: the agent and a hash of the change `diff` (a unified diff) makes."""
    by_path: dict[str, list[str]] = {}
    for path, change in _changes(diff):
        by_path.setdefault(path, []).append(change)
    digest = hashlib.sha256()
    for path in sorted(by_path):
        digest.update(path.encode() + b"\0")
        for change in by_path[path]:
            digest.update(change.encode() + b"\n")
        digest.update(b"\0")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", agent) or "agent"
    return f"{name}/{digest.hexdigest()[:16]}"


def fingerprint_marker(fp: str) -> str:
    """The hidden marker of a PR body (rendered invisibly by GitHub)."""
    return f"<!-- ambient:proposal {fp} -->"


def fingerprint_trailer(fp: str) -> str:
    """The commit message trailer line."""
    return f"{TRAILER}: {fp}"


def fingerprint_of_text(text: str) -> str | None:
    """The fingerprint a PR body's marker or a commit message's trailer holds, or None."""
    found = _MARKER.search(text) or _TRAILER.search(text)
    return found["fp"] if found else None
