"""What each specialist is shown in a sweep: findings of real ruff over real checkouts, the
repository map, and the cursor that gives every file its turn."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents.analysis import analyse, analyse_checkout
from agents.analyzers import RuffRun, parse_ruff_json, ruff_findings
from agents.code_index import enclosing_span, index_file
from agents.context import read_repo
from agents.findings import Finding
from agents.pack import RepoFiles
from agents.pack_render import render_pack
from agents.prompted import with_prompt
from agents.proposal import Proposal
from agents.repo_map import build_map, rank_files
from agents.rotation import (
    Cursor,
    SweepRecord,
    advance,
    begin,
    coverage,
    cursor_from_json,
    source_files,
    window,
)
from agents.signals import python_imports, rank_for, untested_modules
from agents.specialists import enabled, read_config
from agents.sweep_pack import (
    SWEEP_BUDGET_TOKENS,
    files_per_specialist,
    plan_sweep,
)
from agents.usage import estimate_tokens
from bot.cli.debug import debug
from tests.fixtures.code_repos import checkout, synthetic_repo

SHELL = (
    "import subprocess\n\n\n"
    "def deploy(cmd: str) -> int:\n"
    '    """Run the deploy command."""\n'
    "    done = subprocess.run(cmd, shell=True, check=False)\n"
    "    return done.returncode\n"
)


def _module(number: int) -> str:
    body = "".join(f"    total += {step} * value\n" for step in range(12))
    return (
        f'"""Module {number}."""\n\n\n'
        f"def compute_{number}(value: int) -> int:\n"
        f'    """Compute {number}."""\n'
        f"    total = 0\n{body}    return total\n"
    )


def _planted(root: Path) -> Path:
    files = {f"app/mod{n:03}.py": _module(n) for n in range(200)}
    files["app/mod017.py"] = SHELL
    files["app/__init__.py"] = ""
    files["README.md"] = "# App\n"
    return checkout(root, files)


async def test_a_planted_shell_call_brings_its_module_into_the_security_pack(
    tmp_path: Path,
) -> None:
    root = _planted(tmp_path / "app")
    config = read_config(None)
    analysis = await analyse_checkout(root, await read_repo(root), config)
    assert analysis.notes == ()
    # The turn starts after the planted module: only its finding can bring it in.
    plan = plan_sweep(
        analysis, enabled(config), config, cursor=Cursor("app/mod017.py"), job="sweep:1"
    )
    security = plan.packs["security"]
    shown = {f.path: f for f in security.files}
    assert "app/mod017.py" not in plan.turn
    planted = shown["app/mod017.py"]
    assert (planted.reason, planted.why) == ("finding", "finding S602 line 6")
    assert [f.code for f in security.findings] == ["S602"]
    text = render_pack(security)
    assert "### app/mod017.py (finding S602 line 6)" in text
    assert "    done = subprocess.run(cmd, shell=True, check=False)\n" in text
    assert "- S602 app/mod017.py:6: `subprocess` call with `shell=True` identified" in text
    # The map shows the project's shape; the other specialists read other findings.
    assert "def deploy(cmd: str) -> int" in text
    for name in ("refactor", "style", "performance", "tests"):
        assert all(f.why != "finding S602 line 6" for f in plan.packs[name].files)
    assert security.used_tokens <= security.budget_tokens


def test_debug_context_prints_what_a_specialist_is_shown_in_a_sweep(tmp_path: Path) -> None:
    root = _planted(tmp_path / "app")
    result = CliRunner().invoke(debug, ["context", str(root), "--agent", "security", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["agent"] == "security"
    assert {"path": "app/mod017.py", "reason": "finding S602 line 6"}.items() <= next(
        f for f in shown["files"] if f["path"] == "app/mod017.py"
    ).items()
    assert shown["map"]["tokens"] > 0
    assert shown["map"]["indexed"] == 200
    assert [f["code"] for f in shown["findings"]] == ["S602"]
    assert shown["budget_tokens"] == SWEEP_BUDGET_TOKENS
    wrong = CliRunner().invoke(debug, ["context", str(root), "--agent", "ruff"])
    assert wrong.exit_code == 2
    assert wrong.output.startswith("ambient: --agent ruff: not a model specialist; choose one")


@pytest.mark.slow
async def test_every_file_of_a_2000_file_repository_gets_its_turn_within_the_budget(
    tmp_path: Path,
) -> None:
    root = checkout(tmp_path / "big", synthetic_repo(2000))
    config = read_config(None)
    specialists = enabled(config)
    analysis = await analyse_checkout(root, await read_repo(root), config)
    assert len(analysis.sources) == 2000 + 41  # the modules and the packages' __init__.py
    per_sweep = files_per_specialist(SWEEP_BUDGET_TOKENS) * len(specialists)
    sweeps = math.ceil(len(analysis.sources) / per_sweep)
    cursor, seen = Cursor(), set()
    for number in range(sweeps):
        plan = plan_sweep(analysis, specialists, config, cursor=cursor, job=f"sweep:{number}")
        assert len(plan.turn) >= per_sweep or len(seen | set(plan.turn)) == len(analysis.sources)
        for pack in plan.packs.values():
            assert pack.used_tokens <= pack.budget_tokens
            assert estimate_tokens([render_pack(pack)]) <= pack.budget_tokens * 1.1
        seen |= set(plan.shown())
        cursor = plan.cursor
        if seen >= set(analysis.sources):
            break
    assert set(analysis.sources) <= seen, f"{len(set(analysis.sources) - seen)} never shown"
    assert plan.repo_map.tokens <= SWEEP_BUDGET_TOKENS * 0.2
    covered = coverage(cursor, analysis.sources)
    share = round(100 * covered.shown / len(analysis.sources))
    assert covered.line() == (
        f"Coverage: {covered.shown:,} of {len(analysis.sources):,} source files shown in the "
        f"last {covered.sweeps} sweeps ({share}%)"
    )


def test_the_map_ranks_the_most_used_module_first_within_its_budget() -> None:
    texts = {
        "core/errors.py": "class Broken(Exception):\n    pass\n",
        "core/util.py": "from core.errors import Broken\n\n\ndef check(x: int) -> int:\n"
        "    if x < 0:\n        raise Broken(x)\n    return x\n\n\ndef _private() -> None:\n"
        "    pass\n",
        **{
            f"app/use{n}.py": f"from core.util import check\n\n\ndef run{n}() -> int:\n"
            f"    return check({n}) + check(1)\n"
            for n in range(5)
        },
        "notes.txt": "not code\n",
    }
    repo = RepoFiles.from_texts(texts)
    analysis = analyse(repo, RuffRun(()))
    shown = build_map(analysis.indices, repo.paths, 1000, ranking=analysis.ranking)
    lines = shown.text.splitlines()
    # What everything rests on comes first: errors (util's only import), then util.
    assert lines[:4] == [
        "core/errors.py:",
        "  class Broken(Exception)",
        "core/util.py:",
        "  def check(x: int) -> int",
    ]
    assert "_private" not in shown.text
    assert lines[-1] == "(… 1 more files not in the map: ./ 1)"
    assert (shown.files, shown.indexed) == (7, 7)
    small = build_map(analysis.indices, repo.paths, 60, ranking=analysis.ranking)
    assert small.tokens <= 60
    assert small.files < 7
    ranks = rank_files(analysis.indices, python_imports(texts)).files
    assert ranks["core/util.py"] > max(ranks[f"app/use{n}.py"] for n in range(5))


def test_the_syntax_tree_finds_long_functions_and_nested_loops() -> None:
    text = (
        "def outer(rows):\n"
        "    for row in rows:\n"
        "        for cell in row:\n"
        "            print(cell)\n"
        "\n\n"
        "def long():\n" + "".join(f"    x{n} = {n}\n" for n in range(12)) + "    return x0\n"
    )
    index = index_file("m.py", text, max_function_lines=10)
    assert index is not None
    assert [(f.code, f.line) for f in index.findings] == [("nested-loop", 3), ("long-function", 7)]
    assert index.findings[1].message == "`long` is 14 lines long (more than 10)"
    assert enclosing_span(index, 4) == (1, 4)
    assert enclosing_span(index, 5) is None
    assert [d.signature for d in index.definitions] == ["def outer(rows)", "def long()"]
    assert index_file("broken.py", "def f(:\n") is None
    assert index_file("README.md", "# x\n") is None


def test_modules_no_test_imports_are_the_tests_specialists_findings() -> None:
    texts = {
        "src/calc/__init__.py": "",
        "src/calc/core.py": "def add(a, b):\n    return a + b\n",
        "src/calc/parse.py": "def parse(text):\n    return int(text)\n",
        "tests/test_core.py": "from calc.core import add\n\n\ndef test_add():\n"
        "    assert add(1, 2)\n",
    }
    analysis = analyse(RepoFiles.from_texts(texts), RuffRun(()))
    untested = untested_modules(analysis.indices, python_imports(texts))
    assert [(f.path, f.reason) for f in untested] == [("src/calc/parse.py", "no test imports it")]
    ranked = rank_for("tests", analysis.findings)
    assert [c.path for c in ranked] == ["src/calc/parse.py"]
    # A repository puts its own paths first, and leaves ignored ones out.
    steered = rank_for(
        "tests",
        analysis.findings,
        prioritize=["src/calc/core.py"],
        candidates=analysis.sources,
        skip=lambda path: path.endswith("parse.py"),
    )
    assert [(c.path, c.reason) for c in steered] == [
        ("src/calc/core.py", "named in agents.tests.prioritize_paths")
    ]


def test_ruffs_json_becomes_findings_with_relative_paths(tmp_path: Path) -> None:
    answer = json.dumps(
        [
            {"code": "S602", "filename": str(tmp_path / "app" / "run.py"),
             "location": {"row": 6, "column": 5}, "message": "shell"},
            {"code": None, "filename": str(tmp_path / "bad.py"), "location": {"row": 1},
             "message": "SyntaxError"},
            {"code": "E711", "filename": "/elsewhere/x.py", "location": {"row": 2},
             "message": "outside"},
        ]
    )  # fmt: skip
    assert parse_ruff_json(answer, tmp_path) == (Finding("S602", "app/run.py", 6, "shell"),)
    with pytest.raises(ValueError):
        parse_ruff_json("not json", tmp_path)


async def test_a_missing_ruff_is_a_note_and_the_other_signals_stay(tmp_path: Path) -> None:
    root = _planted(tmp_path / "app")
    missing = await ruff_findings(root, ["app/mod017.py"], binary=str(tmp_path / "no-ruff"))
    assert missing.findings == ()
    assert missing.note.startswith("ruff could not run: ")
    found = await ruff_findings(root, ["app/mod017.py", "README.md"])
    assert [(f.code, f.path, f.line) for f in found.findings] == [("S602", "app/mod017.py", 6)]


def test_the_cursor_takes_turns_wraps_and_survives_a_retry() -> None:
    sources = source_files(["b.py", "a.py", "c.py", "tests/test_a.py", "d.md", "e.py"])
    assert sources == ("a.py", "b.py", "c.py", "e.py")
    assert window(sources, "", 3) == ("a.py", "b.py", "c.py")
    assert window(sources, "c.py", 3) == ("e.py", "a.py", "b.py")
    assert window(sources, "bb.py", 1) == ("c.py",)  # a removed file: the next one after it
    assert window(sources, "", 9) == sources
    first = advance(Cursor(), "job-1", ("a.py", "b.py"), ("a.py", "b.py", "README.md"))
    assert first.after == "b.py"
    assert first.recent == (SweepRecord("job-1", "", ("README.md", "a.py", "b.py")),)
    # A retried job starts where its first try did; another job goes on.
    assert begin(first, "job-1") == Cursor()
    assert begin(first, "job-2") == first
    second = advance(first, "job-2", ("c.py",), ("c.py",))
    assert coverage(second, sources).line() == (
        "Coverage: 3 of 4 source files shown in the last 2 sweeps (75%)"
    )
    assert cursor_from_json(second.to_json()) == second
    for broken in ("", "[]", '{"after": 1}', '{"after": "a", "recent": [{"job": 1}]}'):
        assert cursor_from_json(broken) is None
    hostile = Cursor("x-->y.py").to_json()
    assert "-->" not in hostile
    assert cursor_from_json(hostile) == Cursor("x-->y.py")


def test_a_proposal_names_the_finding_that_prompted_it() -> None:
    texts = {"app/run.py": SHELL, "app/other.py": _module(1)}
    repo = RepoFiles.from_texts(texts)
    ruff = RuffRun((Finding("S602", "app/run.py", 6, "shell=True"),))
    analysis = analyse(repo, ruff)
    config = read_config(None)
    plan = plan_sweep(analysis, enabled(config), config, cursor=Cursor(), job="j")
    proposal = Proposal(
        "SecurityGuardian", "No shell", "Run without a shell.",
        "--- a/app/run.py\n+++ b/app/run.py\n", "high", "CWE-78", ("app/run.py",), 0,
        ("security", "s602"),
    )  # fmt: skip
    said = with_prompt(proposal, plan.packs["security"]).description
    assert said == (
        "Run without a shell.\n\n**Prompted by:** finding S602 line 6 in `app/run.py` (shell=True)."
    )
    other = Proposal(
        "SecurityGuardian", "Tidy", "", "--- a/app/other.py\n+++ b/app/other.py\n", "low", "",
        ("app/other.py",), 0,
    )  # fmt: skip
    assert with_prompt(other, plan.packs["security"]).description == (
        "**Prompted by:** the sweep showed `app/other.py` for its turn (no finding)."
    )
