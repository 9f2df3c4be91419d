"""Pure parsing of `@<app-slug> <command>` in comment bodies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["Command", "parse_command"]

CommandKind = Literal["fix", "sweep", "help", "unknown"]
_FENCE: Final = re.compile(r"^\s*(```|~~~)")
_THIS: Final = frozenset({"this", "this.", "this!", "it", "it."})


@dataclass(frozen=True, slots=True)
class Command:
    """A command addressed to the App; `instructions` is free text for `fix`."""

    kind: CommandKind
    instructions: str = ""
    text: str = ""


def _addressing_line(lines: list[str], mention: str) -> int | None:
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        stripped = line.strip()
        if in_fence or stripped.startswith(">"):
            continue
        lowered = stripped.lower()
        if lowered.startswith(mention) and (
            len(lowered) == len(mention)
            or not (lowered[len(mention)].isalnum() or lowered[len(mention)] in "-_")
        ):
            return index
    return None


def parse_command(body: str, app_slug: str) -> Command | None:
    """The command of the first line (outside quotes and code blocks) that starts with
    `@<app_slug>`, or None when no line addresses the App."""
    lines = body.replace("\r\n", "\n").split("\n")
    mention = "@" + app_slug.lower()
    index = _addressing_line(lines, mention)
    if index is None:
        return None
    rest = lines[index].strip()[len(mention) :].strip()
    words = rest.split(maxsplit=1)
    verb = words[0].lower().rstrip(".:!,") if words else ""
    after = (words[1] if len(words) > 1 else "").strip()
    following = "\n".join(lines[index + 1 :]).strip()
    if verb == "fix":
        first = "" if after.lower() in _THIS else after
        # Keep a blank line where the comment had one: it decides what Markdown shows (a
        # reference definition after a blank line is hidden, inside a paragraph it is text).
        blank = index + 1 < len(lines) and not lines[index + 1].strip()
        instructions = ("\n\n" if blank else "\n").join(p for p in (first, following) if p)
        return Command("fix", instructions=instructions, text=rest)
    if verb == "sweep":
        return Command("sweep", text=rest)
    if verb == "help":
        return Command("help", text=rest)
    return Command("unknown", text=rest)
