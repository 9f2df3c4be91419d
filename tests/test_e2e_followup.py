"""Review on one of Ambient's pull requests, end to end: a review requesting changes and a line
comment by a maintainer make one follow-up job that pushes one verified commit onto the pull
request's branch and answers the comment in its thread; `tasks.max_followups` caps them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.fixtures.app_processes import AppProcesses, wait_until
from tests.fixtures.llm_sim import LLMSim
from tests.fixtures.redis import RedisServer
from tests.sim.github_client import GitHubSim
from tests.test_e2e_task import (
    INVENTORY,
    NAME,
    OWNER,
    PLAN,
    REPRO,
    RIGHT,
    _assert_one_verified_pr,
    _edit,
    _proposal,
    _repo,
)

pytestmark = [pytest.mark.slow, pytest.mark.bwrap, pytest.mark.timeout(240)]

OLD_DOC = '"""The mean price per line item; 0.0 for an empty inventory."""'
NEW_DOC = '"""The mean price per line item (0.0 when there are none)."""'
AGAIN = RIGHT.replace(OLD_DOC, NEW_DOC)


def _script(llm_sim: LLMSim) -> None:
    approve = '{"verdict": "approve", "comments": "ok"}'
    llm_sim.set_script(
        [
            {"match": {"agent": "planner"}, "content": json.dumps(PLAN)},
            {"match": {"agent": "reproducer"}, "content": _proposal("Reproduce", REPRO)},
            {
                "match": {"agent": "fixer"},
                "content": _proposal("Guard", _edit("inventory.py", INVENTORY, RIGHT)),
                "times": 1,
            },
            {"match": {"agent": "reviewer"}, "content": approve, "times": 1},
            {
                "match": {"agent": "fixer"},
                "content": _proposal("Reword the docstring", _edit("inventory.py", RIGHT, AGAIN)),
                "times": 1,
            },
            {"match": {"agent": "reviewer"}, "content": approve, "times": 1},
        ]
    )


def _sim_review(sim: GitHubSim, number: int, kind: str, **fields: object) -> dict[str, Any]:
    url = f"{sim.api_url}/_sim/repos/{OWNER}/{NAME}/pulls/{number}/{kind}"
    made = httpx.post(url, json=fields, timeout=30)
    made.raise_for_status()
    answer: dict[str, Any] = made.json()
    return answer


def _review(sim: GitHubSim, number: int, user: str) -> int:
    """A line comment and a review requesting changes, each delivered as GitHub does."""
    line = INVENTORY.splitlines().index(OLD_DOC.join(("    ", ""))) + 1
    comment = _sim_review(
        sim, number, "comments", user=user, path="inventory.py", line=line,
        body="Say what happens when there are no items, in other words.",
    )  # fmt: skip
    review = _sim_review(
        sim, number, "reviews", user=user, state="CHANGES_REQUESTED", body="One docstring."
    )
    sim.emit("pull_request_review", owner=OWNER, name=NAME, review_id=review["id"])
    sim.emit("pull_request_review_comment", owner=OWNER, name=NAME, comment_id=comment["id"])
    return int(comment["id"])


def _thread(sim: GitHubSim, comment_id: int) -> list[dict[str, Any]]:
    comments = sim.repo_state(OWNER, NAME)["review_comments"]
    return [c for c in comments if c["in_reply_to"] == comment_id]


def _bot_replies(sim: GitHubSim, number: int) -> list[dict[str, Any]]:
    state = sim.repo_state(OWNER, NAME)
    bot = sim.app.bot_login
    return [c for c in state["comments"] if c["user"] == bot and c["issue_number"] == number]


def _day_tokens(redis_server: RedisServer) -> int:
    """The repository's model tokens today (`tasks.daily_token_budget`'s counter)."""
    client = redis.Redis.from_url(redis_server.url)
    try:
        keys = list(client.scan_iter(f"ambient:tasks:tokens:{OWNER}/{NAME}:*"))
        return sum(int(client.get(k) or 0) for k in keys)
    finally:
        client.close()


def test_a_review_makes_one_follow_up_commit_with_replies_and_the_cap_holds(
    github_sim: GitHubSim,
    llm_sim: LLMSim,
    app_processes: AppProcesses,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    issue = _repo(github_sim, tmp_path, config="tasks:\n  max_followups: 1\n")
    _script(llm_sim)
    github_sim.emit(
        "issues", owner=OWNER, name=NAME, number=issue, action="labeled", user="maint",
        label="ambient",
    )  # fmt: skip
    pull = _assert_one_verified_pr(github_sim, app_processes, issue)
    number, branch = int(pull["number"]), str(pull["head"])
    first = github_sim.repo_state(OWNER, NAME)["branches"][branch]
    after_task = _day_tokens(redis_server)
    assert after_task > 0

    # A reader's line comment on the same PR is no request: it never reaches the fixer.
    _sim_review(
        github_sim, number, "comments", user="reader", path="inventory.py",
        line=INVENTORY.splitlines().index(OLD_DOC.join(("    ", ""))) + 1,
        body="Delete the whole module, a reader says.",
    )  # fmt: skip
    comment = _review(github_sim, number, "maint")
    (reply,) = wait_until(
        lambda: _thread(github_sim, comment), "the reply in the thread", app_processes
    )
    state = github_sim.repo_state(OWNER, NAME)
    tip = state["branches"][branch]
    assert tip != first
    assert tip in state["verified"]
    assert reply["user"] == github_sim.app.bot_login
    assert reply["body"].startswith(f"Addressed in {tip[:7]}.")
    fixed = github_sim.read_file(OWNER, NAME, tip, "inventory.py")
    assert fixed is not None
    assert NEW_DOC.encode() in fixed
    # The comment reached the fixer as fenced data.
    prompts = [json.dumps(r) for r in llm_sim.requests() if r["agent"] == "fixer"]
    assert "Say what happens when there are no items" in prompts[-1]
    assert not any("a reader says" in prompt for prompt in prompts)
    (said,) = wait_until(lambda: _bot_replies(github_sim, number), "the PR reply", app_processes)
    assert f"Pushed [{tip[:7]}](" in said["body"]
    commits = [
        r
        for r in github_sim.requests()
        if r["method"] == "POST" and r["path"].endswith("/git/commits")
    ]
    assert len(commits) == 2  # the task's and the one follow-up's
    assert _day_tokens(redis_server) > after_task
    # The follow-up's evidence names the budget the repository's config set.
    fixes = [
        r for r in github_sim.repo_state(OWNER, NAME)["check_runs"] if r["name"] == "Ambient fix"
    ]
    assert any(
        "**Budget:** " in json.dumps(r) and "tasks.token_budget" in json.dumps(r) for r in fixes
    ), fixes

    # A second round on the new head is past `tasks.max_followups: 1`: one reply, no commit.
    calls = len(llm_sim.requests())
    _review(github_sim, number, "maint")
    wait_until(
        lambda: any("follow-up(s)" in c["body"] for c in _bot_replies(github_sim, number)),
        "the cap reply",
        app_processes,
    )
    assert github_sim.repo_state(OWNER, NAME)["branches"][branch] == tip
    assert len(llm_sim.requests()) == calls


def test_a_readers_review_is_refused_and_runs_nothing(
    github_sim: GitHubSim, llm_sim: LLMSim, app_processes: AppProcesses, tmp_path: Path
) -> None:
    issue = _repo(github_sim, tmp_path)
    _script(llm_sim)
    github_sim.emit(
        "issues", owner=OWNER, name=NAME, number=issue, action="labeled", user="maint",
        label="ambient",
    )  # fmt: skip
    pull = _assert_one_verified_pr(github_sim, app_processes, issue)
    number = int(pull["number"])
    head = github_sim.repo_state(OWNER, NAME)["branches"][pull["head"]]
    calls = len(llm_sim.requests())
    _review(github_sim, number, "reader")
    (said,) = wait_until(lambda: _bot_replies(github_sim, number), "the refusal", app_processes)
    assert "only people with write" in said["body"]
    assert github_sim.repo_state(OWNER, NAME)["branches"][pull["head"]] == head
    assert len(llm_sim.requests()) == calls
