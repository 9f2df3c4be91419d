"""Clean trigger text from GitHub (comments, PR bodies) before it reaches a prompt.

What a maintainer cannot see on GitHub must not steer the model: hidden HTML comments,
Markdown's invisible link-reference "comments" (`[//]: # (…)`), and invisible characters
(zero-width and bidirectional controls, Unicode tag characters, variation selectors) are
removed. Fenced code blocks are shown literally on GitHub, so comments inside them stay.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["sanitize_trigger_text"]

_FENCE_LINE: Final = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CLOSED_COMMENT: Final = re.compile(r"<!--.*?-->", re.S)
_LINK_COMMENT: Final = re.compile(
    r"^ {0,3}\[[^\]\n]*\]:\s*(?:<>|#)\s*(?:\([^\n]*\)|\"[^\n]*\")?[ \t]*$"
)


def _visible(char: str) -> bool:
    if char in "\n\t":
        return True
    if unicodedata.category(char) in ("Cf", "Cc", "Co", "Cn"):
        return False
    code = ord(char)
    # Variation selectors can carry hidden bytes (one per selector) after any character.
    return not (0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF)


def _strip_chars(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(char for char in text if _visible(char))


class _Reader:
    """Line by line, the way GitHub renders: fences show text literally; a comment hides
    everything up to its `-->` (or to the end when unclosed), fences included."""

    def __init__(self) -> None:
        self.fence: str | None = None
        self.in_comment = False

    def line(self, line: str) -> str | None:
        if self.in_comment:
            end = line.find("-->")
            if end < 0:
                return None
            self.in_comment = False
            line = line[end + 3 :]
        elif self.fence is not None:
            marker = _FENCE_LINE.match(line)
            if marker and marker[1][0] == self.fence[0] and len(marker[1]) >= len(self.fence):
                self.fence = None
            return line
        return self._prose(line)

    def _prose(self, line: str) -> str | None:
        if marker := _FENCE_LINE.match(line):
            self.fence = marker[1]
            return line
        line = _CLOSED_COMMENT.sub("", line)
        start = line.find("<!--")
        if start >= 0:
            self.in_comment = True
            line = line[:start]
            return line if line.strip() else None
        if _LINK_COMMENT.match(line):
            return None
        return line


def sanitize_trigger_text(text: str) -> str:
    """`text` as a reader sees it on GitHub: no hidden comments or invisible characters."""
    reader = _Reader()
    kept = (reader.line(line) for line in _strip_chars(text).split("\n"))
    return "\n".join(line for line in kept if line is not None).strip()
