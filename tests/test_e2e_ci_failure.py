"""A failed CI run end to end: real `ambient serve` and `ambient worker` processes, the GitHub
simulator sending signed `check_suite` and `workflow_run` webhooks, a real Redis, the scripted
model and the bubblewrap sandbox re-running the failing tests."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.flows.ci import CHECK_NAME
from bot.publish.ci_report import ci_fix_branch
from tests.fixtures.app_processes import AppProcesses, wait_until
from tests.fixtures.llm_sim import LLMSim
from tests.sim.github_client import GitHubSim

pytestmark = [pytest.mark.slow, pytest.mark.bwrap, pytest.mark.timeout(180)]

EXAMPLE = Path(__file__).parent.parent / "examples" / "python-demo"
INVENTORY = (EXAMPLE / "inventory.py").read_text()
OWNER, NAME = "octo", "ci-demo"
LOG = "FAILED tests/test_inventory.py::test_average - ZeroDivisionError: division by zero\n"


def _answer(new: str) -> str:
    diff = "".join(
        difflib.unified_diff(
            INVENTORY.splitlines(keepends=True),
            new.splitlines(keepends=True),
            "a/inventory.py",
            "b/inventory.py",
        )
    )
    description = "average_price divides by len(items), which is 0 for an empty inventory."
    return json.dumps(
        [{"title": "Guard", "description": description, "diff": diff, "risk_level": "low"}]
    )


def _failing_main(sim: GitHubSim, tmp_path: Path) -> tuple[int, str, list[int]]:
    """A repository whose main fails its tests, and three failed workflow runs on its head."""
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", ".*cache"))
    repo = sim.create_repo(OWNER, NAME, source_dir=source)
    head = sim.commit(OWNER, NAME, "main", {"README.md": "# demo\n\nchanged\n"})
    runs = [
        sim.add_workflow_run(
            OWNER, NAME, head, "main", jobs=[{"name": name, "conclusion": "failure", "log": LOG}]
        )
        for name in ("tests", "lint", "types")
    ]
    return repo.id, head, runs


def _ours(sim: GitHubSim) -> list[dict[str, Any]]:
    return [r for r in sim.repo_state(OWNER, NAME)["check_runs"] if r["name"] == CHECK_NAME]


def _finished(sim: GitHubSim) -> list[dict[str, Any]]:
    return [r for r in _ours(sim) if r["status"] == "completed"]


def _emit_all(sim: GitHubSim, head: str, runs: list[int]) -> None:
    for run_id in runs:
        sim.emit("workflow_run", owner=OWNER, name=NAME, run_id=run_id)
    sim.emit("check_suite", owner=OWNER, name=NAME, head_sha=head, conclusion="failure")


def test_three_failing_suites_on_main_become_one_job_and_one_pr_with_the_analysis(
    github_sim: GitHubSim, llm_sim: LLMSim, app_processes: AppProcesses, tmp_path: Path
) -> None:
    repo_id, head, runs = _failing_main(github_sim, tmp_path)
    right = INVENTORY.replace("/ len(items)", "/ len(items) if items else 0.0")
    llm_sim.set_script(
        [
            {"match": {"agent": "fixer"}, "content": _answer(right), "repeat": True},
            {"match": {"agent": "reviewer"}, "content": '{"verdict": "approve"}', "repeat": True},
        ]
    )
    _emit_all(github_sim, head, runs)
    # The failing commit's run ends last, pointing at the evidence on the fix PR's head.
    (pointer,) = wait_until(
        lambda: [r for r in _finished(github_sim) if r["head_sha"] == head],
        "the CI fix check run",
        app_processes,
    )
    assert pointer["conclusion"] == "neutral", pointer["output"]
    state = github_sim.repo_state(OWNER, NAME)
    (pull,) = state["pulls"]
    assert (pull["head"], pull["base"]) == (ci_fix_branch("main", head), "main")
    (check,) = [r for r in _ours(github_sim) if r["head_sha"] != head]
    assert (check["head_sha"], check["conclusion"]) == (state["branches"][pull["head"]], "success")
    assert f"the head of #{pull['number']}" in pointer["output"]["summary"]
    body = pull["body"]
    assert "(failed jobs: `tests`, `lint`, `types`)" in body
    assert "## Root cause" in body
    assert "empty inventory" in body
    assert "`: exit 1" in body.split("**After**")[0]
    assert "`: exit 0" in body.split("**After**")[1]
    # Every delivery named the same job, and the fixer ran once, for one head.
    answers = [json.loads(d["response_body"]) for d in github_sim.deliveries()]
    named = {job for a in answers for job in (*a.get("queued", ()), *a.get("already_queued", ()))}
    assert named == {f"ci:{repo_id}:{head}"}
    fixer_calls = [r for r in llm_sim.requests() if r.get("agent") == "fixer"]
    assert len(fixer_calls) == 1


def test_a_fix_that_does_not_verify_opens_no_pr_and_the_check_run_explains(
    github_sim: GitHubSim, llm_sim: LLMSim, app_processes: AppProcesses, tmp_path: Path
) -> None:
    _, head, runs = _failing_main(github_sim, tmp_path)
    wrong = INVENTORY.replace("/ len(items)", "/ (len(items) or 1) + 1")
    llm_sim.set_script([{"match": {"agent": "fixer"}, "content": _answer(wrong), "repeat": True}])
    _emit_all(github_sim, head, runs[:1])
    (check,) = wait_until(lambda: _finished(github_sim), "the CI fix check run", app_processes)
    assert check["conclusion"] == "failure"
    summary = check["output"]["summary"]
    assert "no pull request was opened" in summary
    assert "**What was tried:**" in summary
    assert not github_sim.repo_state(OWNER, NAME)["pulls"]
