"""The sweep on GitHub in process: `sweep_repository` and the dashboard's ticked boxes against
the GitHub simulator, a real Redis, the scripted model and the bubblewrap sandbox."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.dashboard import parse
from bot.deps import Deps
from bot.flow_fix import PERMISSIONS
from bot.flow_sweep import SweepRequest, approve_from_dashboard, sweep_reply, sweep_repository
from bot.publish_sweep import DASHBOARD_TITLE
from tests.fixtures.llm_sim import LLMSim
from tests.sim.github_client import GitHubSim

EXAMPLE = Path(__file__).parent.parent / "examples" / "python-demo"
INVENTORY = (EXAMPLE / "inventory.py").read_text()
OWNER, NAME = "octo", "sweep"
SLOW = (
    "    duplicates = []\n    for i in range(len(items)):\n"
    "        for j in range(len(items)):\n"
    "            if i != j and items[i] == items[j] and items[i] not in duplicates:\n"
    "                duplicates.append(items[i])\n    return duplicates\n"
)
FAST = (
    "    seen: set[str] = set()\n    duplicates: dict[str, None] = {}\n    for item in items:\n"
    "        if item in seen:\n            duplicates[item] = None\n        seen.add(item)\n"
    "    return list(duplicates)\n"
)
MORE_TESTS = (
    "from inventory import find_duplicates\n\n\ndef test_no_duplicates() -> None:\n"
    '    assert find_duplicates(["a", "b"]) == []\n'
)
LOW_BRANCH = "ambient/sweep/test-a-list-without-duplicates"
HIGH_BRANCH = "ambient/sweep/find-duplicates-in-linear-time"


@pytest.fixture
def deps(flow_deps: Deps) -> Deps:
    return flow_deps


def _edit(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(lines)


def _answer(title: str, diff: str, risk: str) -> str:
    return json.dumps([{"title": title, "description": title, "diff": diff, "risk_level": risk}])


def sweep_script() -> list[dict[str, Any]]:
    """One low-risk test and one high-risk rewrite; every other specialist finds nothing."""
    fast = INVENTORY.replace(SLOW, FAST)
    return [
        {"match": {"user": "Refine round"}, "status": 503, "repeat": True},
        {
            "match": {"agent": "TestEnhancer"},
            "content": _answer(
                "Test a list without duplicates", _edit("tests/test_more.py", "", MORE_TESTS), "low"
            ),
            "repeat": True,
        },
        {
            "match": {"agent": "PerformanceOptimizer"},
            "content": _answer(
                "Find duplicates in linear time", _edit("inventory.py", INVENTORY, fast), "high"
            ),
            "repeat": True,
        },
        {"content": "[]", "repeat": True},
    ]


def setup_repository(sim: GitHubSim, tmp_path: Path) -> int:
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", ".*cache"))
    # No ruff section: the specialists' proposals are the only ones, so the test is exact.
    text = (source / "pyproject.toml").read_text()
    (source / "pyproject.toml").write_text(text.split("[tool.ruff]")[0])
    repo = sim.create_repo(OWNER, NAME, source_dir=source)
    sim.set_permission(OWNER, NAME, "maint", "maintain")
    sim.set_permission(OWNER, NAME, "reader", "read")
    assert repo.installation_id is not None
    return repo.installation_id


def _request(installation: int, job_id: str = "sweep:octo/sweep:2026-W47") -> SweepRequest:
    return SweepRequest(job_id, installation, OWNER, NAME)


def _dashboards(sim: GitHubSim) -> list[dict[str, Any]]:
    issues = sim.repo_state(OWNER, NAME)["issues"]
    return [i for i in issues if i["title"] == DASHBOARD_TITLE]


def _pulls(sim: GitHubSim) -> dict[str, dict[str, Any]]:
    return {p["head"]: p for p in sim.repo_state(OWNER, NAME)["pulls"]}


@pytest.mark.bwrap
@pytest.mark.slow
async def test_a_sweep_opens_low_risk_prs_and_lists_high_risk_ones_on_one_dashboard(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    llm_sim.set_script(sweep_script())
    result = await sweep_repository(deps, _request(installation))
    assert result["status"] == "done", result
    pulls = _pulls(github_sim)
    assert set(pulls) == {LOW_BRANCH}, result
    assert pulls[LOW_BRANCH]["base"] == "main"
    (dashboard,) = _dashboards(github_sim)
    assert result["dashboard"] == dashboard["number"]
    assert f"- [ ] Find duplicates in linear time (`{HIGH_BRANCH}`)" in dashboard["body"]
    branches = github_sim.repo_state(OWNER, NAME)["branches"]
    assert HIGH_BRANCH in branches

    # Next week's sweep finds the same changes: the PR and the dashboard are reused, in place.
    again = await sweep_repository(deps, _request(installation, "sweep:octo/sweep:2026-W48"))
    assert again["status"] == "done", again
    assert set(_pulls(github_sim)) == {LOW_BRANCH}
    (same,) = _dashboards(github_sim)
    assert (same["number"], same["body"]) == (dashboard["number"], dashboard["body"])

    # A reader's tick opens nothing; a maintainer's opens that PR and marks the line.
    assert deps.github is not None
    gh = await deps.github.installation_client(installation, OWNER, NAME, PERMISSIONS)
    ticked = dashboard["body"].replace("- [ ]", "- [x]")
    await gh.update_issue(dashboard["number"], body=ticked)
    number = dashboard["number"]
    refused = await approve_from_dashboard(
        deps, installation, OWNER, NAME, number, "reader", dashboard["body"]
    )
    assert refused["status"] == "refused"
    # An edit by a maintainer that did not tick that box (it was ticked before) opens nothing.
    other = await approve_from_dashboard(deps, installation, OWNER, NAME, number, "maint", ticked)
    assert other["pull_requests"] == []
    assert set(_pulls(github_sim)) == {LOW_BRANCH}
    approved = await approve_from_dashboard(
        deps, installation, OWNER, NAME, number, "maint", dashboard["body"]
    )
    pulls = _pulls(github_sim)
    assert approved["pull_requests"] == [pulls[HIGH_BRANCH]["number"]]
    assert pulls[HIGH_BRANCH]["body"].startswith("Approved by @maint on the quality dashboard")
    (entry,) = parse(_dashboards(github_sim)[0]["body"])
    assert entry.pull_number == pulls[HIGH_BRANCH]["number"]
    # The same edit delivered again opens nothing more.
    twice = await approve_from_dashboard(
        deps, installation, OWNER, NAME, number, "maint", dashboard["body"]
    )
    assert twice["pull_requests"] == []
    assert len(_pulls(github_sim)) == 2


@pytest.mark.bwrap
async def test_a_disabled_sweep_is_skipped_by_the_cron_but_not_by_a_user(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    github_sim.commit(OWNER, NAME, "main", {".github/ambient.yml": "sweep:\n  enabled: false\n"})
    skipped = await sweep_repository(deps, _request(installation))
    assert skipped == {
        "status": "ignored",
        "reason": "sweep.enabled is false in the repository config",
    }
    llm_sim.set_script([{"content": "[]", "repeat": True}])
    by_hand = SweepRequest("comment:1", installation, OWNER, NAME, trigger="comment")
    done = await sweep_repository(deps, by_hand)
    assert (done["status"], done["pull_requests"], done["dashboard"]) == ("done", [], 0)
    assert _dashboards(github_sim) == []


async def test_a_sweep_asked_by_comment_replies_once_with_what_it_did(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    number = github_sim.create_issue(OWNER, NAME, "Please sweep", "")
    llm_sim.set_script([{"content": "[]", "repeat": True}])
    asked = SweepRequest(
        "comment:9", installation, OWNER, NAME, trigger="comment", requester="maint", number=number
    )
    await sweep_repository(deps, asked)
    await sweep_repository(deps, asked)
    replies = [
        c for c in github_sim.repo_state(OWNER, NAME)["comments"] if c["issue_number"] == number
    ]
    assert len(replies) == 1
    assert replies[0]["body"].startswith("Sweep finished: ")


def test_the_sweep_reply_lists_pulls_the_dashboard_failures_and_secrets() -> None:
    text = sweep_reply(
        [4, 5], 7, ["Split module (RefactorArchitect, low risk) published"], ["x"], 2
    )
    assert text.splitlines()[0] == "Sweep finished: opened #4, #5; high-risk proposals wait on #7."
    assert "- failed: x" in text
    assert "2 possible secret(s)" in text
