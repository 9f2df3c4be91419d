"""The CI-failure flow in process: `fix_ci_failure` against the GitHub simulator, a real Redis,
the scripted model and the bubblewrap sandbox; the pure decisions and texts without them."""

from __future__ import annotations

import difflib
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agents.fixer import FixRound
from agents.proposal import Proposal
from bot.deps import Deps
from bot.flows.ci import (
    CHECK_NAME,
    CiRequest,
    attempts_key,
    fix_ci_failure,
    made_by_ambient,
    report_ci_unfinished,
)
from bot.github.values import JobLog
from bot.publish.ci_report import Diagnosis, ci_fix_branch, pull_body
from bot.publish.report import tried_text
from sandbox.verify import CommandRun, Verification
from tests.fixtures.llm_sim import LLMSim
from tests.sim.github_client import GitHubSim

EXAMPLE = Path(__file__).parent.parent / "examples" / "python-demo"
INVENTORY = (EXAMPLE / "inventory.py").read_text()
RIGHT = INVENTORY.replace("/ len(items)", "/ len(items) if items else 0.0")
OWNER, NAME = "octo", "cirepo"
FAILED_LOG = (
    "FAILED tests/test_inventory.py::test_average_of_nothing - ZeroDivisionError\n"
    '  File "inventory.py", line 24, in average_price\n'
)


def _request(sha: str, branch: str = "main", **changes: object) -> CiRequest:
    fields: dict[str, object] = {
        "job_id": f"ci:1:{sha}",
        "installation_id": 0,
        "owner": OWNER,
        "repo": NAME,
        "repo_id": 1,
        "head_sha": sha,
        "branch": branch,
    }
    fields.update(changes)
    return CiRequest(**fields)  # type: ignore[arg-type]


def test_heads_ambient_made_count_against_their_branch_others_against_their_sha() -> None:
    assert made_by_ambient("ambient/ci-fix/main-abc1234", "")
    assert made_by_ambient("main", "Guard\n\nProposed-by: fixer")
    assert not made_by_ambient("main", "Mention Proposed-by: in prose")
    assert attempts_key(_request("f" * 40)) == f"ambient:ci:attempts:1:sha:{'f' * 40}"
    ours = _request("e" * 40, ambient_head=True)
    assert attempts_key(ours) == "ambient:ci:attempts:1:branch:main"
    assert ci_fix_branch("feature/x", "0123456789") == "ambient/ci-fix/feature/x-0123456"


def test_the_pr_body_gives_the_cause_the_failing_output_and_the_passing_output() -> None:
    before = Verification((CommandRun("pytest -q", 1, 0.5, "1 failed\nZeroDivisionError"),))
    after = Verification((CommandRun("pytest -q", 0, 0.4, "3 passed"),))
    logs = (JobLog(1, "tests", "failure", FAILED_LOG), JobLog(2, "lint", "failure", "E1\n"))
    diagnosis = Diagnosis("main", "abcdef1234", logs, (), before, after)
    proposal = Proposal(
        "fixer", "Guard", "Empty inventories divide by zero.", "", "low", "why", (), 1
    )
    body = pull_body(diagnosis, proposal)
    assert "(failed jobs: `tests`, `lint`)" in body
    assert "## Root cause\n\nEmpty inventories divide by zero.\n\nwhy" in body
    assert "`pytest -q`: exit 1" in body
    assert "ZeroDivisionError" in body
    assert "`pytest -q`: exit 0" in body
    assert "3 passed" in body
    assert tried_text((FixRound(1, "failed", "x" * 900),)).startswith("- round 1: failed: xxx")
    assert tried_text(()) == "- no round ran"


@pytest.fixture
def deps(flow_deps: Deps) -> Deps:
    return flow_deps


def _setup(sim: GitHubSim, tmp_path: Path, config: str = "") -> CiRequest:
    """A repository whose main fails its tests, with three failed suites on its head."""
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", ".*cache"))
    if config:
        (source / ".github").mkdir()
        (source / ".github" / "ambient.yml").write_text(config)
    repo = sim.create_repo(OWNER, NAME, source_dir=source)
    head = sim.commit(OWNER, NAME, "main", {"README.md": "# demo\n\nchanged\n"})
    for suite in ("tests", "lint", "types"):
        jobs = [{"name": suite, "conclusion": "failure", "log": FAILED_LOG}]
        sim.add_workflow_run(OWNER, NAME, head, "main", jobs=jobs)
    assert repo.installation_id is not None
    return _request(head, installation_id=repo.installation_id, repo_id=repo.id)


def _answer(old: str, new: str) -> str:
    diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            "a/inventory.py",
            "b/inventory.py",
        )
    )
    description = "average_price divides by len(items), which is 0 for an empty inventory."
    return json.dumps(
        [{"title": "Guard", "description": description, "diff": diff, "risk_level": "low"}]
    )


def _ours(sim: GitHubSim) -> list[dict[str, Any]]:
    return [r for r in sim.repo_state(OWNER, NAME)["check_runs"] if r["name"] == CHECK_NAME]


@pytest.mark.bwrap
async def test_three_failed_suites_become_one_pr_with_the_analysis(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    request = _setup(github_sim, tmp_path)
    llm_sim.set_script(
        [
            {"match": {"agent": "fixer"}, "content": _answer(INVENTORY, RIGHT), "repeat": True},
            {"match": {"agent": "reviewer"}, "content": '{"verdict": "approve"}', "repeat": True},
        ]
    )
    result = await fix_ci_failure(deps, request)
    assert result["status"] == "success", result
    again = await fix_ci_failure(deps, request)
    assert again["status"] == "success", again
    state = github_sim.repo_state(OWNER, NAME)
    (pull,) = state["pulls"]
    assert (pull["head"], pull["base"]) == (ci_fix_branch("main", request.head_sha), "main")
    assert "(failed jobs: `tests`, `lint`, `types`)" in pull["body"]
    assert "## Root cause" in pull["body"]
    assert "empty inventory" in pull["body"]
    assert "**Before**" in pull["body"]
    assert "**After**" in pull["body"]
    fixed = github_sim.read_file(OWNER, NAME, state["branches"][pull["head"]], "inventory.py")
    assert fixed is not None
    assert b"if items else 0.0" in fixed
    # The evidence is on the fix PR's head; the failing commit's runs point at it. The second
    # attempt finds that commit's evidence and makes no second run on it.
    fix_head = state["branches"][pull["head"]]
    runs = _ours(github_sim)
    assert [(r["head_sha"], r["conclusion"]) for r in runs] == [
        (request.head_sha, "neutral"),
        (fix_head, "success"),
        (request.head_sha, "neutral"),
    ]
    assert "**Verification** (in the sandbox, no network):" in runs[1]["output"]["summary"]
    assert f"{fix_head[:7]}, the head of #{pull['number']}" in runs[0]["output"]["summary"]


@pytest.mark.bwrap
async def test_no_verified_fix_means_no_pr_and_a_check_run_that_says_what_was_tried(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    request = _setup(github_sim, tmp_path)
    wrong = INVENTORY.replace("/ len(items)", "/ (len(items) or 1) + 1")
    llm_sim.set_script(
        [{"match": {"agent": "fixer"}, "content": _answer(INVENTORY, wrong), "repeat": True}]
    )
    result = await fix_ci_failure(deps, request)
    assert result["status"] == "failure", result
    assert not github_sim.repo_state(OWNER, NAME)["pulls"]
    (check,) = _ours(github_sim)
    assert check["conclusion"] == "failure"
    summary = check["output"]["summary"]
    assert "no pull request was opened" in summary
    assert "**What was tried:**\n- round 1: failed" in summary
    assert "**Before** (in the sandbox):" in summary


@pytest.mark.bwrap
async def test_the_budget_branches_and_the_config_decide_whether_anything_runs(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    config = "ci_autofix:\n  attempts_per_sha: 1\n  branches: [main, release/*]\n"
    request = _setup(github_sim, tmp_path, config)
    llm_sim.set_script([{"match": {"agent": "fixer"}, "content": "no idea", "repeat": True}])
    first = await fix_ci_failure(deps, request)
    assert first["status"] == "failure"
    spent = await fix_ci_failure(deps, request)
    assert spent == {"status": "ignored", "reason": "all 1 fix attempt(s) were made"}
    other = await fix_ci_failure(deps, replace(request, job_id="ci:1:x", branch="release/1"))
    assert other["reason"] == "release/1 is neither the default branch nor an open pull " + (
        "request's branch"
    )
    uncovered = await fix_ci_failure(deps, replace(request, job_id="ci:1:y", branch="feature"))
    assert uncovered["reason"] == "ci_autofix does not cover feature"
    assert len(_ours(github_sim)) == 1
    await report_ci_unfinished(deps, request, "never shown: no attempt is running")
    assert _ours(github_sim)[0]["output"]["summary"] != "never shown: no attempt is running"


@pytest.mark.bwrap
async def test_a_pr_failing_only_as_its_base_does_is_left_to_the_base(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    on_main = _setup(github_sim, tmp_path)
    head = github_sim.commit(OWNER, NAME, "feature", {"README.md": "# feature\n"})
    github_sim.open_pr(OWNER, NAME, "feature", "main", user="alice")
    jobs = [{"name": "tests", "conclusion": "failure", "log": FAILED_LOG}]
    github_sim.add_workflow_run(OWNER, NAME, head, "feature", jobs=jobs)
    request = replace(on_main, job_id=f"ci:1:{head}", head_sha=head, branch="feature")
    inherited = await fix_ci_failure(deps, request)
    assert inherited == {
        "status": "ignored",
        "reason": "main fails the same way (lint, tests, types); that is fixed there, not here",
    }
    jobs = [{"name": "docs", "conclusion": "failure", "log": "docs/index.md: broken link\n"}]
    github_sim.add_workflow_run(OWNER, NAME, head, "feature", jobs=jobs)
    llm_sim.set_script([{"match": {"agent": "fixer"}, "content": "no idea", "repeat": True}])
    own = await fix_ci_failure(deps, request)
    assert own["status"] == "failure", own
    (check,) = _ours(github_sim)
    assert check["head_sha"] == head


FORGED = 'verify:\n  commands: ["python -c pass"]\n  allow: ["python -c pass"]\n'


@pytest.mark.bwrap
async def test_the_failing_branchs_own_verify_config_is_ignored(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", ".*cache"))
    repo = github_sim.create_repo(OWNER, NAME, source_dir=source)
    assert repo.installation_id is not None
    # The PR's branch says its checks are `python -c pass`, which would pass before any fix.
    head = github_sim.commit(OWNER, NAME, "feature", {".github/ambient.yml": FORGED})
    github_sim.open_pr(OWNER, NAME, "feature", "main", user="alice")
    jobs = [{"name": "tests", "conclusion": "failure", "log": FAILED_LOG}]
    github_sim.add_workflow_run(OWNER, NAME, head, "feature", jobs=jobs)
    llm_sim.set_script(
        [
            {"match": {"agent": "fixer"}, "content": _answer(INVENTORY, RIGHT), "repeat": True},
            {"match": {"agent": "reviewer"}, "content": '{"verdict": "approve"}', "repeat": True},
        ]
    )
    request = _request(
        head,
        "feature",
        job_id=f"ci:1:{head}",
        installation_id=repo.installation_id,
        repo_id=repo.id,
    )
    result = await fix_ci_failure(deps, request)
    assert result["status"] == "success", result
    summary = "\n".join(r["output"]["summary"] for r in _ours(github_sim))
    assert "`python -m pytest -q`" in summary
    assert "python -c pass" not in summary
    assert "**Config:** defaults (no .github/ambient.yml on main)" in summary
    (pull,) = github_sim.repo_state(OWNER, NAME)["pulls"][1:]
    assert pull["base"] == "feature"
