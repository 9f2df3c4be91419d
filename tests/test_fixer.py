"""The fix loop against the scripted model over HTTP and a real sandbox running pytest."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agents.fixer import Fixer, FixTask
from agents.llm import OpenAIModel
from sandbox import Command
from sandbox.verify import run_checks
from tests.fixtures.llm_sim import LLMSim
from tests.fixtures.sandbox import SandboxFactory

BUGGY = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def _diff(new: str) -> str:
    return (
        "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n"
        f"-    return a - b\n+    return {new}\n"
    )


def _answer(new: str) -> str:
    proposal = {"title": f"use {new}", "diff": _diff(new), "risk_level": "low"}
    return "Here is the fix:\n```json\n" + json.dumps([proposal]) + "\n```\n"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def calc_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "calc"
    repo.mkdir()
    (repo / "calc.py").write_text(BUGGY)
    (repo / "test_calc.py").write_text(TEST)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "calc")
    return repo


async def _fix(llm_sim: LLMSim, repo: Path, sandbox_factory: SandboxFactory, review: bool):
    sandbox = await sandbox_factory(repo)
    checks = [Command(("python", "-m", "pytest", "-q", "-p", "no:cacheprovider"), timeout_s=120)]
    model = OpenAIModel(base_url=llm_sim.base_url, model="scripted", max_retries=0)

    async def reset() -> None:
        _git(repo, "checkout", "--", ".")
        _git(repo, "clean", "-fdq")

    try:
        return await Fixer(model, review=review).fix(
            FixTask("make the tests pass", checks=("python -m pytest -q",)),
            repo,
            verify=lambda: run_checks(sandbox, checks),
            reset=reset,
        )
    finally:
        await model.aclose()


async def test_a_failed_round_hands_the_test_output_back_and_round_two_fixes_it(
    llm_sim: LLMSim, calc_repo: Path, sandbox_factory: SandboxFactory
) -> None:
    llm_sim.set_script(
        [
            {"match": {"agent": "fixer", "user": "6 == 5"}, "content": _answer("a + b")},
            {"match": {"agent": "fixer"}, "content": _answer("a * b")},
            {"match": {"agent": "reviewer"}, "content": '{"verdict": "approve", "comments": "ok"}'},
        ]
    )
    result = await _fix(llm_sim, calc_repo, sandbox_factory, review=True)
    assert result.verified
    assert [r.outcome for r in result.rounds] == ["failed", "verified"]
    assert "exit 1" in result.rounds[0].detail
    assert (calc_repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert result.review == "ok"
    assert [r["agent"] for r in llm_sim.requests()] == ["fixer", "fixer", "reviewer"]
    assert result.usage.calls == 3


async def test_a_refused_patch_is_explained_and_a_reviewer_may_send_the_fix_back_once(
    llm_sim: LLMSim, calc_repo: Path, sandbox_factory: SandboxFactory
) -> None:
    wrong_context = _answer("a + b").replace("return a - b", "return a - c")
    llm_sim.set_script(
        [
            {
                "match": {"agent": "fixer", "user": "did not apply"},
                "content": _answer("b + a"),
                "times": 1,
            },
            {"match": {"agent": "fixer", "user": "reviewer asked"}, "content": _answer("a + b")},
            {"match": {"agent": "fixer"}, "content": wrong_context, "times": 1},
            {
                "match": {"agent": "reviewer"},
                "times": 1,
                "content": '{"verdict": "revise", "comments": "keep the operand order"}',
            },
        ]
    )
    result = await _fix(llm_sim, calc_repo, sandbox_factory, review=True)
    assert [r.outcome for r in result.rounds] == ["refused", "sent-back", "verified"]
    assert result.verified
    assert "keep the operand order" in result.rounds[1].detail
    assert (calc_repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"


async def test_no_verified_fix_within_the_rounds_leaves_the_worktree_clean(
    llm_sim: LLMSim, calc_repo: Path, sandbox_factory: SandboxFactory
) -> None:
    llm_sim.set_script([{"match": {"agent": "fixer"}, "content": _answer("a * b"), "repeat": True}])
    result = await _fix(llm_sim, calc_repo, sandbox_factory, review=False)
    assert not result.verified
    assert [r.outcome for r in result.rounds] == ["failed", "failed", "failed"]
    assert (calc_repo / "calc.py").read_text() == BUGGY
