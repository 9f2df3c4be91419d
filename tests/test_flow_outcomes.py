"""Outcomes end to end in process: the sweep against the GitHub simulator, a real Redis, the
scripted model and the bubblewrap sandbox; a maintainer closes, reopens, merges and reverts
Ambient's PR, and a person opens the same change. Every decision is read from GitHub, so a
flushed Redis changes none of them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from bot.deps import Deps
from bot.flows.ci import fix_ci_failure
from bot.flows.fix import PERMISSIONS
from bot.flows.outcomes import record_pull_event, record_reverts
from bot.flows.sweep import SweepRequest, sweep_repository
from bot.github.client import InstallationClient
from bot.publish.fingerprint import fingerprint_of_text
from tests.fixtures.llm_sim import LLMSim
from tests.fixtures.redis import RedisServer
from tests.sim.github_client import GitHubSim
from tests.test_flow_ci import FAILED_LOG, INVENTORY, RIGHT
from tests.test_flow_ci import NAME as CI_NAME
from tests.test_flow_ci import OWNER as CI_OWNER
from tests.test_flow_ci import _answer as ci_answer
from tests.test_flow_ci import _setup as ci_setup
from tests.test_flow_sweep import (
    LOW_BRANCH,
    MORE_TESTS,
    NAME,
    OWNER,
    setup_repository,
    sweep_script,
)

pytestmark = [pytest.mark.bwrap, pytest.mark.slow, pytest.mark.timeout(300)]

REPO = f"{OWNER}/{NAME}"


@pytest.fixture
def deps(flow_deps: Deps) -> Deps:
    return flow_deps


def _count(agent: str, outcome: str) -> float:
    labels = {"repository": REPO, "agent": agent, "outcome": outcome}
    return REGISTRY.get_sample_value("ambient_proposal_outcomes_total", labels) or 0.0


def _week(installation: int, week: int) -> SweepRequest:
    day = date.fromisocalendar(2026, week, 1)
    return SweepRequest(f"sweep:{REPO}:{day}", installation, OWNER, NAME, day=day)


def _low_pulls(sim: GitHubSim) -> list[dict[str, Any]]:
    return [p for p in sim.repo_state(OWNER, NAME)["pulls"] if p["head"] == LOW_BRANCH]


def _comments(sim: GitHubSim, number: int) -> list[dict[str, Any]]:
    comments = sim.repo_state(OWNER, NAME)["comments"]
    return [c for c in comments if c["issue_number"] == number]


def _dashboard_body(sim: GitHubSim) -> str:
    issues = [i for i in sim.repo_state(OWNER, NAME)["issues"] if "dashboard" in i["title"]]
    return str(issues[0]["body"]) if issues else ""


async def _as_maintainer(sim: GitHubSim, method: str, path: str, body: Any = None) -> None:
    """What a maintainer does on GitHub (close, reopen, delete a branch): Ambient never does."""
    headers = {"Authorization": f"token {sim.installation_token(OWNER, NAME)}"}
    async with httpx.AsyncClient(base_url=f"{sim.api_url}/repos/{OWNER}/{NAME}") as http:
        response = await http.request(method, path, json=body, headers=headers, timeout=30)
        response.raise_for_status()


async def _client(deps: Deps, installation: int) -> InstallationClient:
    assert deps.github is not None
    return await deps.github.installation_client(installation, OWNER, NAME, PERMISSIONS)


async def test_a_closed_proposal_stays_closed_until_reopened_and_its_merge_and_revert_count(
    deps: Deps,
    github_sim: GitHubSim,
    llm_sim: LLMSim,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    llm_sim.set_script(sweep_script())
    gh = await _client(deps, installation)

    first = await sweep_repository(deps, _week(installation, 46))
    assert first["status"] == "done", first
    (pull,) = _low_pulls(github_sim)
    fp = fingerprint_of_text(pull["body"])
    assert fp is not None
    assert fp.startswith("TestEnhancer/")
    branch_sha = github_sim.repo_state(OWNER, NAME)["branches"][LOW_BRANCH]
    assert fingerprint_of_text(await gh.commit_message(branch_sha) or "") == fp
    assert _count("TestEnhancer", "proposed") >= 1

    # The maintainer closes it: counted, and one comment says how to undo it.
    closed_before = _count("TestEnhancer", "closed")
    await _as_maintainer(github_sim, "PATCH", f"/pulls/{pull['number']}", {"state": "closed"})
    done = await record_pull_event(gh, pull["number"], "closed")
    assert done["outcome"] == "closed"
    assert _count("TestEnhancer", "closed") == closed_before + 1
    (said,) = _comments(github_sim, pull["number"])
    assert "will not propose this change again" in said["body"]
    assert "reopen this pull request" in said["body"]

    # Redis forgets everything; the next sweep still opens nothing for it and says so once.
    redis_server.flush()
    second = await sweep_repository(deps, _week(installation, 47))
    assert second["status"] == "done", second
    assert [p["number"] for p in _low_pulls(github_sim)] == [pull["number"]]
    assert pull["number"] not in second["pull_requests"]  # type: ignore[operator]
    lines = second["outcomes"]
    assert isinstance(lines, list)
    assert any("not proposed again" in line for line in lines), lines
    assert len(_comments(github_sim, pull["number"])) == 1
    body = _dashboard_body(github_sim)
    assert (
        f"- [ ] propose again: Test a list without duplicates (`{fp}`) — #{pull['number']}" in body
    )
    assert "| `TestEnhancer` | 1 | 0 | 1 | 0 | 0 |" in body
    # One rejection in a row, with the default of 3: the specialist is held back, visibly.
    assert "- `TestEnhancer` proposes at most 2 change(s) per sweep" in body

    # Reopened: counted, and proposed again (the sweep keeps the reopened PR).
    reopened_before = _count("TestEnhancer", "reopened")
    await _as_maintainer(github_sim, "PATCH", f"/pulls/{pull['number']}", {"state": "open"})
    await record_pull_event(gh, pull["number"], "reopened")
    assert _count("TestEnhancer", "reopened") == reopened_before + 1
    third = await sweep_repository(deps, _week(installation, 48))
    assert pull["number"] in third["pull_requests"]  # type: ignore[operator]
    assert "propose again" not in _dashboard_body(github_sim)

    # Merged: counted with its time to merge.
    merged_before = _count("TestEnhancer", "merged")
    merge_sha = github_sim.merge_pr(OWNER, NAME, pull["number"], user="maint")
    assert (await record_pull_event(gh, pull["number"], "closed"))["outcome"] == "merged"
    assert _count("TestEnhancer", "merged") == merged_before + 1

    # A revert of the merge on the default branch: labelled on GitHub, counted once.
    reverted_before = _count("TestEnhancer", "reverted")
    message = f'Revert "Merge pull request #{pull["number"]}"\n\nThis reverts commit {merge_sha}.'
    github_sim.commit(OWNER, NAME, "main", {"tests/test_more.py": None}, message, "maint")
    assert (await record_reverts(gh, [message]))["reverted"] == [pull["number"]]
    assert (await record_reverts(gh, [message]))["reverted"] == [pull["number"]]
    assert _count("TestEnhancer", "reverted") == reverted_before + 1
    assert "ambient-reverted" in (await gh.get_pull(pull["number"])).labels


async def test_a_persons_open_pr_with_the_same_change_gets_no_ambient_pr(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    llm_sim.set_script(sweep_script())
    github_sim.commit(OWNER, NAME, "alice-tests", {"tests/test_more.py": MORE_TESTS}, "Tests")
    github_sim.set_permission(OWNER, NAME, "alice", "write")
    human = github_sim.open_pr(OWNER, NAME, "alice-tests", "main", "More tests", user="alice")
    result = await sweep_repository(deps, _week(installation, 46))
    assert result["status"] == "done", result
    assert _low_pulls(github_sim) == []
    lines = result["outcomes"]
    assert isinstance(lines, list)
    assert any(f"#{human} by alice changes the same lines" in line for line in lines), lines
    assert f"#{human} by alice changes the same lines" in _dashboard_body(github_sim)


async def test_a_deleted_waiting_branch_is_not_proposed_again_and_a_tick_brings_it_back(
    deps: Deps,
    github_sim: GitHubSim,
    llm_sim: LLMSim,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    llm_sim.set_script(sweep_script())
    gh = await _client(deps, installation)
    await sweep_repository(deps, _week(installation, 46))
    high = "ambient/sweep/find-duplicates-in-linear-time"
    assert high in github_sim.repo_state(OWNER, NAME)["branches"]
    await _as_maintainer(github_sim, "DELETE", f"/git/refs/heads/{high}")
    redis_server.flush()
    await sweep_repository(deps, _week(installation, 47))
    assert high not in github_sim.repo_state(OWNER, NAME)["branches"]
    body = _dashboard_body(github_sim)
    assert "(`PerformanceOptimizer/" in body
    assert "— dismissed from the dashboard" in body
    # The maintainer ticks "propose again": the next sweep pushes the branch once more.
    issue = next(
        i for i in github_sim.repo_state(OWNER, NAME)["issues"] if "dashboard" in i["title"]
    )
    await gh.update_issue(
        issue["number"], body=body.replace("- [ ] propose again", "- [x] propose again")
    )
    await sweep_repository(deps, _week(installation, 48))
    assert high in github_sim.repo_state(OWNER, NAME)["branches"]


async def test_a_ci_fix_closed_unmerged_is_not_opened_again_for_the_same_failure(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, redis_server: RedisServer, tmp_path: Path
) -> None:
    request = ci_setup(github_sim, tmp_path)
    llm_sim.set_script(
        [
            {"match": {"agent": "fixer"}, "content": ci_answer(INVENTORY, RIGHT), "repeat": True},
            {"match": {"agent": "reviewer"}, "content": '{"verdict": "approve"}', "repeat": True},
        ]
    )
    assert (await fix_ci_failure(deps, request))["status"] == "success"
    (pull,) = github_sim.repo_state(CI_OWNER, CI_NAME)["pulls"]
    assert fingerprint_of_text(pull["body"]) is not None
    headers = {"Authorization": f"token {github_sim.installation_token(CI_OWNER, CI_NAME)}"}
    url = f"{github_sim.api_url}/repos/{CI_OWNER}/{CI_NAME}/pulls/{pull['number']}"
    async with httpx.AsyncClient() as http:
        closed = await http.patch(url, json={"state": "closed"}, headers=headers, timeout=30)
        closed.raise_for_status()
    # The same failure on the next commit of the branch, with Redis flushed: no second PR.
    redis_server.flush()
    head = github_sim.commit(CI_OWNER, CI_NAME, "main", {"README.md": "# demo\n\nagain\n"})
    jobs = [{"name": "tests", "conclusion": "failure", "log": FAILED_LOG}]
    github_sim.add_workflow_run(CI_OWNER, CI_NAME, head, "main", jobs=jobs)
    again = await fix_ci_failure(deps, replace(request, head_sha=head, job_id=f"ci:1:{head}"))
    assert again["status"] == "neutral", again
    assert again["title"] == "Fix not proposed again"
    assert len(github_sim.repo_state(CI_OWNER, CI_NAME)["pulls"]) == 1


async def test_a_dashboard_line_a_maintainer_removed_is_not_listed_again(
    deps: Deps,
    github_sim: GitHubSim,
    llm_sim: LLMSim,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    llm_sim.set_script(sweep_script())
    gh = await _client(deps, installation)
    await sweep_repository(deps, _week(installation, 46))
    high = "ambient/sweep/find-duplicates-in-linear-time"
    body = _dashboard_body(github_sim)
    line = next(x for x in body.splitlines() if f"(`{high}`)" in x)
    issue = next(
        i for i in github_sim.repo_state(OWNER, NAME)["issues"] if "dashboard" in i["title"]
    )
    await gh.update_issue(issue["number"], body=body.replace(line + "\n", ""))
    redis_server.flush()
    again = await sweep_repository(deps, _week(installation, 47))
    after = _dashboard_body(github_sim)
    assert f"(`{high}`)" not in after.split("<!-- ambient:outcomes -->")[0], again
    assert "(`PerformanceOptimizer/" in after
    assert "— dismissed from the dashboard" in after
