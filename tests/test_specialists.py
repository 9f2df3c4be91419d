"""The specialists: registry and repo config, strict prompts, filters, and the two model-free
specialists (real ruff in a scratch git repository, a real detect-secrets scan)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from detect_secrets.core.secrets_collection import SecretsCollection
from detect_secrets.settings import default_settings

from agents.proposal import Proposal, RiskLevel, diff_paths, parse_proposals
from agents.specialists import (
    ALL_NAMES,
    SPECIALISTS,
    canonical_name,
    enabled,
    read_config,
)
from agents.specialists.base import Dropped, PromptError, PromptTemplate, RunOutcome
from agents.specialists.ruff import RUFF_AGENT, RuffFailed, families, parts, ruff_proposals
from agents.specialists.secrets_report import secrets_report
from agents.specialists.tests import is_test_path
from bot.errors import ConfigError
from tests.support import require_binary

# The ruff installed with the dev dependencies, beside this interpreter, else one on PATH.
RUFF = Path(sys.executable).with_name("ruff")
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documented example key, split so no scan trips


def proposal(agent: str, diff: str, risk: RiskLevel = "low", title: str = "A change") -> Proposal:
    return Proposal(agent, title, "", diff, risk, "", diff_paths(diff), 0, ())


def one_line_diff(path: str) -> str:
    return f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n"


# --- registry and repository config ---------------------------------------------------------


def test_registry_holds_five_model_specialists_in_priority_order() -> None:
    assert list(SPECIALISTS) == ["security", "performance", "refactor", "tests", "style"]
    assert (*SPECIALISTS, "ruff", "secrets") == ALL_NAMES
    agents = [s.agent for s in SPECIALISTS.values()]
    assert agents == [
        "SecurityGuardian",
        "PerformanceOptimizer",
        "RefactorArchitect",
        "TestEnhancer",
        "StyleEnforcer",
    ]
    assert canonical_name("securityguardian") == "security"
    assert canonical_name(" Ruff ") == "ruff"
    assert canonical_name("nobody") is None


def test_no_config_enables_everything_with_default_tuning() -> None:
    config = read_config(None)
    assert config.enabled == ALL_NAMES
    assert enabled(config) == tuple(SPECIALISTS.values())
    assert config.tuning_of(SPECIALISTS["refactor"]) == SPECIALISTS["refactor"].default_tuning()


def test_config_enables_by_either_name_and_tunes() -> None:
    config = read_config(
        {
            "enabled": ["StyleEnforcer", "security", "ruff", "security"],
            "security": {"severity_threshold": "high", "max_proposals": 1},
        }
    )
    assert config.enabled == ("style", "security", "ruff")
    assert [s.name for s in enabled(config)] == ["security", "style"]
    assert config.wants("ruff")
    assert not config.wants("secrets")
    tuning = config.tuning_of(SPECIALISTS["security"])
    assert tuning.max_proposals == 1
    assert 'Report nothing below "high"' in SPECIALISTS["security"].system_prompt(tuning)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"enabled": ["security", "linter"]},
            ".github/ambient.yml: agents.enabled names 'linter', which is not a specialist; "
            "known: security, performance, refactor, tests, style, ruff, secrets",
        ),
        ({"enabled": "security"}, ".github/ambient.yml: agents.enabled must be a list"),
        (
            {"security": {"severity_threshold": "severe"}},
            ".github/ambient.yml: agents.security.severity_threshold: Input should be",
        ),
        (
            {"style": {"complexity_threshold": 3}},
            ".github/ambient.yml: agents.style.complexity_threshold: Extra inputs are not",
        ),
        ({"ruff": {"fix": True}}, "agents.ruff: the ruff specialist takes no settings"),
        ({"tests": ["x"]}, "agents.tests must be a mapping of settings"),
    ],
)
def test_config_errors_are_one_line_naming_the_key(
    section: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        read_config(section)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


# --- prompts ---------------------------------------------------------------------------------


def example_item(prompt: str) -> str:
    return prompt.split("Example item:\n", 1)[1]


@pytest.mark.parametrize("name", list(SPECIALISTS))
def test_each_prompt_renders_and_its_example_parses_and_passes_its_filter(name: str) -> None:
    specialist = SPECIALISTS[name]
    tuning = specialist.default_tuning()
    prompt = specialist.system_prompt(tuning)
    assert prompt.startswith(f"You are {specialist.agent}")
    assert "$" not in prompt
    assert "Return a JSON array of proposals" in prompt
    assert f'"agent": "{specialist.agent}"' in prompt
    outcome = parse_proposals(example_item(prompt), agent=specialist.agent)
    assert outcome.errors == ()
    (example,) = outcome.proposals
    assert example.agent == specialist.agent
    assert specialist.filter(example, tuning) == example


def test_tuning_reaches_the_prompts() -> None:
    config = read_config(
        {
            "refactor": {"complexity_threshold": 9, "max_function_lines": 40, "focus": "parser"},
            "tests": {"prioritize_paths": ["src/auth/", "src/pay/"], "coverage_threshold": 95},
            "performance": {"min_speedup_percent": 25},
            "style": {"defer_to_formatter": False},
        }
    )

    def prompt(name: str) -> str:
        return SPECIALISTS[name].system_prompt(config.tuning_of(SPECIALISTS[name]))

    assert "more than 9 branches or more than\n   40 lines" in prompt("refactor")
    assert "This repository asks you to focus on: parser" in prompt("refactor")
    assert "Test these paths first: src/auth/, src/pay/" in prompt("tests")
    assert "aims at 95% line coverage" in prompt("tests")
    assert "at least 25% less time" in prompt("performance")
    assert "line length, indentation and whitespace" in prompt("style")
    assert "focus on" not in prompt("security")


def test_prompt_rendering_is_strict() -> None:
    template = PromptTemplate("t.md", "Hello $name, costs $$5")
    assert template.render({"name": "x"}) == "Hello x, costs $5"
    with pytest.raises(PromptError, match=r"prompt t\.md: no value for name"):
        template.render({})
    with pytest.raises(PromptError, match=r"prompt t\.md: it has no placeholder extra"):
        template.render({"name": "x", "extra": "y"})
    with pytest.raises(PromptError, match="neither a placeholder"):
        PromptTemplate("bad.md", "costs $5")


# --- filters ---------------------------------------------------------------------------------


def test_filters_adjust_or_drop_proposals() -> None:
    security, style = SPECIALISTS["security"], SPECIALISTS["style"]
    performance, tests = SPECIALISTS["performance"], SPECIALISTS["tests"]
    strict = read_config({"security": {"severity_threshold": "high"}})
    medium = proposal("SecurityGuardian", one_line_diff("a.py"), "medium")
    assert security.filter(medium, strict.tuning_of(security)) == Dropped(
        "severity medium is below this repository's threshold (high)"
    )
    risky_style = proposal("StyleEnforcer", one_line_diff("a.py"), "medium")
    assert isinstance(style.filter(risky_style, style.default_tuning()), Dropped)
    quick = performance.filter(proposal("X", one_line_diff("a.py")), performance.default_tuning())
    assert isinstance(quick, Proposal)
    assert (quick.risk_level, quick.agent) == ("medium", "PerformanceOptimizer")
    mixed = proposal("TestEnhancer", one_line_diff("tests/test_a.py") + one_line_diff("src/a.py"))
    assert tests.filter(mixed, tests.default_tuning()) == Dropped(
        "a test proposal may change test files only, not src/a.py"
    )


@pytest.mark.parametrize(
    ("path", "is_test"),
    [
        ("tests/test_app.py", True),
        ("src/pkg/tests/helpers.py", True),
        ("test_app.py", True),
        ("pkg/app_test.go", True),
        ("web/app.spec.ts", True),
        ("web/__tests__/app.js", True),
        ("conftest.py", True),
        ("src/app.py", False),
        ("src/testing_tools.py", False),
        ("src/contest.py", False),
    ],
)
def test_test_paths(path: str, is_test: bool) -> None:
    assert is_test_path(path) is is_test


# --- ruff, for real, in a scratch git repository ----------------------------------------------


@dataclass
class LocalRunner:
    """Runs commands as local processes; `ruff` is the one installed beside this Python."""

    ruff: str
    calls: list[tuple[tuple[str, ...], Path]]

    async def run(self, argv: tuple[str, ...], cwd: Path) -> RunOutcome:
        self.calls.append((argv, cwd))
        program = self.ruff if argv[0] == "ruff" else argv[0]
        process = await asyncio.create_subprocess_exec(
            program,
            *argv[1:],
            cwd=cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode is not None
        return RunOutcome(process.returncode, out.decode(), err.decode())


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


PYPROJECT = '[project]\nname = "demo"\n\n[tool.ruff]\nline-length = 100\n'
#: Pyflakes alone, so that which rules fire does not hang on ruff's defaults.
ONLY_F = PYPROJECT + '\n[tool.ruff.lint]\nselect = ["F"]\n'
MESSY = "import os\nimport sys\n\ndef f( x ):\n    return x+1\n"


@pytest.fixture
def runner() -> LocalRunner:
    return LocalRunner(str(RUFF) if RUFF.exists() else require_binary("ruff"), [])


@dataclass
class Scratches:
    """Fresh clones of a base repository, each with the runner (what the sweep's worktrees
    and sandboxes are in production); `made` are the clones, each left as ruff changed it."""

    base: Path
    runner: LocalRunner
    made: list[Path]

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[tuple[LocalRunner, Path]]:
        clone = Path(tempfile.mkdtemp(prefix=f"{self.base.name}-scratch-", dir=self.base.parent))
        git(self.base.parent, "clone", "-q", str(self.base), str(clone))
        self.made.append(clone)
        yield self.runner, clone


def scratches(base: Path, runner: LocalRunner) -> Scratches:
    return Scratches(base, runner, [])


async def test_ruff_proposes_each_rule_family_and_the_formatting_apart(
    tmp_path: Path, runner: LocalRunner
) -> None:
    files = {"pyproject.toml": ONLY_F, "src/app.py": MESSY, "src/ok.py": "X = 1\n"}
    scratch = scratches(repo(tmp_path / "base", files), runner)
    found = await ruff_proposals(scratch)
    # F401 (unused imports) fires; the formatting is a proposal of its own.
    assert [p.title for p in found] == [
        "Apply ruff's F fixes to 1 files",
        "Apply ruff's formatting to 1 files",
    ]
    fixes, formatting = found
    assert all((p.agent, p.risk_level) == (RUFF_AGENT, "low") for p in found)
    assert fixes.files_touched == formatting.files_touched == ("src/app.py",)
    assert "-import os\n" in fixes.diff
    assert "+def f(x):\n" not in fixes.diff
    assert "**Prompted by:** ruff's findings F401 unused-import (2)" in fixes.description
    assert "+def f(x):\n" in formatting.diff
    assert "-import os\n" not in formatting.diff
    assert [argv[:3] for argv, _ in runner.calls] == [
        ("ruff", "check", "--statistics"),
        ("ruff", "check", "--fix"),
        ("ruff", "format", "--no-cache"),
    ]
    # The statistics and the first family share a worktree; the formatting has its own, where
    # the fixes are not: each diff applies to a fresh copy of the base on its own.
    assert len(scratch.made) == 2
    for proposal in found:
        fresh = repo(tmp_path / f"fresh-{len(proposal.title)}", files)
        subprocess.run(["git", "apply", "-"], cwd=fresh, input=proposal.diff, text=True, check=True)


async def test_a_familys_fixes_come_in_parts_within_the_file_limit(
    tmp_path: Path, runner: LocalRunner
) -> None:
    files = {f"pkg/m{n:02}.py": "import os\n\nX = 1\n" for n in range(23)}
    base = repo(tmp_path / "base", {"pyproject.toml": ONLY_F, **files})
    found = await ruff_proposals(scratches(base, runner), max_files=10)
    assert [(p.title, len(p.files_touched)) for p in found] == [
        ("Apply ruff's F fixes to 10 files (part 1 of 3)", 10),
        ("Apply ruff's F fixes to 10 files (part 2 of 3)", 10),
        ("Apply ruff's F fixes to 3 files (part 3 of 3)", 3),
    ]
    touched = [path for p in found for path in p.files_touched]
    assert touched == sorted(files)
    assert "Part 2 of 3: the other parts change the other files." in found[1].description


def test_ruff_statistics_group_the_safely_fixable_rules_by_family() -> None:
    statistics = json.dumps(
        [
            {"code": "UP006", "name": "non-pep585-annotation", "count": 2, "fixable": True,
             "fixable_count": 2},
            {"code": "F401", "name": "unused-import", "count": 3, "fixable": True,
             "fixable_count": 3},
            {"code": "UP035", "name": "deprecated-import", "count": 1, "fixable": False,
             "fixable_count": 0},
            {"code": "PLR0913", "name": "too-many-arguments", "count": 1, "fixable": False},
            {"code": "UP004", "name": "useless-object-inheritance", "count": 1, "fixable": True,
             "fixable_count": 1},
            {"code": None, "name": "syntax-error", "count": 1},
        ]
    )  # fmt: skip
    grouped = families(statistics)
    assert {name: [r.code for r in rules] for name, rules in grouped.items()} == {
        "F": ["F401"],
        "UP": ["UP004", "UP006"],
    }
    assert families("[]") == {}
    with pytest.raises(RuffFailed, match="not JSON"):
        families("ruff: no")
    assert parts(["b", "a", "c"], 2) == [("a", "b"), ("c",)]
    assert parts([], 10) == []


async def test_ruff_leaves_clean_or_unconfigured_repositories_alone(
    tmp_path: Path, runner: LocalRunner
) -> None:
    clean = repo(tmp_path / "clean", {"pyproject.toml": PYPROJECT, "a.py": "X = 1\n"})
    assert await ruff_proposals(scratches(clean, runner)) == ()
    unconfigured = repo(tmp_path / "plain", {"a.py": MESSY})
    assert await ruff_proposals(scratches(unconfigured, runner)) == ()
    assert len(runner.calls) == 2  # the unconfigured repository never ran ruff
    assert await ruff_proposals(scratches(unconfigured, runner), require_config=False) != ()


async def test_ruff_names_files_it_cannot_parse(tmp_path: Path, runner: LocalRunner) -> None:
    files = {"ruff.toml": "line-length = 100\n", "a.py": "x=1\n", "broken.py": "def f(:\n"}
    (found,) = await ruff_proposals(scratches(repo(tmp_path / "r", files), runner))
    assert found.files_touched == ("a.py",)
    assert "Not formatted (they do not parse): broken.py" in found.description


async def test_ruff_with_a_broken_configuration_fails_in_one_line(
    tmp_path: Path, runner: LocalRunner
) -> None:
    bad = repo(tmp_path / "r", {"ruff.toml": "line-length = 'long'\n", "a.py": "x=1\n"})
    with pytest.raises(RuffFailed) as caught:
        await ruff_proposals(scratches(bad, runner))
    assert str(caught.value).startswith("ruff check failed (exit 2): ruff failed; Failed to load")
    assert "ruff.toml" in str(caught.value)
    assert "\n" not in str(caught.value)


# --- secrets, scanned for real with detect-secrets --------------------------------------------


@dataclass(frozen=True)
class Found:
    file: str
    line: int
    type: str


async def detect_secrets_scan(root: Path) -> Sequence[Found]:
    def scan() -> list[Found]:
        collection = SecretsCollection(root=str(root))
        with default_settings():
            for path in sorted(root.rglob("*.py")):
                collection.scan_file(str(path))
        return [
            Found(os.path.relpath(name, root), secret.line_number, secret.type)
            for name, secrets in collection.data.items()
            for secret in secrets
        ]

    return await asyncio.to_thread(scan)


async def test_secrets_are_reported_never_proposed(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app/settings.py").write_text(f"DEBUG = False\nAWS_KEY = '{AWS_KEY}'\n")
    (tmp_path / "app/clean.py").write_text("X = 1\n")
    report = await secrets_report(detect_secrets_scan, tmp_path)
    # Which other plugins also fire depends on detect-secrets' process-wide plugin registry.
    described = [item.describe() for item in report.items]
    assert "app/settings.py:2: possible AWS Access Key" in described
    assert {(item.file, item.line) for item in report.items} == {("app/settings.py", 2)}
    assert "possible secrets in 1 files: rotate this credential" in report.summary()
    shown = json.dumps(report.as_dict()) + report.markdown() + report.summary()
    assert AWS_KEY not in shown
    assert "`app/settings.py` line 2: AWS Access Key" in report.markdown()
    assert not any(isinstance(value, Proposal) for value in report.items)


async def test_a_clean_repository_and_repeated_findings(tmp_path: Path) -> None:
    async def twice(root: Path) -> Sequence[Found]:
        return [Found("b.py", 3, "Secret Keyword"), Found("a.py", 1, "X")] * 2

    report = await secrets_report(twice, tmp_path)
    assert [(i.file, i.line) for i in report.items] == [("a.py", 1), ("b.py", 3)]
    (tmp_path / "a.py").write_text("X = 1\n")
    empty = await secrets_report(detect_secrets_scan, tmp_path)
    assert empty.clean
    assert empty.summary() == "no secrets found in the repository"
    assert re.fullmatch(r"No secrets found in the repository\.\n", empty.markdown())
