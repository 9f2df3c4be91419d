"""Find the JSON value in a model's answer: bare, in a ``` fence, or amid prose.

Strings may hold raw newlines and tabs (models write diffs that way); nothing else is
repaired. When no candidate parses, the error says where the first one broke, in words a model
can act on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Final

__all__ = ["JsonNotFound", "find_json", "strip_fence"]

# Line-anchored fences: a fence inside a JSON string is never at the start of a line unless the
# model wrote raw newlines into the string, and the scan below still finds that JSON.
_FENCE: Final = re.compile(r"^(`{3,}|~{3,})[ \t]*([\w+.-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.M | re.S)
_OPENER: Final = re.compile(r"[\[{]")
_MAX_SCAN: Final = 500
_DECODER: Final = json.JSONDecoder(strict=False)


class JsonNotFound(ValueError):
    """No acceptable JSON value in the text; the message is phrased for the model.

    `broken` is True when JSON was there but did not parse.
    """

    def __init__(self, message: str, *, broken: bool) -> None:
        super().__init__(message)
        self.broken = broken


def strip_fence(text: str) -> str:
    """`text` without one Markdown code fence around it (```diff … ```), else unchanged."""
    stripped = text.strip()
    found = _FENCE.fullmatch(stripped)
    return found[3] if found else text


def _candidates(text: str) -> Iterator[tuple[str, int, bool]]:
    """(text, offset, telling): `telling` marks candidates whose parse error is worth reporting:
    the whole answer, a fence's body, or an opener that begins a line."""
    whole = text.strip()
    yield whole, 0, whole[:1] in ("[", "{")
    for fence in _FENCE.finditer(text):
        if fence[2].lower() in ("", "json", "jsonc", "javascript", "js"):
            body = fence[3].strip()
            yield body, 0, body[:1] in ("[", "{")
    for count, opener in enumerate(_OPENER.finditer(text)):
        if count >= _MAX_SCAN:
            return
        line_start = text.rfind("\n", 0, opener.start()) + 1
        yield text, opener.start(), not text[line_start : opener.start()].strip()


def find_json(text: str, accept: Callable[[object], bool]) -> object:
    """The first JSON value in `text` for which `accept` is true.

    Raises `JsonNotFound` saying why when there is none.
    """
    first_error: json.JSONDecodeError | None = None
    for candidate, start, telling in _candidates(text):
        try:
            value, _ = _DECODER.raw_decode(candidate, start)
        except json.JSONDecodeError as exc:
            if first_error is None and telling:
                first_error = exc
            continue
        if accept(value):
            return value
    if first_error is not None:
        raise JsonNotFound(
            f"the JSON in the answer does not parse: {first_error.msg} at line "
            f"{first_error.lineno} column {first_error.colno}",
            broken=True,
        )
    raise JsonNotFound("the answer holds no JSON array", broken=False)
