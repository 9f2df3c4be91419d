"""CODEOWNERS with GitHub's semantics, against cases written by others (tests/data/codeowners)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.github.codeowners import CODEOWNERS_LOCATIONS, CodeOwnersFile, Reviewers, reviewers_for

DATA = Path(__file__).parent / "data" / "codeowners"


def _json(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def _pattern_cases() -> list[tuple[str, str, bool]]:
    cases: list[tuple[str, str, bool]] = []
    for case in _json("hmarr-codeowners.patterns.json"):
        cases += [(case["pattern"], path, hit) for path, hit in case["paths"].items()]
    sbdchd = _json("sbdchd-codeowners.cases.json")
    for case in sbdchd["pattern_cases"] + sbdchd["git_checked_pattern_cases"]:
        if case["pattern"] in GITIGNORE_ONLY or "[" in case["pattern"]:
            continue
        cases += [(case["pattern"], path, hit) for path, hit in case["paths"].items()]
    return cases


# sbdchd's pattern cases follow gitignore where GitHub differs: GitHub Docs say `[ ]` ranges
# do not work (hmarr's cases, written for GitHub, read brackets literally), and hmarr's cases
# have `foo/**/` match `foo/bar` where gitignore wants a directory.
GITIGNORE_ONLY = {"foo/**/"}


@pytest.mark.parametrize(("pattern", "path", "hit"), _pattern_cases())
def test_one_rule_matches_as_upstream_says(pattern: str, path: str, hit: bool) -> None:
    owners = CodeOwnersFile.parse(f"{pattern} @x").owners(path)
    assert owners == (("@x",) if hit else ())


def test_owner_cases_last_match_wins() -> None:
    data = _json("sbdchd-codeowners.cases.json")
    rules = CodeOwnersFile.parse(data["codeowners_file"])
    for case in data["owner_cases"]:
        expected = tuple(value for _kind, value in case["expected_owners"])
        assert rules.owners(case["path"]) == expected, case["path"]


def test_github_docs_example() -> None:
    rules = CodeOwnersFile.parse((DATA / "github-docs-example.CODEOWNERS").read_text())
    assert rules.owners("README.md") == ("@global-owner1", "@global-owner2")
    assert rules.owners("src/app.js") == ("@js-owner",)
    assert rules.owners("notes.txt") == ("@octo-org/octocats",)
    assert rules.owners("build/logs/today.log") == ("@doctocat",)
    assert rules.owners("apps/web/index.html") == ("@octocat",)
    # "/apps/github" lists no owners: it un-owns the path, even though "/apps/" matched first.
    assert rules.owners("apps/github/x") == ()
    assert rules.owners("main.go") == ("docs@example.com",)


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ("!secret.txt @x", "secret.txt"),  # negation does not exist on GitHub
        ("\\#notes @x", "#notes"),  # escaping a leading # does not work on GitHub
        ("[Section]", "anything"),  # a GitLab section header is an error to GitHub
    ],
)
def test_lines_github_ignores(line: str, path: str) -> None:
    rules = CodeOwnersFile.parse(f"* @base\n{line}\n")
    assert rules.owners(path) == ("@base",)


def test_brackets_are_literal_not_a_range() -> None:
    rules = CodeOwnersFile.parse("/apps/[param]/file.ts @x")
    assert rules.owners("apps/[param]/file.ts") == ("@x",)
    assert rules.owners("apps/p/file.ts") == ()


def test_escaped_space_and_tabs() -> None:
    rules = CodeOwnersFile.parse("docs/my\\ file.md\t@writer\n*.py\t\t@py  @org/py-team\n")
    assert rules.owners("docs/my file.md") == ("@writer",)
    assert rules.owners("a/b.py") == ("@py", "@org/py-team")


def test_oversized_file_is_ignored_like_github_does() -> None:
    text = "* @x\n" + "# filler\n" * (3 * 1024 * 1024 // 9 + 1)
    assert CodeOwnersFile.parse(text).owners("a") == ()


def test_reviewers_split_users_and_teams_and_drop_author_and_emails() -> None:
    rules = CodeOwnersFile.parse(
        "* @alice @org/core\n*.md @Bob docs@example.com @org/docs\nsecret/ @ambient[bot]\n"
    )
    reviewers = reviewers_for(rules, ["README.md", "src/x.py", "secret/k"], ["bob", "ambient[bot]"])
    assert reviewers == Reviewers(users=("alice",), teams=("docs", "core"))
    assert reviewers_for(None, ["a"]) == Reviewers()
    assert not Reviewers()


def test_lookup_order_is_githubs() -> None:
    assert CODEOWNERS_LOCATIONS == (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
