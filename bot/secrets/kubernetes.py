"""Kubernetes Secret manifests: every value under `data:` (base64) or `stringData:` is a
secret by declaration, so the gate reports each one that is not a placeholder.

Pure, line-based (the gate sees added lines, not parsed YAML): a file whose added lines say
`kind: Secret` has its `data:` / `stringData:` blocks read by indentation. A `data:` value is
decoded first, so a base64-wrapped `changeme` is a placeholder and a base64-wrapped token is
not; a value that is not valid base64 is reported as it is (the API server would refuse it,
but it was still written down).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["SecretValue", "manifest_value_lines", "secret_values"]

_KIND = re.compile(r"^\s*kind:\s*[\"']?Secret[\"']?\s*$")
_BLOCK = re.compile(r"^(\s*)(data|stringData):\s*$")
_ENTRY = re.compile(r"^(\s*)[\"']?([\w.-]+)[\"']?:\s*[\"']?([^\"'\s#]+)[\"']?\s*(?:#.*)?$")


@dataclass(frozen=True, slots=True)
class SecretValue:
    """One value of a Secret manifest: its line, key, and the text it stands for."""

    line: int
    key: str
    value: str
    decoded: str
    encoded: bool


def manifest_value_lines(lines: tuple[tuple[int, str], ...]) -> frozenset[int]:
    """Line numbers of every `data:` / `stringData:` value of a Secret manifest (judged here,
    placeholders included), so that guesses on those lines can defer to the decoded value."""
    return frozenset(value.line for value in _values(lines))


def secret_values(
    lines: tuple[tuple[int, str], ...], is_stand_in: Callable[[str], bool]
) -> Iterator[SecretValue]:
    """The values of Secret manifests among `lines` that `is_stand_in` does not excuse."""
    for value in _values(lines):
        if len(value.decoded) >= 4 and not is_stand_in(value.decoded):
            yield value


def _values(lines: tuple[tuple[int, str], ...]) -> Iterator[SecretValue]:
    if not any(_KIND.match(text) for _, text in lines):
        return
    block: tuple[int, bool] | None = None  # (indent of "data:", values are base64)
    for number, text in lines:
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        opened = _BLOCK.match(text)
        if opened:
            block = (len(opened.group(1)), opened.group(2) == "data")
            continue
        indent = len(text) - len(text.lstrip())
        if block is None or indent <= block[0]:
            block = None
            continue
        entry = _ENTRY.match(text)
        if entry is None:
            continue
        value = entry.group(3)
        decoded = _decode(value) if block[1] else value
        shown = decoded if decoded is not None else value
        if value in ("|", ">"):
            continue
        yield SecretValue(number, entry.group(2), value, shown, decoded is not None and block[1])


def _decode(value: str) -> str | None:
    """The UTF-8 text a base64 value holds, or None when it is not base64 text."""
    try:
        raw = base64.b64decode(value, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return text.strip() if text.isprintable() or text.strip().isprintable() else None
