"""A gitleaks rule file, read as data: rules with keywords, entropy floors and allowlists.

Pure and stdlib-only (the `ambient scan-diff` start-up pays for every import). The TOML is
parsed once per process; each rule's regex is translated from Go RE2 syntax and compiled only
when one of its keywords occurs in a line, as gitleaks does, so a small diff compiles a few
of the 200-odd patterns. `report()` compiles all of them, for the tests and the docs.

Most lines hold none of the 240-odd keywords, so `matches` first asks one compiled alternation
of all of them whether any occurs, and only then which, visiting just the rules those name
(a loop over every rule's keywords per line was most of a whole-repository scan's time).
"""

from __future__ import annotations

import math
import re
import tomllib
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

__all__ = ["GITLEAKS_RULES", "Match", "Rule", "RuleSet", "load_ruleset", "translate"]

GITLEAKS_RULES: Final = Path(__file__).resolve().parent / "rules" / "gitleaks.toml"

_FLAGS = re.compile(r"\(\?([imsU-]+)\)")
_POSIX: Final = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "xdigit": "0-9A-Fa-f",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r"\s",
    "word": r"\w",
    "punct": r"!-/:-@\[-`{-~",
}


@dataclass(frozen=True, slots=True)
class Allowlist:
    """One gitleaks allowlist: a finding it matches is not a secret."""

    patterns: tuple[str, ...] = ()
    stopwords: tuple[str, ...] = ()
    target: Literal["secret", "match", "line"] = "secret"
    require_all: bool = False
    has_paths: bool = False

    def regexes(self) -> tuple[re.Pattern[str], ...]:
        """The allowlist's regexes, translated and compiled on first use."""
        return _compile_all(self.patterns)

    def allows(self, secret: str, match: str, line: str) -> bool:
        """True when the allowlist exempts this finding (path criteria are never met here)."""
        text = {"secret": secret, "match": match, "line": line}[self.target]
        checks: list[bool] = []
        if self.patterns:
            checks.append(any(rx.search(text) for rx in self.regexes()))
        if self.stopwords:
            lowered = secret.lower()
            checks.append(any(word in lowered for word in self.stopwords))
        if self.has_paths and self.require_all:
            # The gate never exempts a file by its name (a proposal chooses the name).
            checks.append(False)
        return bool(checks) and (all(checks) if self.require_all else any(checks))


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: its regex (Go syntax and the Python translation) and what must hold."""

    id: str
    description: str
    source_pattern: str
    keywords: tuple[str, ...]
    entropy: float | None
    secret_group: int
    path: str | None = None
    allowlists: tuple[Allowlist, ...] = field(default=(), repr=False)

    @property
    def generic(self) -> bool:
        """Rules that guess from a keyword, not from a vendor's documented format."""
        return self.id.startswith("generic")


@dataclass(frozen=True, slots=True)
class Match:
    """A value a rule found, and the keyword and entropy that let it count."""

    rule: Rule
    secret: str
    keyword: str
    entropy: float

    def why(self) -> str:
        """One sentence a person can check against the rule file."""
        parts = [f"gitleaks rule {self.rule.id}"]
        if self.keyword:
            parts.append(f"keyword {self.keyword!r} on the line")
        if self.rule.entropy is not None:
            parts.append(f"entropy {self.entropy:.1f} >= {self.rule.entropy:g}")
        return "matches " + ", ".join(parts)


@dataclass(frozen=True, slots=True)
class _KeywordIndex:
    """Which rules each keyword names, and one regex that finds whether any keyword occurs."""

    any_keyword: re.Pattern[str]
    keywords: tuple[str, ...]
    rules_of: dict[str, tuple[int, ...]]
    keywordless: tuple[int, ...]

    @classmethod
    def of(cls, rules: tuple[Rule, ...]) -> _KeywordIndex:
        rules_of: dict[str, list[int]] = {}
        for position, rule in enumerate(rules):
            for keyword in rule.keywords:
                rules_of.setdefault(keyword, []).append(position)
        # Longest first only for readability of the pattern: a search for "any" is the same.
        keywords = tuple(sorted(rules_of, key=lambda k: (-len(k), k)))
        return cls(
            any_keyword=re.compile("|".join(map(re.escape, keywords)) or r"(?!)"),
            keywords=keywords,
            rules_of={k: tuple(v) for k, v in rules_of.items()},
            keywordless=tuple(i for i, rule in enumerate(rules) if not rule.keywords),
        )

    def candidates(self, lowered: str) -> tuple[list[int], frozenset[str]]:
        """Positions of the rules that may fire on `lowered` (in rule order) and the keywords
        it holds: a rule with keywords runs only when one of them occurs, as in gitleaks."""
        if self.any_keyword.search(lowered) is None:
            return list(self.keywordless), frozenset()
        present = frozenset(k for k in self.keywords if k in lowered)
        chosen = set(self.keywordless)
        for keyword in present:
            chosen.update(self.rules_of[keyword])
        return sorted(chosen), present


@dataclass(slots=True)
class RuleSet:
    """The rules of one file, with what was skipped and why."""

    rules: tuple[Rule, ...]
    skipped: dict[str, str]
    allowlists: tuple[Allowlist, ...]
    _compiled: dict[str, re.Pattern[str] | None] = field(default_factory=dict)
    _index: _KeywordIndex | None = None
    # The last line's matches: the gate's two rule-set plugins (vendor and generic rules)
    # ask for the same line one after the other.
    _last: tuple[str, str, tuple[Match, ...]] | None = None

    def matches(self, line: str, filename: str = "") -> Iterator[Match]:
        """Every rule match on `line` that passes its entropy floor and allowlists; a rule
        scoped to some files (`path`, e.g. Terraform's) runs on those files only."""
        last = self._last
        if last is not None and last[0] == line and last[1] == filename:
            return iter(last[2])
        found = tuple(self._scan(line, filename))
        self._last = (line, filename, found)
        return iter(found)

    def _scan(self, line: str, filename: str) -> Iterator[Match]:
        if self._index is None:
            self._index = _KeywordIndex.of(self.rules)
        positions, present = self._index.candidates(line.lower())
        for position in positions:
            rule = self.rules[position]
            if rule.path is not None and not self._in_scope(rule, filename):
                continue
            keyword = next((k for k in rule.keywords if k in present), "")
            regex = self.compiled(rule)
            if regex is None:
                continue
            for found in regex.finditer(line):
                secret = _secret_of(found, rule.secret_group)
                if not secret:
                    continue
                entropy = shannon_entropy(secret)
                if rule.entropy is not None and entropy < rule.entropy:
                    continue
                whole = found.group(0)
                if any(a.allows(secret, whole, line) for a in (*rule.allowlists, *self.allowlists)):
                    continue
                yield Match(rule, secret, keyword, entropy)

    def _in_scope(self, rule: Rule, filename: str) -> bool:
        key = f"path:{rule.id}"
        if key not in self._compiled:
            self._compiled[key] = _compile(translate(rule.path or ""))
        scope = self._compiled[key]
        return scope is not None and scope.search(filename) is not None

    def compiled(self, rule: Rule) -> re.Pattern[str] | None:
        """The rule's regex, compiled on first use; None when Python cannot compile it."""
        if rule.id not in self._compiled:
            self._compiled[rule.id] = _compile(translate(rule.source_pattern))
            if self._compiled[rule.id] is None:
                self.skipped[rule.id] = "regex does not compile in Python after translation"
        return self._compiled[rule.id]

    def report(self) -> dict[str, str]:
        """Compile every rule; return each skipped rule id with the reason."""
        for rule in self.rules:
            self.compiled(rule)
        return dict(self.skipped)


def load_ruleset(path: Path = GITLEAKS_RULES) -> RuleSet:
    """Read a gitleaks TOML file; rules that only match file paths are skipped and counted."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    rules: list[Rule] = []
    skipped: dict[str, str] = {}
    for raw in data.get("rules", []):
        if "regex" not in raw:
            skipped[raw["id"]] = "matches file paths only (the gate scans content)"
            continue
        rules.append(
            Rule(
                id=raw["id"],
                description=raw.get("description", ""),
                source_pattern=raw["regex"],
                keywords=tuple(k.lower() for k in raw.get("keywords", ())),
                entropy=raw.get("entropy"),
                secret_group=int(raw.get("secretGroup", 0)),
                path=raw.get("path"),
                allowlists=tuple(_allowlist(a) for a in raw.get("allowlists", ())),
            )
        )
    glob = data.get("allowlist")
    return RuleSet(tuple(rules), skipped, (_allowlist(glob),) if glob else ())


@cache
def gitleaks_rules() -> RuleSet:
    """The kept gitleaks rules, read once per process."""
    return load_ruleset()


def translate(pattern: str) -> str:
    """Go RE2 syntax to Python's: scoped mid-pattern flags, POSIX classes, `\\z`, and
    characters a Python class would read as set operations (`[[`, `&&`, `~~`, `||`)."""
    out: list[str] = []
    # For each open group: how many scoped-flag groups to close with it.
    pending: list[int] = [0]
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            pair = pattern[i : i + 2]
            out.append(r"\Z" if pair == r"\z" else pair)
            i += 2
            continue
        if in_class:
            text, i, in_class = _class_char(pattern, i)
            out.append(text)
            continue
        flags = _FLAGS.match(pattern, i)
        if flags and i > 0:
            out.append(f"(?{flags.group(1).replace('U', '')}:")
            pending[-1] += 1
            i = flags.end()
            continue
        if flags:
            out.append(f"(?{flags.group(1).replace('U', '')})")
            i = flags.end()
            continue
        if char == "[":
            in_class = True
            out.append(char)
            if pattern[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                out.append(r"\]")
                i += 1
        elif char == "(":
            pending.append(0)
            out.append(char)
        elif char == ")":
            out.append(")" * pending.pop() + ")" if len(pending) > 1 else ")")
        else:
            out.append(char)
        i += 1
    out.append(")" * pending[0])
    return "".join(out)


def _class_char(pattern: str, i: int) -> tuple[str, int, bool]:
    """One item inside a character class: (Python text, next index, still in the class)."""
    posix = re.match(r"\[:(\w+):\]", pattern[i:])
    if posix and posix.group(1) in _POSIX:
        return _POSIX[posix.group(1)], i + posix.end(), True
    char = pattern[i]
    if char == "]":
        return char, i + 1, False
    return ("\\" + char if char in "[&~|" else char), i + 1, True


def shannon_entropy(text: str) -> float:
    """Bits per character, as gitleaks computes it."""
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in Counter(text).values())


def _compile(pattern: str) -> re.Pattern[str] | None:
    with warnings.catch_warnings():
        # A FutureWarning (nested set) means Python would read the class differently later.
        warnings.simplefilter("error")
        try:
            return re.compile(pattern)
        except (re.error, FutureWarning):
            return None


@cache
def _compile_all(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(rx for rx in (_compile(translate(p)) for p in patterns) if rx is not None)


def _secret_of(found: re.Match[str], group: int) -> str:
    """gitleaks' choice: the rule's secretGroup, else the first non-empty group, else all."""
    if group:
        return found.group(group) or ""
    return next((g for g in found.groups() if g), found.group(0))


def _allowlist(raw: dict[str, Any]) -> Allowlist:
    return Allowlist(
        patterns=tuple(raw.get("regexes", ())),
        stopwords=tuple(w.lower() for w in raw.get("stopwords", ())),
        target=raw.get("regexTarget", "secret"),
        require_all=raw.get("condition", "OR").upper() == "AND",
        has_paths=bool(raw.get("paths")),
    )
