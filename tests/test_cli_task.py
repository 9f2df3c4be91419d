"""`ambient task PATH`: the task flow on a local checkout, run as the command is, against the
scripted model server over real HTTP and the bubblewrap sandboxing the checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.llm_sim import LLMSim
from tests.fixtures.sandbox import require_backend
from tests.test_e2e_task import BASE_TESTS, INVENTORY, PLAN, REPRO, RIGHT, _edit, _proposal
from tests.test_local_pipeline import EXAMPLE, _git

pytestmark = [pytest.mark.bwrap, pytest.mark.timeout(180)]


def _checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "demo"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    (repo / "tests" / "test_inventory.py").write_text(BASE_TESTS)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "demo")
    return repo


def _ambient(llm_sim: LLMSim, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMBIENT_")}
    env |= {
        "AMBIENT_LLM_BASE_URL": llm_sim.base_url,
        "AMBIENT_LLM_MODEL": "scripted",
        "AMBIENT_WORKSPACE_ROOT": str(tmp_path / "ws"),
        "AMBIENT_SETUP": "off",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "task", *args, "--sandbox", "bwrap"],
        capture_output=True,
        text=True,
        env=env,
        timeout=170,
        check=False,
    )


def test_an_issue_file_becomes_a_verified_review_branch(tmp_path: Path, llm_sim: LLMSim) -> None:
    require_backend("bwrap")
    repo = _checkout(tmp_path)
    head = _git(repo, "rev-parse", "HEAD")
    fix = _proposal("Guard", _edit("inventory.py", INVENTORY, RIGHT))
    llm_sim.set_script(
        [
            {"match": {"agent": "planner"}, "content": json.dumps(PLAN)},
            {"match": {"agent": "reproducer"}, "content": _proposal("Reproduce", REPRO)},
            {"match": {"agent": "fixer"}, "content": fix},
            {"match": {"agent": "reviewer"}, "content": '{"verdict": "approve", "comments": "ok"}'},
        ]
    )
    issue = tmp_path / "issue.md"
    issue.write_text("# Empty inventory crashes\n\naverage_price([]) raises ZeroDivisionError.\n")
    done = _ambient(llm_sim, tmp_path, str(repo), "--issue-file", str(issue), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    (outcome,) = report["proposals"]
    assert outcome["fate"] == "published", outcome
    assert "exit 0" in outcome["verification"]
    assert any(n.startswith("reproduction: a new test fails") for n in report["notes"])
    changed = _git(repo, "diff", "--name-only", f"main..{outcome['branch']}").split()
    assert sorted(changed) == ["inventory.py", "tests/test_empty.py"]
    # The working tree and main are untouched.
    assert _git(repo, "rev-parse", "HEAD") == head
    assert _git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    planner = next(r for r in llm_sim.requests() if r["agent"] == "planner")
    assert "ZeroDivisionError" in json.dumps(planner)


def test_a_vague_task_ends_with_the_question_and_no_branch(tmp_path: Path, llm_sim: LLMSim) -> None:
    require_backend("bwrap")
    repo = _checkout(tmp_path)
    question = "Which function, and what should it return?"
    vague = json.dumps({"actionable": False, "question": question})
    llm_sim.set_script([{"match": {"agent": "planner"}, "content": vague}])
    done = _ambient(llm_sim, tmp_path, str(repo), "--task", "make it better", "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["proposals"] == []
    assert report["notes"] == [f"one question before this can start: {question}"]
    assert _git(repo, "branch", "--list", "ambient/*") == ""


def test_task_needs_exactly_one_of_issue_file_and_task(tmp_path: Path, llm_sim: LLMSim) -> None:
    repo = _checkout(tmp_path)
    done = _ambient(llm_sim, tmp_path, str(repo))
    assert (done.returncode, done.stderr) == (
        2,
        "ambient: task needs exactly one of --issue-file FILE and --task TEXT\n",
    )
