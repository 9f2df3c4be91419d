"""The repository config: every key, its defaults, each kind of error, the schema and the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.risk import RiskRules
from agents.specialists import ALL_NAMES
from bot.errors import ConfigError, PathNotAllowed
from bot.patch.paths import DEFAULT_FORBIDDEN, check_paths
from bot.pipeline.checks import read_checks
from bot.pipeline.gates import GateOptions, gate_options
from bot.repo_config.load import (
    CONFIG_PATHS,
    MAX_CONFIG_BYTES,
    RepoConfig,
    json_schema,
    load_repo_config_file,
    parse_repo_config,
    repo_config_table,
)

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "configuration.md"
SOURCE = ".github/ambient.yml"


def _example() -> str:
    text = DOC.read_text()
    start = text.index("## A full example")
    match = re.search(r"```yaml\n(.*?)```", text[start:], re.DOTALL)
    assert match, "docs/configuration.md lost its full example"
    return match[1]


def _only_problem(text: str) -> str:
    outcome = parse_repo_config(text, SOURCE)
    assert len(outcome.problems) == 1, outcome.problems
    problem = outcome.problems[0]
    assert "\n" not in problem
    assert problem.startswith(f"{SOURCE}: ")
    return problem


# --- defaults -------------------------------------------------------------------------------


def test_defaults_are_the_issue_s() -> None:
    config = RepoConfig()
    assert config.limits.max_open_prs == 5
    assert config.limits.jobs_per_user_per_day == 10
    assert config.ci_autofix.enabled is True
    assert config.ci_autofix.attempts_per_sha == 2
    assert config.ci_autofix.branches == ("*",)
    assert config.push_to_pr_branch is True
    assert config.draft_prs is False
    assert config.allow_workflow_changes is False
    assert config.protected_owners == ()
    assert config.paths.ignore == ()
    assert config.verify.commands == ()
    assert config.verify.allow == ()
    assert config.verify.allow_unverified is False
    assert config.sweep.enabled is True
    assert config.sweep.schedule == "weekly"
    assert config.sweep.agents is None
    assert config.sweep.max_prs == 3
    assert config.specialists.enabled == ALL_NAMES
    assert config.sweep_agents() == ALL_NAMES
    assert config.risk_rules() == RiskRules()


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n"])
def test_an_empty_file_is_the_defaults(text: str) -> None:
    outcome = parse_repo_config(text, SOURCE)
    assert outcome.problems == ()
    assert outcome.config == RepoConfig()


def test_no_file_is_the_defaults(tmp_path: Path) -> None:
    outcome = load_repo_config_file(tmp_path)
    assert outcome.config == RepoConfig()
    assert outcome.problems == ()
    assert outcome.source is None


# --- every key ------------------------------------------------------------------------------


def test_the_documented_example_sets_every_key() -> None:
    outcome = parse_repo_config(_example(), SOURCE)
    assert outcome.problems == ()
    config = outcome.config
    dumped = yaml.safe_load(_example())
    assert set(dumped) == set(RepoConfig.model_fields), "the example must show every key"
    assert config.specialists.enabled == ("security", "tests", "style", "ruff", "secrets")
    security = config.specialists.tuning["security"]
    assert security.model_dump()["severity_threshold"] == "medium"
    assert config.specialists.tuning["tests"].max_proposals == 2
    assert config.verify.commands == ("python -m pytest -q", "ruff check .", "mypy src")
    assert config.verify.allow == ("mypy( .*)?",)
    assert config.paths.ignore == ("vendor/", "docs/generated/**", "*.lock")
    assert config.protected_owners == ("@acme/security", "@alice")
    assert config.ci_autofix.branches == ("main", "release/*")
    assert config.sweep.agents == ("security", "tests")
    assert config.sweep_agents() == ("security", "tests")
    assert (config.limits.max_open_prs, config.limits.jobs_per_user_per_day) == (5, 10)
    assert config.risk_rules() == RiskRules(high_lines=300, max_files=8)


def test_agent_names_in_any_spelling() -> None:
    text = "agents: {enabled: [SecurityGuardian, TESTS]}\nsweep: {agents: [testenhancer]}\n"
    config = parse_repo_config(text).config
    assert config.specialists.enabled == ("security", "tests")
    assert config.sweep_agents() == ("tests",)


def test_gate_options_carry_the_repository_s_choices(tmp_path: Path) -> None:
    text = (
        "paths: {ignore: [vendor/, '*.lock']}\nallow_workflow_changes: true\n"
        "verify: {allow_unverified: true}\nrisk: {high_lines: 40, max_files: 2}\n"
    )
    config = parse_repo_config(text).config
    options = gate_options(config)
    assert isinstance(options, GateOptions)
    assert options.allow_unverified is True
    assert options.risk_rules == RiskRules(40, 2)
    policy = options.path_policy
    assert policy.allow_workflow_changes is True
    assert policy.forbidden[: len(DEFAULT_FORBIDDEN)] == DEFAULT_FORBIDDEN
    assert config.is_ignored("vendor/lib/x.py")
    assert config.is_ignored("sub/poetry.lock")
    assert not config.is_ignored("src/vendor.py")
    # Ignored paths are refused by the one path gate, so no agent can change them.
    for path in ("vendor/lib/x.py", "a/b/yarn.lock"):
        with pytest.raises(PathNotAllowed, match="forbidden pattern"):
            check_paths(tmp_path, [path], policy)
    assert check_paths(tmp_path, [".github/workflows/ci.yml"], policy).high_risk


def test_default_gate_options_are_the_gates_defaults() -> None:
    assert gate_options(RepoConfig()) == GateOptions()


def test_protected_owners_match_in_any_case() -> None:
    config = parse_repo_config("protected_owners: ['@Acme/Security', dev@example.com]").config
    assert config.protects(["@someone", "@acme/security"])
    assert config.protects(("DEV@example.com",))
    assert not config.protects(["@acme/web"])
    assert not RepoConfig().protects(["@acme/security"])


def test_ci_autofix_branches() -> None:
    config = parse_repo_config("ci_autofix: {branches: [main, 'release/*']}").config
    assert config.ci_autofix.covers("main")
    assert config.ci_autofix.covers("release/2.1")
    assert not config.ci_autofix.covers("feature/x")
    assert RepoConfig().ci_autofix.covers("feature/deep/name")
    off = parse_repo_config("ci_autofix: {enabled: false}").config
    assert not off.ci_autofix.covers("main")


# --- each kind of error ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("limts: {}", "limts: unknown key; did you mean limits?"),
        ("limits: {max_open: 3}", "limits.max_open: unknown key; did you mean max_open_prs?"),
        ("verify: [1, 2]", "verify: must be a mapping with keys commands, allow, allow_unverified"),
        ("ci_autofix: off", "ci_autofix: must be a mapping with keys enabled, branches"),
        ("draft_prs: maybe", "draft_prs: must be true or false"),
        ("limits: {max_open_prs: many}", "limits.max_open_prs: must be a whole number"),
        ("limits: {max_open_prs: 0}", "limits.max_open_prs: must be at least 1"),
        ("ci_autofix: {attempts_per_sha: 11}", "ci_autofix.attempts_per_sha: must be at most 10"),
        ("sweep: {schedule: hourly}", "sweep.schedule: must be 'daily', 'weekly' or 'monthly'"),
        ("sweep: {schedule: off}", "sweep.schedule: must be 'daily', 'weekly' or 'monthly'"),
        ("verify: {commands: pytest}", "verify.commands: must be a list of non-empty strings"),
        ("paths: {ignore: ['']}", "paths.ignore: must be a list of non-empty strings"),
        ("verify: {allow: ['(']}", "verify.allow: '(' is not a regular expression"),
        ("verify: {commands: ['echo \"x']}", "verify.commands: 'echo \"x' cannot be split"),
        ("paths: {ignore: ['!keep']}", "paths.ignore: '!keep': negated patterns"),
        ("protected_owners: [security team]", "protected_owners: 'security team' is not a"),
        ("agents: [security]", "agents: must be a mapping"),
        ("agents: {enabled: security}", "agents.enabled: must be a list of specialist names"),
        ("agents: {enabled: [linter]}", "agents.enabled: names 'linter', which is not"),
        ("agents: {linter: {}}", "agents.linter: names 'linter', which is not a specialist"),
        ("agents: {ruff: {fix: true}}", "agents.ruff: the ruff specialist takes no settings"),
        ("agents: {security: high}", "agents.security: must be a mapping of settings"),
        (
            "agents: {security: {severity_threshold: huge}}",
            "agents.security.severity_threshold: must be 'low', 'medium', 'high' or 'critical'",
        ),
        ("agents: {style: {colour: red}}", "agents.style.colour: extra inputs are not permitted"),
        ("sweep: {agents: [bogus]}", "sweep.agents: 'bogus' is not a specialist"),
        (
            "agents: {enabled: [security]}\nsweep: {agents: [style]}",
            "sweep.agents: names style, not enabled under agents.enabled",
        ),
    ],
)
def test_a_wrong_key_is_one_line_naming_it(text: str, expected: str) -> None:
    assert expected in _only_problem(text)


def test_the_problem_names_the_line() -> None:
    text = "draft_prs: true\nlimits:\n  jobs_per_user_per_day: 0\n"
    problem = _only_problem(text)
    assert problem.endswith("(line 3)")
    assert problem.startswith(f"{SOURCE}: limits.jobs_per_user_per_day: ")


def test_a_wrong_key_takes_its_default_and_the_rest_still_applies() -> None:
    text = (
        "paths: {ignore: [secrets/]}\n"
        "limits: {max_open_prs: -1, jobs_per_user_per_day: 3}\n"
        "sweep: {schedule: hourly, max_prs: 1}\n"
        "agents: {enabled: [security, linter], security: {severity_threshold: high}}\n"
        "draft_prs: true\n"
        "unknown: 1\n"
    )
    outcome = parse_repo_config(text, SOURCE)
    keys = [p.key for p in outcome.details]
    assert sorted(keys) == ["agents.enabled", "limits.max_open_prs", "sweep.schedule", "unknown"]
    config = outcome.config
    assert config.paths.ignore == ("secrets/",)
    assert config.limits.max_open_prs == 5
    assert config.limits.jobs_per_user_per_day == 3
    assert (config.sweep.schedule, config.sweep.max_prs) == ("weekly", 1)
    assert config.specialists.enabled == ALL_NAMES
    assert config.specialists.tuning["security"].model_dump()["severity_threshold"] == "high"
    assert config.draft_prs is True


@pytest.mark.parametrize(
    ("text", "problem", "kept"),
    [
        (
            "verify:\n  comands: [make check]\n  allow: ['tox( .*)?']\n  allow_unverified: true\n",
            "verify.comands: unknown key; did you mean commands?",
            lambda c: (
                (c.verify.commands, c.verify.allow, c.verify.allow_unverified)
                == ((), ("tox( .*)?",), True)
            ),
        ),
        (
            "verify:\n  commands: 3\n  allow_unverified: true\n",
            "verify.commands: must be a list of non-empty strings",
            lambda c: (c.verify.commands, c.verify.allow_unverified) == ((), True),
        ),
        (
            "sweep:\n  shedule: daily\n  max_prs: 1\n",
            "sweep.shedule: unknown key; did you mean schedule?",
            lambda c: (c.sweep.schedule, c.sweep.max_prs) == ("weekly", 1),
        ),
        (
            "risk:\n  high_line: 3\n  max_files: 2\n",
            "risk.high_line: unknown key; did you mean high_lines?",
            lambda c: (c.risk.high_lines, c.risk.max_files) == (RiskRules().high_lines, 2),
        ),
        (
            "paths:\n  ignores: [vendor/]\nprotected_owners: ['@acme/sec']\n",
            "paths.ignores: unknown key; did you mean ignore?",
            lambda c: (c.paths.ignore, c.protected_owners) == ((), ("@acme/sec",)),
        ),
        (
            "agents:\n  enabled: [security, tests]\n  securty: {max_proposals: 1}\n"
            "  tests: {max_proposals: 2}\n",
            "agents.securty: names 'securty', which is not a specialist",
            lambda c: (
                c.specialists.enabled == ("security", "tests")
                and c.specialists.tuning["tests"].max_proposals == 2
            ),
        ),
        (
            # The agent's own name for a specialist: its key is named, and only it is dropped.
            "agents:\n  enabled: [security, tests]\n  SecurityGuardian: {max_proposal: 1}\n"
            "  tests: {max_proposals: 2}\n",
            "agents.SecurityGuardian.max_proposal: extra inputs are not permitted (line 3)",
            lambda c: (
                c.specialists.enabled == ("security", "tests")
                and c.specialists.tuning["tests"].max_proposals == 2
            ),
        ),
        (
            "ci_autofix:\n  branches: [main]\n  branches: [dev]\n  attempts_per_sha: 3\n",
            "ci_autofix.branches: is also given on line 3; all are ignored (line 2)",
            lambda c: (c.ci_autofix.branches, c.ci_autofix.attempts_per_sha) == (("*",), 3),
        ),
        (
            "verify:\n  2: [x]\n  commands: [make check]\n",
            "verify.2: keys should be strings (line 2)",
            lambda c: c.verify.commands == ("make check",),
        ),
    ],
)
def test_one_wrong_key_is_reported_and_the_rest_of_its_section_applies(
    text: str, problem: str, kept: Callable[[RepoConfig], bool]
) -> None:
    outcome = parse_repo_config(text + "draft_prs: true\nlimits: {max_open_prs: 2}\n", SOURCE)
    assert len(outcome.problems) == 1, outcome.problems
    assert outcome.problems[0].startswith(f"{SOURCE}: {problem}")
    assert kept(outcome.config)
    assert (outcome.config.draft_prs, outcome.config.limits.max_open_prs) == (True, 2)


def test_every_problem_is_reported_in_the_order_of_the_file() -> None:
    text = (
        "verify:\n  comands: [make check]\n  allow_unverified: true\n"
        "paths:\n  ignore: [vendor/]\n"
        "risk: {high_lines: 0, max_files: 4}\n"
        "draft_prs: true\n"
        "draft_prs: false\n"
    )
    outcome = parse_repo_config(text, SOURCE)
    assert [(p.key, p.line) for p in outcome.details] == [
        ("verify.comands", 2),
        ("risk.high_lines", 6),
        ("draft_prs", 7),
    ]
    assert (
        outcome.problems[2]
        == f"{SOURCE}: draft_prs: is also given on line 8; all are ignored (line 7)"
    )
    assert all("\n" not in p for p in outcome.problems)
    config = outcome.config
    assert (config.verify.allow_unverified, config.paths.ignore) == (True, ("vendor/",))
    assert (config.risk.high_lines, config.risk.max_files) == (RiskRules().high_lines, 4)
    assert config.draft_prs is False


def test_three_typos_are_three_problems() -> None:
    text = "verify: {comands: [x]}\nsweep: {shedule: daily}\nrisk: {high_line: 3}\n"
    keys = [p.key for p in parse_repo_config(text, SOURCE).details]
    assert keys == ["verify.comands", "sweep.shedule", "risk.high_line"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("verify: {commands: [pytest\n", "line 2: not valid YAML: expected ',' or ']'"),
        ("a: 1\n  b: 2\n", "line 2: not valid YAML: mapping values are not allowed here"),
        ("a: 1\n---\nb: 2\n", "line 2: not valid YAML: but found another document"),
        ("x: !!python/object:os.system {}", "line 1: not valid YAML: could not determine a"),
        ("- verify\n- paths\n", "must be a mapping of keys such as verify and paths, not a list"),
        ("just words", "must be a mapping of keys such as verify and paths, not a str"),
        ("[" * 3000, "is nested too deeply"),
        (
            "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
            "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
            "expands to more than 10000 values",
        ),
        ("# x\n" * (MAX_CONFIG_BYTES // 4 + 1), "is larger than 64 KiB"),
    ],
)
def test_an_unreadable_file_is_one_line_and_all_defaults(text: str, expected: str) -> None:
    outcome = parse_repo_config(text, SOURCE)
    assert outcome.config == RepoConfig()
    assert len(outcome.problems) == 1
    assert expected in outcome.problems[0]
    assert "\n" not in outcome.problems[0]


def test_many_problems_are_capped() -> None:
    text = "".join(f"unknown_{n}: 1\n" for n in range(40)) + "draft_prs: true\n"
    outcome = parse_repo_config(text, SOURCE)
    assert len(outcome.problems) == 31
    assert outcome.problems[-1] == f"{SOURCE}: 10 more problems not shown"
    assert outcome.config.draft_prs is True


def test_yaml_merge_keys_are_not_duplicates() -> None:
    text = "base: &base {enabled: false}\n"
    outcome = parse_repo_config(text + "ci_autofix: {<<: *base, attempts_per_sha: 3}\n")
    assert [p.key for p in outcome.details] == ["base"]
    assert outcome.config.ci_autofix.enabled is False
    assert outcome.config.ci_autofix.attempts_per_sha == 3


_SCALARS = st.none() | st.booleans() | st.integers(-5, 30) | st.floats(0, 3) | st.text(max_size=8)
_KEYS = st.sampled_from([*RepoConfig.model_fields, "enabled", "commands", "x", *ALL_NAMES])


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4)


_VALUES = st.recursive(
    _SCALARS | st.sampled_from(["yes", "5", "true", "weekly", "*", "@a/b", "security"]),
    _nested,
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(list(RepoConfig.model_fields)), _VALUES, max_size=6))
def test_never_raises_on_any_structure(data: dict[str, Any]) -> None:
    outcome = parse_repo_config(yaml.safe_dump(data), SOURCE)
    assert isinstance(outcome.config, RepoConfig)
    assert all("\n" not in p for p in outcome.problems)
    if not outcome.problems and "agents" not in data:
        # The specialists' tunings parse leniently ("3" for 3); the rest is as strict as the schema.
        jsonschema.validate(data, json_schema())


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_never_raises_on_any_text(text: str) -> None:
    outcome = parse_repo_config(text, SOURCE)
    assert isinstance(outcome.config, RepoConfig)
    assert all("\n" not in p for p in outcome.problems)


# --- the file in a checkout -----------------------------------------------------------------


def _write(root: Path, name: str, text: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_github_dir_first_then_the_root(tmp_path: Path) -> None:
    assert CONFIG_PATHS == (".github/ambient.yml", ".ambient.yml")
    _write(tmp_path, ".ambient.yml", "draft_prs: true\n")
    outcome = load_repo_config_file(tmp_path)
    assert (outcome.source, outcome.config.draft_prs, outcome.problems) == (
        ".ambient.yml",
        True,
        (),
    )
    _write(tmp_path, ".github/ambient.yml", "limits: {max_open_prs: 2}\n")
    outcome = load_repo_config_file(tmp_path)
    assert outcome.source == ".github/ambient.yml"
    assert outcome.config.limits.max_open_prs == 2
    assert outcome.config.draft_prs is False
    assert outcome.problems == (".ambient.yml: ignored: .github/ambient.yml is read instead",)


def test_a_symlinked_config_is_not_followed(tmp_path: Path) -> None:
    outside = _write(tmp_path / "outside", "secret.yml", "draft_prs: true\n")
    (tmp_path / "repo" / ".github").mkdir(parents=True)
    (tmp_path / "repo" / ".github" / "ambient.yml").symlink_to(outside)
    outcome = load_repo_config_file(tmp_path / "repo")
    assert outcome.config == RepoConfig()
    assert outcome.problems == (".github/ambient.yml: is a symbolic link; a config is read only"
                                " from a regular file",)  # fmt: skip


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"draft_prs: \xff\n", ".ambient.yml: is not UTF-8 text (byte 11)"),
        (b"#" * (MAX_CONFIG_BYTES + 1), ".ambient.yml: is larger than 64 KiB"),
    ],
)
def test_an_unreadable_file_in_a_checkout(tmp_path: Path, content: bytes, expected: str) -> None:
    _write(tmp_path, ".ambient.yml", content)
    outcome = load_repo_config_file(tmp_path)
    assert outcome.config == RepoConfig()
    assert outcome.problems[0].startswith(expected)


def test_checks_read_the_verify_section_through_the_model(tmp_path: Path) -> None:
    _write(tmp_path, ".ambient.yml", "verify: {commands: ['tox -e py'], allow: ['tox( .*)?']}\n")
    checks = read_checks(tmp_path)
    assert (checks.commands, checks.allow, checks.source) == (
        ("tox -e py",),
        ("tox( .*)?",),
        ".ambient.yml",
    )
    # A problem elsewhere is the job's to report; the checks still run.
    _write(tmp_path, ".ambient.yml", "limits: {max_open_prs: 0}\nverify: {commands: [make]}\n")
    assert read_checks(tmp_path).commands == ("make",)
    _write(tmp_path, ".ambient.yml", "verify: {allow: ['(']}\n")
    with pytest.raises(ConfigError, match=r"^\.ambient\.yml: verify\.allow '\(' is not a"):
        read_checks(tmp_path)


# --- schema and docs ------------------------------------------------------------------------


def test_the_schema_validates_the_defaults_and_the_example() -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(RepoConfig().model_dump(mode="json"), schema)
    example = yaml.safe_load(_example())
    jsonschema.validate(example, schema)
    parsed = parse_repo_config(_example()).config
    jsonschema.validate(parsed.model_dump(mode="json"), schema)
    assert parse_repo_config(json.dumps(parsed.model_dump(mode="json"))).config == parsed


@pytest.mark.parametrize(
    "data",
    [
        {"limts": {}},
        {"limits": {"max_open_prs": 0}},
        {"agents": {"security": {"severity_threshold": "huge"}}},
        {"agents": {"ruff": {}}},
        {"sweep": {"schedule": "hourly"}},
        {"verify": {"commands": [""]}},
        {"draft_prs": "yes"},
    ],
)
def test_the_schema_rejects_what_the_model_rejects(data: dict[str, Any]) -> None:
    assert parse_repo_config(json.dumps(data)).problems
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema())


def test_the_key_table_in_the_docs_is_current() -> None:
    text = DOC.read_text()
    begin = text.index("<!-- repo-config:begin -->\n") + len("<!-- repo-config:begin -->\n")
    end = text.index("<!-- repo-config:end -->")
    assert text[begin:end] == repo_config_table(), "regenerate: ambient config schema --markdown"


def test_the_table_has_a_row_per_key() -> None:
    table = repo_config_table()
    for name, field in RepoConfig.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            for key in annotation.model_fields:
                assert f"| `{name}.{key}` |" in table
        elif name != "agents":
            assert f"| `{name}` |" in table
    assert "| `agents.enabled` |" in table
    assert "| `agents.security` |" in table


# --- the command ----------------------------------------------------------------------------


def _ambient(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", "config", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


def test_config_check_ok_and_problems(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.yml", _example())
    bad = _write(tmp_path, "bad.yml", "limits: {max_open_prs: 0}\ndraft_prs: maybe\nx: 1\n")
    broken = _write(tmp_path, "broken.yml", "verify:\n  commands: [pytest\n")
    done = _ambient("check", str(good))
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{good}: ok\n", "")
    done = _ambient("check", str(bad))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{bad}: limits.max_open_prs: must be at least 1 (line 1)",
        f"{bad}: draft_prs: must be true or false (line 2)",
        f"{bad}: x: unknown key (known here: agents, verify, setup, paths, protected_owners, "
        "allow_workflow_changes, ci_autofix, sweep, limits, risk, tasks, push_to_pr_branch, "
        "draft_prs) (line 3)",
    ]
    done = _ambient("check", str(broken))
    assert done.returncode == 1
    assert done.stdout.count("\n") == 1
    assert done.stdout.startswith(f"{broken}: line 3: not valid YAML: ")
    assert "Traceback" not in done.stderr


def test_config_schema_prints_the_schema_and_the_table() -> None:
    done = _ambient("schema")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json_schema()
    done = _ambient("schema", "--markdown")
    assert (done.returncode, done.stdout) == (0, repo_config_table())
