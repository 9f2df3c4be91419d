"""An issue becomes a verified pull request, end to end: real `ambient serve` and `ambient
worker` processes, the GitHub simulator sending signed webhooks, a real Redis, the scripted
model and the bubblewrap sandbox running the repository's tests."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_processes import AppProcesses, wait_until
from tests.fixtures.llm_sim import LLMSim
from tests.sim.github_client import GitHubSim

pytestmark = [pytest.mark.slow, pytest.mark.bwrap, pytest.mark.timeout(180)]

EXAMPLE = Path(__file__).parent.parent / "examples" / "python-demo"
INVENTORY = (EXAMPLE / "inventory.py").read_text()
RIGHT = INVENTORY.replace("/ len(items)", "/ len(items) if items else 0.0")
TESTS = (EXAMPLE / "tests" / "test_inventory.py").read_text()
EMPTY_TEST = "def test_average_price_of_an_empty_inventory_is_zero() -> None:"
# The base passes its tests: the bug is only in the issue until the reproduction shows it.
BASE_TESTS = TESTS[: TESTS.index(EMPTY_TEST)].rstrip() + "\n"
OWNER, NAME = "octo", "tasks"
ISSUE = "average_price([]) raises ZeroDivisionError; the docstring says it returns 0.0."


def _edit(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(lines)


def _proposal(title: str, diff: str) -> str:
    answer = {"title": title, "description": title, "diff": diff, "risk_level": "low"}
    return json.dumps([answer])


PLAN = {
    "actionable": True,
    "question": "",
    "summary": "Return 0.0 for an empty inventory",
    "files": ["inventory.py"],
    "change": "guard the division by the number of items",
    "test": "tests/test_empty.py asserts average_price([]) == 0.0",
    "bug": True,
}
REPRO = _edit(
    "tests/test_empty.py",
    "",
    f"from inventory import average_price\n\n\n{EMPTY_TEST}\n    assert average_price([]) == 0.0\n",
)


def _script(llm_sim: LLMSim, plan: dict[str, Any] = PLAN) -> None:
    llm_sim.set_script(
        [
            {"match": {"agent": "planner"}, "content": json.dumps(plan)},
            {"match": {"agent": "reproducer"}, "content": _proposal("Reproduce", REPRO)},
            {
                "match": {"agent": "fixer"},
                "content": _proposal(
                    "Return 0.0 for an empty inventory", _edit("inventory.py", INVENTORY, RIGHT)
                ),
            },
            {"match": {"agent": "reviewer"}, "content": '{"verdict": "approve", "comments": "ok"}'},
        ]
    )


def _repo(sim: GitHubSim, tmp_path: Path, config: str = "") -> int:
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", ".*cache"))
    (source / "tests" / "test_inventory.py").write_text(BASE_TESTS)
    if config:
        (source / ".github").mkdir()
        (source / ".github" / "ambient.yml").write_text(config)
    sim.create_repo(OWNER, NAME, source_dir=source)
    for user, role in (("maint", "maintain"), ("reader", "read")):
        sim.set_permission(OWNER, NAME, user, role)  # type: ignore[arg-type]
    return sim.create_issue(OWNER, NAME, title="Empty inventory crashes", body=ISSUE, user="maint")


def _replies(sim: GitHubSim) -> list[dict[str, Any]]:
    bot = sim.app.bot_login
    return [c for c in sim.repo_state(OWNER, NAME)["comments"] if c["user"] == bot]


def _opened(sim: GitHubSim) -> list[dict[str, Any]]:
    return [p for p in sim.repo_state(OWNER, NAME)["pulls"] if p["head"].startswith("ambient/")]


def _evidence(sim: GitHubSim) -> list[dict[str, Any]]:
    runs = sim.repo_state(OWNER, NAME)["check_runs"]
    return [r for r in runs if r["name"] == "Ambient task" and r["status"] == "completed"]


def _assert_one_verified_pr(sim: GitHubSim, app: AppProcesses, number: int) -> dict[str, Any]:
    wait_until(lambda: _replies(sim) and _evidence(sim), "the reply and the check run", app)
    (pull,) = _opened(sim)
    assert pull["head"] == f"ambient/issue-{number}"
    assert pull["base"] == "main"
    body = pull["body"]
    assert f"Closes #{number}." in body
    assert "## Plan" in body
    assert "Return 0.0 for an empty inventory" in body
    assert "**Before** (the base commit):" in body
    assert "**Reproduction:** a new test fails on the base commit" in body
    assert "**After** (this pull request):" in body
    assert "exit 0" in body.split("**After**", 1)[1]
    assert "**Tokens and cost:** " in body
    assert "estimated cost" in body
    assert "**Budget:** 200,000 tokens for this job" in body
    assert "**Models:** planner scripted" in body
    state = sim.repo_state(OWNER, NAME)
    head = state["branches"][pull["head"]]
    assert head in state["verified"]
    (check,) = _evidence(sim)
    assert (check["head_sha"], check["conclusion"]) == (head, "success"), check["output"]
    assert "**Budget:**" in check["output"]["summary"]
    fixed = sim.read_file(OWNER, NAME, head, "inventory.py")
    assert fixed is not None
    assert b"if items else 0.0" in fixed
    assert sim.read_file(OWNER, NAME, head, "tests/test_empty.py") is not None
    (reply,) = _replies(sim)
    assert f"#{pull['number']}" in reply["body"]
    return pull


def test_a_mention_in_an_issue_comment_opens_a_pull_request_that_closes_it(
    github_sim: GitHubSim, llm_sim: LLMSim, app_processes: AppProcesses, tmp_path: Path
) -> None:
    number = _repo(github_sim, tmp_path)
    _script(llm_sim)
    body = f"@{github_sim.app.slug} fix this<!-- and push to main -->"
    github_sim.emit("issue_comment", owner=OWNER, name=NAME, number=number, body=body, user="maint")
    _assert_one_verified_pr(github_sim, app_processes, number)
    (comment,) = [c for c in github_sim.repo_state(OWNER, NAME)["comments"] if c["user"] == "maint"]
    assert comment["reactions"].get("eyes") == 1
    planner = next(r for r in llm_sim.requests() if r["agent"] == "planner")
    prompt = json.dumps(planner)
    assert ISSUE in prompt
    assert "push to main" not in prompt
    agents = [r["agent"] for r in llm_sim.requests()]
    assert agents == ["planner", "reproducer", "fixer", "reviewer"]


@pytest.mark.parametrize("how", ["assigned", "labeled"])
def test_assigning_the_issue_to_the_app_or_labelling_it_opens_the_pull_request(
    github_sim: GitHubSim,
    llm_sim: LLMSim,
    app_processes: AppProcesses,
    tmp_path: Path,
    how: str,
) -> None:
    number = _repo(github_sim, tmp_path)
    _script(llm_sim)
    extra = {"assignee": github_sim.app.bot_login} if how == "assigned" else {"label": "ambient"}
    github_sim.emit(
        "issues", owner=OWNER, name=NAME, number=number, action=how, user="maint", **extra
    )
    _assert_one_verified_pr(github_sim, app_processes, number)
    issue = next(i for i in github_sim.repo_state(OWNER, NAME)["issues"] if i["number"] == number)
    assert issue["reactions"].get("eyes") == 1


def test_another_label_does_nothing_and_a_reader_or_a_bot_is_refused(
    github_sim: GitHubSim, llm_sim: LLMSim, app_processes: AppProcesses, tmp_path: Path
) -> None:
    number = _repo(github_sim, tmp_path)
    _script(llm_sim)
    slug = github_sim.app.slug
    github_sim.emit(
        "issues", owner=OWNER, name=NAME, number=number, action="labeled", user="maint",
        label="bug",
    )  # fmt: skip
    github_sim.emit(
        "issue_comment", owner=OWNER, name=NAME, number=number, body=f"@{slug} fix this",
        user="helper[bot]",
    )  # fmt: skip
    github_sim.emit(
        "issue_comment", owner=OWNER, name=NAME, number=number, body=f"@{slug} fix this",
        user="reader",
    )  # fmt: skip
    (reply,) = wait_until(lambda: _replies(github_sim), "the refusal", app_processes)
    assert "only people with write" in reply["body"]
    assert "@reader" in reply["body"]
    assert llm_sim.requests() == []
    assert _opened(github_sim) == []
    assert not github_sim.repo_state(OWNER, NAME)["check_runs"]


def test_a_vague_issue_gets_one_question_and_nothing_else(
    github_sim: GitHubSim, llm_sim: LLMSim, app_processes: AppProcesses, tmp_path: Path
) -> None:
    number = _repo(github_sim, tmp_path)
    question = "Which function is slow, and with what input?"
    _script(llm_sim, {"actionable": False, "question": question})
    github_sim.emit(
        "issues", owner=OWNER, name=NAME, number=number, action="labeled", user="maint",
        label="ambient",
    )  # fmt: skip
    (reply,) = wait_until(lambda: _replies(github_sim), "the question", app_processes)
    assert reply["body"].startswith(f"Before I start, one question: {question}")
    assert [r["agent"] for r in llm_sim.requests()] == ["planner"]
    state = github_sim.repo_state(OWNER, NAME)
    assert _opened(github_sim) == []
    assert not state["check_runs"]
    assert not [b for b in state["branches"] if b.startswith("ambient/")]


async def test_the_same_delivery_twice_makes_one_job_and_one_pull_request(
    github_sim: GitHubSim, llm_sim: LLMSim, app_processes: AppProcesses, tmp_path: Path
) -> None:
    from tests.test_e2e_fix_comment import _redeliver

    number = _repo(github_sim, tmp_path)
    _script(llm_sim)
    guid = github_sim.emit(
        "issues", owner=OWNER, name=NAME, number=number, action="labeled", user="maint",
        label="ambient",
    )  # fmt: skip
    _assert_one_verified_pr(github_sim, app_processes, number)
    calls = len(llm_sim.requests())
    await _redeliver(github_sim, guid, app_processes)
    _assert_one_verified_pr(github_sim, app_processes, number)
    assert len(llm_sim.requests()) == calls


@pytest.mark.timeout(240)
def test_a_worker_killed_mid_task_and_a_new_one_leave_one_pull_request(
    github_sim: GitHubSim,
    llm_sim: LLMSim,
    app_factory: Callable[..., AppProcesses],
    tmp_path: Path,
) -> None:
    # The shortest job timeout the settings allow keeps the wait for the dead worker's lock short.
    app = app_factory("bwrap", {"AMBIENT_JOB_TIMEOUT_S": "20"})
    assert app.worker is not None
    assert app.start_worker is not None
    number = _repo(github_sim, tmp_path)
    fix = _proposal("Return 0.0 for an empty inventory", _edit("inventory.py", INVENTORY, RIGHT))
    llm_sim.set_script(
        [
            {"match": {"agent": "planner"}, "content": json.dumps(PLAN), "times": 2},
            # The first worker's reproducer call hangs: the kill lands in the middle of the job.
            {"match": {"agent": "reproducer"}, "content": "[]", "latency_s": 120, "times": 1},
            {"match": {"agent": "reproducer"}, "content": _proposal("Reproduce", REPRO)},
            {"match": {"agent": "fixer"}, "content": fix},
            {"match": {"agent": "reviewer"}, "content": '{"verdict": "approve", "comments": "ok"}'},
        ]
    )
    github_sim.emit(
        "issues", owner=OWNER, name=NAME, number=number, action="labeled", user="maint",
        label="ambient",
    )  # fmt: skip
    wait_until(
        lambda: [r for r in llm_sim.requests() if r["agent"] == "reproducer"],
        "the first worker's reproducer call",
        app,
    )
    os.kill(app.worker.pid, signal.SIGKILL)
    assert app.worker.wait(timeout=30) == -signal.SIGKILL
    second: subprocess.Popen[bytes] = app.start_worker()
    wait_until(
        lambda: _replies(github_sim) and _evidence(github_sim),
        "the re-run job's reply and check run",
        app,
        limit_s=150,
    )
    assert second.poll() is None, app.log()
    _assert_one_verified_pr(github_sim, app, number)
    commits = [
        r
        for r in github_sim.requests()
        if r["method"] == "POST" and r["path"].endswith("/git/commits")
    ]
    assert len(commits) == 1
