"""The tests specialist's measured coverage: the suite runs under coverage.py in the sandbox,
and the code it never runs is what the specialist is shown."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from agents.analysis import analyse
from agents.analyzers import RuffRun
from agents.context import read_repo
from agents.findings import weight_of
from agents.measured import CoverageUnreadable, read_measured, uncovered_runs
from agents.pack_render import render_pack
from agents.rotation import Cursor
from agents.specialists import enabled, read_config
from agents.sweep_pack import plan_sweep
from bot.flows.measure import measure_coverage, pytest_arguments, read_report
from bot.git import Workspace
from bot.pipeline import PipelineConfig
from sandbox import SandboxKind
from tests.fixtures.sandbox import require_backend

AUTH = (
    "def check(user: str, password: str) -> bool:\n"
    '    """Whether the password is right."""\n'
    "    return password == 'right'\n"
    "\n"
    "\n"
    "def lockout(attempts: int) -> str:\n"
    '    """What happens after failed attempts."""\n'
    "    if attempts > 3:\n"
    "        wait = attempts * 10\n"
    "        return f'locked for {wait} s'\n"
    "    return 'try again'\n"
)
TESTED = "def total(values: list[int]) -> int:\n    return sum(values)\n"
FILES = {
    "app/__init__.py": "",
    "app/auth.py": AUTH,
    "app/maths.py": TESTED,
    "app/unused.py": "def never() -> int:\n    return 1\n",
    "tests/test_app.py": (
        "from app.auth import check\n"
        "from app.maths import total\n"
        "\n\n"
        "def test_check() -> None:\n"
        "    assert check('u', 'right')\n"
        "\n\n"
        "def test_total() -> None:\n"
        "    assert total([1, 2]) == 3\n"
    ),
    "README.md": "# App\n",
}


def _report(files: dict[str, tuple[list[int], list[int]]]) -> str:
    return json.dumps(
        {
            "meta": {"format": 3},
            "files": {
                path: {"executed_lines": ran, "missing_lines": missing}
                for path, (ran, missing) in files.items()
            },
        }
    )


def test_runs_of_unrun_lines_are_split_by_a_line_that_ran_and_come_longest_first() -> None:
    assert uncovered_runs([4, 5, 9, 10, 11], [1, 2, 3, 7, 8]) == [(9, 11), (4, 5)]
    assert uncovered_runs([2, 3], []) == [(2, 3)]
    assert uncovered_runs([], [1]) == []


def test_modules_below_the_threshold_become_findings_and_tests_are_left_out() -> None:
    report = _report(
        {
            "app/auth.py": ([1, 2, 6, 7], [8, 9, 10]),
            "app/maths.py": ([1, 2], []),
            "tests/test_app.py": ([1, 2], [5]),
            "elsewhere.py": ([], [1]),
        }
    )
    sources = {"app/auth.py", "app/maths.py", "tests/test_app.py"}
    measured = read_measured(report, sources, threshold=80)
    (finding,) = measured.findings
    assert (finding.code, finding.path, finding.line) == ("uncovered", "app/auth.py", 8)
    assert finding.reason == "measured coverage 57%: lines 8-10 not run"
    assert (measured.files, measured.statements, measured.covered) == (2, 9, 6)
    # A module most of whose code never runs weighs more than one nearly covered.
    weight = weight_of(finding, "tests")
    nearly = read_measured(
        _report({"app/auth.py": ([1, 2, 3, 4, 5, 6, 7, 8, 9], [10])}), sources, threshold=95
    )
    assert weight > weight_of(nearly.findings[0], "tests")
    assert read_measured(report, sources, threshold=50).findings == ()


@pytest.mark.parametrize(
    ("report", "said"),
    [
        ("not json", "not JSON"),
        ("[]", "no files object"),
        ('{"files": {"a.py": {"missing_lines": "1-3"}}}', "a.py: missing_lines"),
    ],
)
def test_an_unreadable_report_is_one_line_naming_what_is_wrong(report: str, said: str) -> None:
    with pytest.raises(CoverageUnreadable, match=said):
        read_measured(report, {"a.py"}, threshold=80)


def test_the_pytest_arguments_of_a_check() -> None:
    assert pytest_arguments(("pytest", "-q", "tests")) == ("-q", "tests")
    assert pytest_arguments(("python3", "-m", "pytest", "-x")) == ("-x",)
    assert pytest_arguments(("ruff", "check", ".")) is None


def _repo(root: Path) -> str:
    for path, text in FILES.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "app"], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
async def test_the_suite_runs_under_coverage_and_unrun_code_leads_the_tests_pack(
    tmp_path: Path, backend: SandboxKind
) -> None:
    require_backend(backend)
    head = _repo(tmp_path / "app")
    pipeline = PipelineConfig(
        sandbox=backend, checks=("python -m pytest -q",), allow=(), command_timeout_s=120
    )
    async with await Workspace.clone(
        str(tmp_path / "app"), head, None, tmp_path / "ws", "sweep"
    ) as workspace:
        repo = await read_repo(workspace.repo)
        run = await measure_coverage(pipeline, workspace, set(repo.texts), threshold=80)
        # The scratch worktree is gone, and the checkout is as it was.
        assert not (workspace.root / "worktrees" / "coverage").exists()
        assert (
            subprocess.run(
                ["git", "-C", str(workspace.repo), "status", "--porcelain"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            == ""
        )
    assert run.measured is not None, run.note
    by_path = {f.path: f for f in run.measured.findings}
    # lockout() never runs; no test imports unused.py; maths.py is fully covered.
    assert set(by_path) == {"app/auth.py", "app/unused.py"}
    assert by_path["app/auth.py"].line == 8
    assert run.note.startswith("tests: coverage measured by running the suite: ")
    config = read_config(None)
    analysis = analyse(repo, RuffRun((), ""), measured=run.measured)
    assert not [f for f in analysis.findings if f.code == "untested"]
    plan = plan_sweep(analysis, enabled(config), config, cursor=Cursor(), job="sweep:1")
    shown = {f.path: f.why for f in plan.packs["tests"].files}
    # lockout's four statements never run (3 of 7 do).
    assert shown["app/auth.py"] == "measured coverage 43%: lines 8-11 not run"
    assert "def lockout" in render_pack(plan.packs["tests"])


async def test_without_a_pytest_check_nothing_is_measured_and_the_note_says_why(
    tmp_path: Path,
) -> None:
    require_backend("bwrap")
    head = _repo(tmp_path / "app")
    pipeline = PipelineConfig(sandbox="bwrap", checks=("ruff check .",), allow=())
    async with await Workspace.clone(
        str(tmp_path / "app"), head, None, tmp_path / "ws", "sweep"
    ) as workspace:
        run = await measure_coverage(pipeline, workspace, {"app/auth.py"}, threshold=80)
    assert (run.measured, run.note) == (None, "tests: coverage not measured: no pytest check")


@pytest.mark.parametrize(
    ("path", "holds_tests"),
    [
        ("typing_tests/mypy.py", True),
        ("testing/test_x.py", True),
        ("src/integration_tests/helpers.py", True),
        ("src/contests/scores.py", False),
        ("latest/module.py", False),
    ],
)
def test_test_directories_with_a_prefix_are_test_code_not_uncovered_source(
    path: str, holds_tests: bool
) -> None:
    report = _report({path: ([], [1, 2])})
    assert bool(read_measured(report, {path}, threshold=80).findings) is not holds_tests


def test_the_report_is_read_only_from_a_regular_file_never_through_a_link(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "host-secret.json"
    secret.write_text('{"files": {}}')
    report = tmp_path / "report.json"
    report.symlink_to(secret)
    assert read_report(report) == ""
    report.unlink()
    os.mkfifo(report)
    assert read_report(report) == ""
    report.unlink()
    report.write_text('{"files": {}}')
    assert read_report(report) == '{"files": {}}'
    assert read_report(tmp_path / "missing.json") == ""
