"""Which regex plugins can find nothing on a line, from literals every match of theirs holds.

A `RegexBasedDetector` that keeps detect-secrets' own `analyze_line` and `analyze_string`
reports a value only where one of its `denylist` regexes matches, and returns an empty set
elsewhere. Calling some 40 such plugins on every line (each a generator over several
`findall`s) was most of a whole-repository scan, and most lines hold none of their prefixes.

`LiteralGate` reads each regex's parse tree for the text any match must contain (`ghp_`,
`password`, `://`; for an alternation, one such text per branch). A plugin whose every regex
yields such texts is skipped on a line that holds none of them: there it would have found
nothing, so skipping it changes no result. One alternation of all the texts is searched per
line first. The comparison is on the lower-cased line, so case-insensitive regexes are covered;
it is made only for ASCII lines and ASCII texts, where lower-casing agrees with the regex
engine's case folding (it does not for e.g. U+017F, which `(?i)s` matches). A regex whose
required text cannot be read, or is shorter than `_MIN_LITERAL`, keeps its plugin running
on every line, as does a plugin with its own `analyze_line` or `analyze_string`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector

__all__ = ["LiteralGate"]

# The standard library's regex parser and its opcodes: the public `sre_parse` names of these
# modules warn of their deprecation, and typeshed has no stubs under the private ones.
sre: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")

# A single character ("=", "@") is on most lines and would only add work.
_MIN_LITERAL: Final = 2
# Bounds on expanding classes into texts (`gh[pousr]_` is five texts).
_MAX_CLASS: Final = 8
_MAX_TEXTS: Final = 64
_REPEATS: Final = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)


@dataclass(frozen=True, slots=True)
class LiteralGate:
    """`any_literal` finds whether a lower-cased line holds any gated plugin's text;
    `needs[i]` are the texts plugin `i` needs (None: plugin `i` always runs)."""

    any_literal: re.Pattern[str] | None
    needs: tuple[frozenset[str] | None, ...]

    @classmethod
    def of(cls, plugins: Sequence[Any]) -> LiteralGate:
        needs = tuple(_plugin_literals(plugin) for plugin in plugins)
        literals = sorted({text for need in needs if need for text in need})
        pattern = "|".join(map(re.escape, literals))
        return cls(re.compile(pattern) if pattern else None, needs)

    def runners(self, line: str) -> tuple[bool, ...]:
        """For each plugin, whether it may find anything on `line`."""
        if not line.isascii():
            return tuple(True for _ in self.needs)
        lowered = line.lower()
        if self.any_literal is None or self.any_literal.search(lowered) is None:
            return tuple(need is None for need in self.needs)
        return tuple(need is None or any(text in lowered for text in need) for need in self.needs)


def _plugin_literals(plugin: Any) -> frozenset[str] | None:
    """Texts one of which is on every line where the plugin finds something, or None."""
    kind = type(plugin)
    if not (
        isinstance(plugin, RegexBasedDetector)
        and kind.analyze_line is BasePlugin.analyze_line
        and kind.analyze_string is RegexBasedDetector.analyze_string
    ):
        return None
    found: set[str] = set()
    for regex in plugin.denylist:
        if not isinstance(regex, re.Pattern) or not isinstance(regex.pattern, str):
            return None
        texts = _regex_texts(regex.pattern, regex.flags)
        if texts is None:
            return None
        found |= texts
    return frozenset(found) or None


@cache
def _regex_texts(pattern: str, flags: int) -> frozenset[str] | None:
    """`_required` of one regex; parsing is kept per process (a worker scans many diffs)."""
    return _required(sre_parse.parse(pattern, flags))


def _required(sequence: Any) -> frozenset[str] | None:
    """Lower-cased ASCII texts one of which every match of `sequence` contains, or None.

    Consecutive literals (with small classes such as `[pousr]`, one text per member, and the
    heads of an alternation right after them) form texts; a group, or a repeat of at least
    once, needs what its body needs; an alternation needs one text of each branch. Of the
    candidates of one sequence the one whose shortest text is longest is kept.
    """
    candidates: list[frozenset[str] | None] = []
    run: set[str] = {""}
    for op, av in sequence:
        members = _members(op, av)
        if members is not None and len(run) * len(members) <= _MAX_TEXTS:
            run = {text + char for text in run for char in members}
            continue
        run, whole = _joined_with_branch(run, op, av)
        if whole:
            continue
        candidates.append(_as_candidate(run))
        run = set(members) if members is not None else {""}
        if members is None:
            candidates.append(_inner(op, av))
    candidates.append(_as_candidate(run))
    found = [c for c in candidates if c]
    return max(found, key=lambda c: min(map(len, c)), default=None)


def _as_candidate(run: set[str]) -> frozenset[str] | None:
    if min(map(len, run)) >= _MIN_LITERAL and all(text.isascii() for text in run):
        return frozenset(text.lower() for text in run)
    return None


def _inner(op: Any, av: Any) -> frozenset[str] | None:
    """What a group, a repeat or an alternation needs (None for anything else)."""
    if op == sre.SUBPATTERN:
        return _required(av[3])
    if op == sre.ATOMIC_GROUP:
        return _required(av)
    if op in _REPEATS and av[0] >= 1:
        return _required(av[2])
    if op == sre.BRANCH:
        branches = [_required(branch) for branch in av[1]]
        if all(branch is not None for branch in branches):
            return frozenset().union(*(b for b in branches if b is not None))
    return None


def _joined_with_branch(run: set[str], op: Any, av: Any) -> tuple[set[str], bool]:
    """`run` followed by the heads of the alternation `op`, and whether those heads are all
    the alternation matches. The parser factors a common prefix out of an alternation
    (`pass|pwd` is `p(?:ass|wd)`); this puts it back."""
    if op != sre.BRANCH or run == {""}:
        return run, False
    heads = [_head(branch) for branch in av[1]]
    joined = {text + head for text in run for texts, _ in heads for head in texts}
    if len(joined) > _MAX_TEXTS:
        return run, False
    return joined, all(whole for _, whole in heads)


def _head(sequence: Any) -> tuple[set[str], bool]:
    """The texts every match of `sequence` starts with, and whether that is all it matches."""
    run = {""}
    for op, av in sequence:
        members = _members(op, av)
        if members is None or len(run) * len(members) > _MAX_TEXTS:
            return run, False
        run = {text + char for text in run for char in members}
    return run, True


def _members(op: Any, av: Any) -> tuple[str, ...] | None:
    """The characters one parse node matches, if it is a literal or a small class of them."""
    if op == sre.LITERAL:
        return (chr(av),)
    if op == sre.IN and len(av) <= _MAX_CLASS and all(o == sre.LITERAL for o, _ in av):
        return tuple(chr(code) for _, code in av)
    return None
