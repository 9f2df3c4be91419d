"""The scan's shortcuts skip only work that could find nothing: the literal gate in front of
the regex plugins and the keyword index in front of the gitleaks rules."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from typing import Any

import pytest

from bot.secrets.plugins import gate_config
from bot.secrets.prefilter import LiteralGate, _required, sre_parse
from bot.secrets.ruleset import gitleaks_rules
from bot.secrets.scan import _scan_settings
from tests.data.secrets.labelled import all_cases


def corpus() -> list[str]:
    """Every labelled line, plus upper- and lower-cased copies and some non-ASCII ones."""
    lines = [line for cases in all_cases().values() for c in cases for line in c.text.split("\n")]
    lines += [line.upper() for line in lines] + [line.lower() for line in lines]
    lines += ["password = \u017fecret-\u212aey-value", "token: caf\u00e9-AKIA1234567890ABCDEF"]
    return lines


@pytest.fixture(scope="module")
def plugins() -> Iterator[list[Any]]:
    from detect_secrets.settings import get_plugins

    with _scan_settings(gate_config()):
        yield list(get_plugins())


def texts(pattern: str, flags: int = 0) -> frozenset[str] | None:
    return _required(sre_parse.parse(pattern, flags))


def test_required_texts_of_literals_classes_groups_and_alternations() -> None:
    assert texts(r"gh[pousr]_[A-Za-z0-9]{36}") == {f"gh{c}_" for c in "pousr"}
    assert texts(r"(?i)Bearer\s+(\S+)", re.IGNORECASE) == {"bearer"}
    assert texts(r"(?:abc)?def") == {"def"}
    assert texts(r"(?:xoxb|xapp)-\d+") == {"xoxb-", "xapp-"}
    assert texts(r"(?:token|x)=") is None  # one branch needs a single character only
    assert texts(r"(?:abc)*\d+") is None  # a repeat that may be absent needs nothing


def test_gated_plugins_find_nothing_on_the_lines_the_gate_skips(plugins: list[Any]) -> None:
    gate = LiteralGate.of(plugins)
    gated = [i for i, need in enumerate(gate.needs) if need is not None]
    assert len(gated) >= 25, "most regex plugins have texts to gate on"
    skipped = 0
    for line in corpus():
        runs = gate.runners(line)
        for i in gated:
            if not runs[i]:
                skipped += 1
                found = plugins[i].analyze_line(filename="f.txt", line=line, line_number=1)
                assert not found, (type(plugins[i]).__name__, line)
    assert skipped > 0


def test_non_ascii_lines_run_every_plugin(plugins: list[Any]) -> None:
    gate = LiteralGate.of(plugins)
    # `(?i)s` matches U+017F, which lower-casing does not turn into "s".
    assert all(gate.runners("\u017fk_live_" + "a" * 30))


def test_plugins_with_their_own_analysis_are_never_gated(plugins: list[Any]) -> None:
    gate = LiteralGate.of(plugins)
    names = {type(p).__name__: need for p, need in zip(plugins, gate.needs, strict=True)}
    for name in ("JwtTokenDetector", "EncodedPrivateKeyDetector", "KeywordDetector"):
        assert names[name] is None


def test_keyword_index_visits_exactly_the_rules_whose_keywords_occur() -> None:
    rules = gitleaks_rules()
    noise = ["", "plain words only", string.printable, "x" * 300]
    for line in [*corpus(), *noise]:
        lowered = line.lower()
        expected = [r.id for r in rules.rules if any(k in lowered for k in r.keywords)]
        rules.matches(line)  # builds the index
        assert rules._index is not None
        positions, present = rules._index.candidates(lowered)
        assert [rules.rules[p].id for p in positions] == expected, line
        assert present == {k for r in rules.rules for k in r.keywords if k in lowered}


def test_rule_matches_are_the_same_when_asked_twice_and_per_file() -> None:
    rules = gitleaks_rules()
    line = 'aws_secret = "AKIA' + "Q" * 4 + 'Z7PLM3XWNB2KTR5H"'
    first = list(rules.matches(line, "a.tf"))
    assert list(rules.matches(line, "a.tf")) == first
    assert list(rules.matches(line, "b.py")) == list(rules.matches(line, "b.py"))
