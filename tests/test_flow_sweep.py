"""The sweep on GitHub in process: `sweep_repository` and the dashboard's ticked boxes against
the GitHub simulator, a real Redis, the scripted model and the bubblewrap sandbox."""

from __future__ import annotations

import asyncio
import difflib
import json
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.deps import Deps
from bot.errors import Retryable
from bot.flows.fix import PERMISSIONS
from bot.flows.schedule import claim_period
from bot.flows.sweep import (
    SweepRequest,
    approve_from_dashboard,
    disabled_reply,
    held_for_owners,
    sweep_reply,
    sweep_repository,
)
from bot.github.client import InstallationClient
from bot.github.codeowners import CodeOwnersFile
from bot.pipeline.process import Outcome
from bot.publish.dashboard import MARKER, Entry, parse
from bot.publish.sweep import (
    DASHBOARD_LABEL,
    DASHBOARD_TITLE,
    SWEEP_CHECK,
    DashboardBusy,
    Pushed,
    approve_ticked,
    upsert_dashboard,
)
from bot.repo_config import ConfigOutcome, RepoConfig
from handlers.sweep import installed_repositories, recorded_repositories
from tests.fixtures.llm_sim import LLMSim
from tests.fixtures.redis import RedisServer
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
    answer = {
        "title": title,
        "description": title,
        "rationale": f"Why {title.lower()}",
        "diff": diff,
        "risk_level": risk,
    }
    return json.dumps([answer])


def sweep_script(rewrite_risk: str = "high") -> list[dict[str, Any]]:
    """One low-risk test and one rewrite (high risk unless told); every other specialist finds
    nothing."""
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
                "Find duplicates in linear time",
                _edit("inventory.py", INVENTORY, fast),
                rewrite_risk,
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


def _request(installation: int, day: date = date(2026, 11, 16)) -> SweepRequest:
    """The cron's job for `day` (the cron runs daily; the default config sweeps weekly)."""
    return SweepRequest(f"sweep:{OWNER}/{NAME}:{day}", installation, OWNER, NAME, day=day)


def _dashboards(sim: GitHubSim) -> list[dict[str, Any]]:
    issues = sim.repo_state(OWNER, NAME)["issues"]
    return [i for i in issues if i["title"] == DASHBOARD_TITLE]


def _pulls(sim: GitHubSim) -> dict[str, dict[str, Any]]:
    return {p["head"]: p for p in sim.repo_state(OWNER, NAME)["pulls"]}


def _sweep_runs(sim: GitHubSim) -> list[dict[str, Any]]:
    return [r for r in sim.repo_state(OWNER, NAME)["check_runs"] if r["name"] == SWEEP_CHECK]


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
    # Each branch's head commit holds its proposal's evidence; a PR's body says the same.
    runs = _sweep_runs(github_sim)
    assert sorted(r["head_sha"] for r in runs) == sorted(
        (branches[LOW_BRANCH], branches[HIGH_BRANCH])
    )
    by_sha = {r["head_sha"]: r for r in runs}
    low_run, high_run = by_sha[branches[LOW_BRANCH]], by_sha[branches[HIGH_BRANCH]]
    assert (low_run["conclusion"], high_run["conclusion"]) == ("success", "success")
    assert "**Verification** (in the sandbox, no network):\n`" in low_run["output"]["summary"]
    assert "**Risk:** high" in high_run["output"]["summary"]
    assert pulls[LOW_BRANCH]["body"] == low_run["output"]["summary"]
    assert "**Why:** Why test a list without duplicates" in pulls[LOW_BRANCH]["body"]

    assert "\nCoverage: 1 of 1 source files shown in the last 1 sweep (100%)\n" in dashboard["body"]

    # Next week's sweep finds the same changes: the PR and the dashboard are reused, in place;
    # only the sweeps' coverage and cursor below the boxes change.
    again = await sweep_repository(deps, _request(installation, date(2026, 11, 23)))
    assert again["status"] == "done", again
    assert set(_pulls(github_sim)) == {LOW_BRANCH}
    (same,) = _dashboards(github_sim)
    assert (same["number"], parse(same["body"])) == (dashboard["number"], parse(dashboard["body"]))
    assert "\nCoverage: 1 of 1 source files shown in the last 2 sweeps (100%)\n" in same["body"]
    # The branches were not moved, so the evidence on their heads stands: no second run.
    assert _sweep_runs(github_sim) == runs

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
    high_body = pulls[HIGH_BRANCH]["body"]
    assert high_body.startswith(f"Approved by @maint on the quality dashboard (#{number}).\n\n")
    # What, why, the verification and the risk, as the sweep's evidence on the branch says.
    assert high_body.endswith(high_run["output"]["summary"])
    assert "Find duplicates in linear time" in high_body
    assert "**Why:** Why find duplicates in linear time" in high_body
    assert "**Verification** (in the sandbox, no network):\n`" in high_body
    assert "**Risk:** high" in high_body
    (entry,) = parse(_dashboards(github_sim)[0]["body"])
    assert entry.pull_number == pulls[HIGH_BRANCH]["number"]
    # The same edit delivered again opens nothing more.
    twice = await approve_from_dashboard(
        deps, installation, OWNER, NAME, number, "maint", dashboard["body"]
    )
    assert twice["pull_requests"] == []
    assert len(_pulls(github_sim)) == 2


def _clones(sim: GitHubSim) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if r["path"].startswith(f"/git/{OWNER}/{NAME}")]


def _replies_on(sim: GitHubSim, number: int) -> list[dict[str, Any]]:
    comments = sim.repo_state(OWNER, NAME)["comments"]
    return [c for c in comments if c["issue_number"] == number]


def _asked(installation: int, number: int, by: str, **changes: Any) -> SweepRequest:
    """`@app sweep` by `by` on issue or PR `number`, as handlers.sweep builds it."""
    request = SweepRequest(
        f"comment:1:{by}", installation, OWNER, NAME, trigger="comment", requester=by, number=number
    )
    return replace(request, **changes)


@pytest.mark.bwrap
async def test_a_readers_sweep_is_refused_with_one_reply_and_a_bots_is_ignored(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    number = github_sim.create_issue(OWNER, NAME, "Please sweep", "")
    llm_sim.set_script(sweep_script())
    github_sim.clear_requests()
    for _ in range(2):
        refused = await sweep_repository(deps, _asked(installation, number, "reader"))
        assert refused == {"status": "refused", "role": "read"}
    (reply,) = _replies_on(github_sim, number)
    assert reply["body"].startswith("Sorry @reader, only people with write, maintain or admin")
    # One line, then the hidden marker that finds it again.
    assert "\n" not in reply["body"].split("\n\n<!--")[0]
    ignored = await sweep_repository(
        deps, _asked(installation, number, "helper[bot]", requester_is_bot=True)
    )
    assert ignored["status"] == "ignored"
    # Nobody asked (a comment's job without its commenter): nobody may, so nothing runs.
    unnamed = await sweep_repository(deps, _asked(installation, 0, ""))
    assert unnamed["status"] == "refused"
    assert len(_replies_on(github_sim, number)) == 1
    assert llm_sim.requests() == []
    assert _clones(github_sim) == []
    assert _pulls(github_sim) == {}


@pytest.mark.bwrap
async def test_a_disabled_sweep_is_skipped_by_the_cron_and_refused_to_a_comment_once(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    github_sim.commit(OWNER, NAME, "main", {".github/ambient.yml": "sweep:\n  enabled: false\n"})
    skipped = await sweep_repository(deps, _request(installation))
    assert skipped == {
        "status": "ignored",
        "reason": "sweep.enabled is false in the repository config",
    }
    number = github_sim.create_issue(OWNER, NAME, "Please sweep", "")
    llm_sim.set_script(sweep_script())
    github_sim.clear_requests()
    for _ in range(2):
        by_hand = await sweep_repository(deps, _asked(installation, number, "maint"))
        assert by_hand["status"] == "ignored", by_hand
    (reply,) = _replies_on(github_sim, number)
    assert reply["body"].startswith(
        "Sweeps are off for this repository: sweep.enabled is false in .github/ambient.yml on "
        "main. Nothing was run.\n\n<!--"
    )
    assert llm_sim.requests() == []
    assert _clones(github_sim) == []
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


FAILING_TEST = "def test_nothing_works() -> None:\n    assert 1 == 2\n"
FORGED = 'verify:\n  commands: ["python -c pass"]\n  allow: ["python -c pass"]\n'


@pytest.mark.bwrap
async def test_a_proposal_cannot_choose_the_checks_that_verify_it(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    diff = _edit("tests/test_more.py", "", FAILING_TEST) + _edit(".github/ambient.yml", "", FORGED)
    llm_sim.set_script(
        [
            {"match": {"user": "Refine round"}, "status": 503, "repeat": True},
            {
                "match": {"agent": "RefactorArchitect"},
                "content": _answer("Test that nothing works", diff, "low"),
                "repeat": True,
            },
            {"content": "[]", "repeat": True},
        ]
    )
    result = await sweep_repository(deps, _request(installation))
    outcomes = result["outcomes"]
    assert isinstance(outcomes, list)
    (line,) = outcomes
    assert "failed-verification" in line, result
    assert (
        result["config"]
        == "defaults (no .github/ambient.yml on main); checks detected in the checkout"
    )
    assert not [
        b for b in github_sim.repo_state(OWNER, NAME)["branches"] if b.startswith("ambient/")
    ]
    assert _pulls(github_sim) == {}


@pytest.mark.bwrap
@pytest.mark.slow
async def test_a_protected_owners_file_waits_on_the_dashboard_and_prs_ask_their_owners(
    deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, tmp_path: Path
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    github_sim.commit(
        OWNER, NAME, "main", {".github/ambient.yml": 'protected_owners: ["@Carol"]\n'}
    )
    github_sim.set_codeowners(OWNER, NAME, "tests/ @dave\ninventory.py @carol\n")
    for owner in ("carol", "dave"):
        github_sim.set_permission(OWNER, NAME, owner, "write")
    # Both proposals are low risk: only the owner of inventory.py holds the rewrite back.
    llm_sim.set_script(sweep_script(rewrite_risk="low"))
    result = await sweep_repository(deps, _request(installation))
    pulls = _pulls(github_sim)
    assert set(pulls) == {LOW_BRANCH}, result
    assert pulls[LOW_BRANCH]["requested_reviewers"] == ["dave"]
    (dashboard,) = _dashboards(github_sim)
    assert f"- [ ] Find duplicates in linear time (`{HIGH_BRANCH}`)" in dashboard["body"]
    outcomes = result["outcomes"]
    assert isinstance(outcomes, list)
    (held,) = [line for line in outcomes if "linear time" in line]
    assert "awaiting-approval: `inventory.py` is owned by a protected owner" in held
    ticked = dashboard["body"].replace("- [ ]", "- [x]")
    gh = await _client(deps, installation)
    await gh.update_issue(dashboard["number"], body=ticked)
    await approve_from_dashboard(
        deps, installation, OWNER, NAME, dashboard["number"], "maint", dashboard["body"]
    )
    assert _pulls(github_sim)[HIGH_BRANCH]["requested_reviewers"] == ["carol"]


def test_the_sweep_reply_lists_pulls_the_dashboard_failures_secrets_and_the_config() -> None:
    config = ".github/ambient.yml on main; checks detected in the checkout"
    line = "Split module (RefactorArchitect, low risk) published"
    text = sweep_reply([4, 5], 7, [line], ["x"], 2, config)
    assert text.splitlines()[:2] == [
        "Sweep finished: opened #4, #5; proposals that need approval wait on #7.",
        f"- config: {config}",
    ]
    assert "- failed: x" in text
    assert "2 possible secret(s)" in text


def test_a_published_proposal_on_a_protected_owners_file_waits_for_approval() -> None:
    owners = CodeOwnersFile.parse("* @dave\nsrc/auth/ @acme/Security\n")
    protects = RepoConfig(protected_owners=("@acme/security",)).protects
    pushed = {
        "ambient/sweep/a": Pushed("ambient/sweep/a", "A", "", ("src/auth/login.py",), "1" * 40),
        "ambient/sweep/b": Pushed("ambient/sweep/b", "B", "", ("README.md",), "2" * 40),
    }
    outcomes = [
        Outcome("RefactorArchitect", "A", "published", "", "low", "ambient/sweep/a"),
        Outcome("StyleEnforcer", "B", "published", "", "low", "ambient/sweep/b"),
        Outcome("SecurityGuardian", "C", "failed-verification", "exit 1", "low"),
    ]
    held, kept, failed = held_for_owners(outcomes, pushed, owners, protects)
    assert (held.fate, held.reason) == (
        "awaiting-approval",
        "`src/auth/login.py` is owned by a protected owner",
    )
    assert (kept, failed) == (outcomes[1], outcomes[2])
    # Without a CODEOWNERS file, or without protected owners, nothing is held.
    assert held_for_owners(outcomes, pushed, None, protects) == outcomes
    assert held_for_owners(outcomes, pushed, owners, RepoConfig().protects) == outcomes


def test_the_disabled_reply_names_the_file_and_the_branch() -> None:
    config = ConfigOutcome(RepoConfig(), source=".ambient.yml")
    assert disabled_reply(config, "trunk") == (
        "Sweeps are off for this repository: sweep.enabled is false in .ambient.yml on trunk. "
        "Nothing was run."
    )


async def _client(deps: Deps, installation: int) -> InstallationClient:
    assert deps.github is not None
    return await deps.github.installation_client(installation, OWNER, NAME, PERMISSIONS)


async def test_the_cron_sweeps_once_in_each_period_of_the_repositorys_schedule(
    deps: Deps, github_sim: GitHubSim, tmp_path: Path
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    repo_id = (await (await _client(deps, installation)).get_repo()).id
    # Monday's job of week 48 claimed the week (and swept); Wednesday's finds it swept.
    assert await claim_period(deps.redis, repo_id, "2026-W48", "sweep:octo/sweep:2026-11-23", 60)
    wednesday = await sweep_repository(deps, _request(installation, date(2026, 11, 25)))
    assert wednesday == {
        "status": "ignored",
        "reason": "sweep.schedule is weekly: 2026-W48 is swept already",
    }
    github_sim.commit(OWNER, NAME, "main", {".github/ambient.yml": "sweep:\n  schedule: monthly\n"})
    assert await claim_period(deps.redis, repo_id, "2026-11", "sweep:octo/sweep:2026-11-02", 60)
    monthly = await sweep_repository(deps, _request(installation, date(2026, 11, 30)))
    assert monthly["reason"] == "sweep.schedule is monthly: 2026-11 is swept already"


async def _dashboard(
    deps: Deps, sim: GitHubSim, gh: InstallationClient, branches: list[str]
) -> tuple[int, int, str]:
    """Branches waiting on a new dashboard: (repository id, issue number, its body)."""
    for branch in branches:
        sim.commit(OWNER, NAME, branch, {f"{branch.rsplit('/', 1)[1]}.txt": "change\n"})
    repo_id = (await gh.get_repo()).id
    waiting = [Entry(f"Change {b.rsplit('/', 1)[1]}", b) for b in branches]
    number = await upsert_dashboard(deps.redis, gh, repo_id, waiting)
    assert number is not None
    return repo_id, number, (await gh.get_issue(number)).body


def _tick(body: str, branch: str) -> str:
    return body.replace(
        f"- [ ] Change {branch.rsplit('/', 1)[1]} ", f"- [x] Change {branch.rsplit('/', 1)[1]} "
    )


async def test_the_dashboard_is_found_on_github_not_in_redis(
    deps: Deps, github_sim: GitHubSim, redis_server: RedisServer, tmp_path: Path
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    gh = await _client(deps, installation)
    # Someone else's issue with the dashboard's title and marker is not the App's dashboard.
    github_sim.create_issue(OWNER, NAME, DASHBOARD_TITLE, f"{MARKER}\n- [ ] x (`ambient/sweep/x`)")
    repo_id, number, _ = await _dashboard(deps, github_sim, gh, ["ambient/sweep/a"])
    redis_server.flush()
    again = await upsert_dashboard(deps.redis, gh, repo_id, [Entry("Change b", "ambient/sweep/b")])
    assert again == number
    ours = [i for i in _dashboards(github_sim) if i["user"] == github_sim.app.bot_login]
    assert [i["number"] for i in ours] == [number]
    assert [e.branch for e in parse(ours[0]["body"])] == ["ambient/sweep/a", "ambient/sweep/b"]
    assert DASHBOARD_LABEL in ours[0]["labels"]
    # A dashboard someone closed stays closed while nothing new waits; then it is reopened in
    # place, not opened anew.
    await gh.update_issue(number, body=ours[0]["body"], state="closed")
    redis_server.flush()
    assert await upsert_dashboard(deps.redis, gh, repo_id, [Entry("B", "ambient/sweep/b")]) is None
    assert (await gh.get_issue(number)).state == "closed"
    assert (
        await upsert_dashboard(deps.redis, gh, repo_id, [Entry("C", "ambient/sweep/c")]) == number
    )
    assert (await gh.get_issue(number)).state == "open"


async def test_two_boxes_ticked_at_once_both_open_and_both_are_marked(
    deps: Deps, github_sim: GitHubSim, tmp_path: Path
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    gh = await _client(deps, installation)
    a, b = "ambient/sweep/a", "ambient/sweep/b"
    _, number, body0 = await _dashboard(deps, github_sim, gh, [a, b])
    body1 = _tick(body0, a)
    body2 = _tick(body1, b)
    # Two quick edits: GitHub holds the second; each job knows its own edit's before and after.
    await gh.update_issue(number, body=body2)
    first, second = await asyncio.gather(
        approve_from_dashboard(deps, installation, OWNER, NAME, number, "maint", body0, body1),
        approve_from_dashboard(deps, installation, OWNER, NAME, number, "maint", body1, body2),
    )
    pulls = _pulls(github_sim)
    assert first["pull_requests"] == [pulls[a]["number"]]
    assert second["pull_requests"] == [pulls[b]["number"]]
    entries = parse((await gh.get_issue(number)).body)
    assert {e.branch: e.pull_number for e in entries} == {
        a: pulls[a]["number"],
        b: pulls[b]["number"],
    }


async def test_the_same_tick_twice_opens_one_pr_and_a_held_lock_means_retry(
    deps: Deps, github_sim: GitHubSim, tmp_path: Path
) -> None:
    installation = setup_repository(github_sim, tmp_path)
    gh = await _client(deps, installation)
    a = "ambient/sweep/a"
    repo_id, number, body0 = await _dashboard(deps, github_sim, gh, [a])
    body1 = _tick(body0, a)
    await gh.update_issue(number, body=body1)
    results = await asyncio.gather(
        *(
            approve_from_dashboard(deps, installation, OWNER, NAME, number, "maint", body0, body1)
            for _ in range(2)
        )
    )
    assert sorted(len(r["pull_requests"]) for r in results) == [0, 1]  # type: ignore[arg-type]
    assert list(_pulls(github_sim)) == [a]
    lock = deps.redis.lock(f"ambient:lock:dashboard:{repo_id}", timeout=30)
    assert await lock.acquire()
    try:
        with pytest.raises(DashboardBusy) as busy:
            await approve_ticked(
                deps.redis, gh, repo_id, number, "main", "maint", draft=False, lock_wait_s=0.2
            )
        assert isinstance(busy.value, Retryable)
    finally:
        await lock.release()


async def test_the_cron_asks_github_which_repositories_are_installed(
    deps: Deps, github_sim: GitHubSim
) -> None:
    # No installation event was ever received: Redis knows nothing, GitHub knows the truth.
    first = github_sim.create_repo("listed", "one", files={"a.txt": "a\n"})
    second = github_sim.create_repo("listed", "two", files={"a.txt": "a\n"})
    assert await recorded_repositories(deps.redis) == []
    found = await installed_repositories(deps)
    assert (first.installation_id, "listed/one") in found
    assert (second.installation_id, "listed/two") in found
