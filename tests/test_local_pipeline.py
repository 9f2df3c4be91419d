"""The local pipeline end to end on the bundled example, with each sandbox backend:
real git, the scripted model over HTTP, real sandboxes running the example's tests."""

from __future__ import annotations

import difflib
import json
import os
import random
import shutil
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agents.fixer import FixTask
from agents.llm import OpenAIModel
from agents.specialists import read_config
from bot.flows.local import LocalRun, local_fix, local_sweep
from bot.pipeline.process import PipelineConfig
from sandbox import SandboxKind
from tests.fixtures.llm_sim import LLMSim
from tests.fixtures.sandbox import require_backend

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "python-demo"
INVENTORY = (EXAMPLE / "inventory.py").read_text()
REFINE = "Refine round"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def _checkout(tmp_path: Path, *, ruff: bool = True) -> Path:
    repo = tmp_path / "demo"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    if not ruff:
        text = (repo / "pyproject.toml").read_text()
        (repo / "pyproject.toml").write_text(text.split("[tool.ruff]")[0])
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "demo")
    return repo


def _edit(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(lines)


def _answer(title: str, diff: str, risk: str = "low") -> str:
    return json.dumps([{"title": title, "description": title, "diff": diff, "risk_level": risk}])


def _run(repo: Path, tmp_path: Path, backend: SandboxKind, model: OpenAIModel | None) -> LocalRun:
    config = PipelineConfig(sandbox=backend, command_timeout_s=120)
    return LocalRun(repo, tmp_path / "workspaces", config, model)


def _untouched(repo: Path, head: str) -> None:
    assert _git(repo, "status", "--porcelain") == ""
    assert _git(repo, "rev-parse", "HEAD") == head
    assert _git(repo, "branch", "--show-current") == "main"


async def test_without_a_model_ruff_is_published_as_a_review_branch(
    tmp_path: Path, sandbox_backend: SandboxKind
) -> None:
    repo = _checkout(tmp_path)
    head = _git(repo, "rev-parse", "HEAD")
    report = await local_sweep(
        _run(repo, tmp_path, sandbox_backend, None), agents=read_config(None)
    )
    assert report.notes[0].startswith("no model configured")
    # One proposal per rule family; those that change the same lines as another wait.
    fates = {o.title: o.fate for o in report.outcomes}
    assert {o.agent for o in report.outcomes} == {"Ruff"}
    assert fates["Apply ruff's F fixes to 1 files"] == "published"
    assert fates["Apply ruff's formatting to 1 files"] == "published"
    assert set(fates.values()) == {"published", "superseded"}
    _untouched(repo, head)
    for outcome in report.outcomes:
        if outcome.fate != "published":
            continue
        assert outcome.risk == "low"
        assert "already failing on the base commit" in outcome.verification
        changed = _git(repo, "diff", "--name-only", f"main..{outcome.branch}")
        assert changed == "inventory.py"
        assert Path(outcome.patch_file).read_text().startswith("diff --git a/inventory.py")
    assert not list((tmp_path / "workspaces").iterdir())


def _specialist_script() -> list[dict[str, Any]]:
    token = "ghp_" + "".join(random.choices(string.ascii_letters + string.digits, k=36))
    faster = INVENTORY.replace(
        "    duplicates = []\n    for i in range(len(items)):\n"
        "        for j in range(len(items)):\n"
        "            if i != j and items[i] == items[j] and items[i] not in duplicates:\n"
        "                duplicates.append(items[i])\n    return duplicates\n",
        "    seen: set[str] = set()\n    duplicates: dict[str, None] = {}\n    for item in items:\n"
        "        if item in seen:\n            duplicates[item] = None\n        seen.add(item)\n"
        "    return list(duplicates)\n",
    )
    restyled = INVENTORY.replace("    duplicates = []\n", "    duplicates: list[str] = []\n")
    more_tests = "from inventory import find_duplicates\n\n\ndef test_no_duplicates() -> None:\n"
    more_tests += '    assert find_duplicates(["a", "b"]) == []\n'
    return [
        # A refine round that fails keeps every proposal as it was (and is reported).
        {"match": {"user": REFINE}, "status": 503, "repeat": True},
        {
            "match": {"agent": "SecurityGuardian"},
            "content": _answer(
                "Read the token from config", _edit("settings.py", "", f'TOKEN = "{token}"\n')
            ),
        },
        {
            "match": {"agent": "RefactorArchitect"},
            "content": _answer("Move helpers out", _edit("../outside.py", "", "x = 1\n")),
        },
        {
            "match": {"agent": "PerformanceOptimizer"},
            "content": _answer(
                "Find duplicates in linear time", _edit("inventory.py", INVENTORY, faster)
            ),
        },
        {
            "match": {"agent": "StyleEnforcer"},
            "content": _answer(
                "Annotate the duplicates list", _edit("inventory.py", INVENTORY, restyled)
            ),
        },
        {
            "match": {"agent": "TestEnhancer"},
            "content": _answer(
                "Test a list without duplicates", _edit("tests/test_more.py", "", more_tests)
            ),
        },
    ]


async def test_a_sweep_publishes_what_passes_and_reports_every_other_fate(
    tmp_path: Path, sandbox_backend: SandboxKind, llm_sim: LLMSim
) -> None:
    repo = _checkout(tmp_path, ruff=False)
    head = _git(repo, "rev-parse", "HEAD")
    llm_sim.set_script(_specialist_script())
    model = OpenAIModel(base_url=llm_sim.base_url, model="scripted", max_retries=0)
    try:
        run = _run(repo, tmp_path, sandbox_backend, model)
        report = await local_sweep(run, agents=read_config(None))
    finally:
        await model.aclose()
    fates = {o.agent: o for o in report.outcomes}
    assert fates["SecurityGuardian"].fate == "blocked-secret", fates["SecurityGuardian"]
    assert "settings.py:1" in fates["SecurityGuardian"].reason
    assert "ghp_" not in json.dumps(report.as_dict())
    assert fates["RefactorArchitect"].fate in ("blocked-path", "rejected")
    assert fates["TestEnhancer"].fate == "published"
    overlap = sorted(fates[a].fate for a in ("PerformanceOptimizer", "StyleEnforcer"))
    assert overlap == ["published", "superseded"]
    _untouched(repo, head)
    assert not (tmp_path / "outside.py").exists()
    branches = _git(repo, "branch", "--list", "ambient/sweep/*").split()
    assert len(branches) == 2


async def test_fix_reads_the_failure_and_publishes_a_verified_fix(
    tmp_path: Path, sandbox_backend: SandboxKind, llm_sim: LLMSim
) -> None:
    repo = _checkout(tmp_path)
    head = _git(repo, "rev-parse", "HEAD")
    wrong = INVENTORY.replace("/ len(items)", "/ len(items) if items else None")
    right = INVENTORY.replace("/ len(items)", "/ len(items) if items else 0.0")
    llm_sim.set_script(
        [
            {
                "match": {"agent": "fixer", "user": "None == 0.0"},
                "times": 1,
                "content": _answer("Guard the empty case", _edit("inventory.py", INVENTORY, right)),
            },
            {
                "match": {"agent": "fixer"},
                "times": 1,
                "content": _answer(
                    "Avoid dividing by zero", _edit("inventory.py", INVENTORY, wrong)
                ),
            },
            {"match": {"agent": "reviewer"}, "content": '{"verdict": "approve", "comments": "ok"}'},
        ]
    )
    model = OpenAIModel(base_url=llm_sim.base_url, model="scripted", max_retries=0)
    try:
        run = _run(repo, tmp_path, sandbox_backend, model)
        report = await local_fix(run, model, FixTask("make the tests pass"))
    finally:
        await model.aclose()
    (outcome,) = report.outcomes
    assert outcome.fate == "published", outcome.reason
    assert outcome.branch.startswith("ambient/fix/")
    assert "exit 0" in outcome.verification
    _untouched(repo, head)
    assert "if items else 0.0" in _git(repo, "show", f"{outcome.branch}:inventory.py")


def test_the_cli_prints_a_json_report_and_says_when_no_model_ran(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMBIENT_LLM")}
    env["AMBIENT_WORKSPACE_ROOT"] = str(tmp_path / "ws")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "sweep", str(repo), "--json", "--sandbox", "bwrap"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    if shutil.which("bwrap") is None and os.environ.get("CI") != "true":
        pytest.skip("bubblewrap is not installed (it is required when CI=true)")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["notes"][0].startswith("no model configured")
    assert {p["fate"] for p in report["proposals"]} == {"published", "superseded"}


def _many_fixable(tmp_path: Path) -> Path:
    """30 modules with an unused import each (ruff's F401), two more the config ignores, a
    passing test, and a config that keeps changes to 8 files and ignores those two."""
    repo = tmp_path / "many"
    (repo / "pkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / ".github").mkdir()
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "many"\nversion = "0"\n\n[tool.ruff.lint]\nselect = ["F"]\n\n'
        '[tool.pytest.ini_options]\npythonpath = ["."]\n'
    )
    for name in [f"mod{n:02}" for n in range(30)] + ["skip_a", "skip_b"]:
        (repo / "pkg" / f"{name}.py").write_text(f'import os\n\nNAME = "{name}"\n')
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "tests" / "test_pkg.py").write_text(
        'from pkg import mod00\n\n\ndef test_name() -> None:\n    assert mod00.NAME == "mod00"\n'
    )
    (repo / ".github" / "ambient.yml").write_text(
        "risk:\n  max_files: 8\npaths:\n  ignore: [pkg/skip_*.py]\n"
    )
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "many")
    return repo


@pytest.mark.bwrap
def test_the_cli_applies_the_checkouts_config_and_ruffs_fixes_come_in_verified_parts(
    tmp_path: Path,
) -> None:
    require_backend("bwrap")
    repo = _many_fixable(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMBIENT_LLM")}
    env["AMBIENT_WORKSPACE_ROOT"] = str(tmp_path / "ws")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "sweep", str(repo), "--json", "--sandbox", "bwrap"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout)["proposals"]
    # risk.max_files (8) cuts the 30 files into four parts; paths.ignore keeps two out.
    assert [(o["title"], o["fate"]) for o in outcomes] == [
        (f"Apply ruff's F fixes to {n} files (part {i} of 4)", "published")
        for i, n in enumerate((8, 8, 8, 6), 1)
    ]
    touched: list[str] = []
    for outcome in outcomes:
        assert "`python -m pytest -q`: exit 0" in outcome["verification"], outcome
        changed = _git(repo, "diff", "--name-only", f"main..{outcome['branch']}").split()
        assert len(changed) <= 8
        touched += changed
    assert touched == [f"pkg/mod{n:02}.py" for n in range(30)]


def test_the_cli_names_a_missing_checkout_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "sweep", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"ambient: {tmp_path.resolve()} is not a git checkout (no .git)"


def test_a_spent_token_budget_stops_the_job_in_one_line(tmp_path: Path, llm_sim: LLMSim) -> None:
    repo = _checkout(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMBIENT_")}
    env.update(
        AMBIENT_WORKSPACE_ROOT=str(tmp_path / "ws"),
        AMBIENT_LLM_BASE_URL=llm_sim.base_url,
        AMBIENT_LLM_MODEL="scripted",
        AMBIENT_LLM_JOB_TOKENS="10",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "fix", str(repo), "--task", "fix it", "--sandbox", "bwrap"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("ambient: token budget spent: 0 of 10 tokens")
    assert len(done.stderr.strip().splitlines()) == 1
    assert llm_sim.requests() == []
