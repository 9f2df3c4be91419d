"""A maintainer closes Ambient's PR, end to end: real `ambient serve` and `ambient worker`
processes, a real Redis, and the GitHub simulator sending the signed `pull_request.closed`
webhook; the worker answers with the one comment that says how to undo the rejection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from click.testing import CliRunner

from bot.cli.main import cli
from bot.events import Event, RouteContext
from bot.events.routing import route_event
from bot.publish.fingerprint import fingerprint_marker
from handlers import ROUTES
from tests.fixtures.app_processes import AppProcesses, wait_until
from tests.fixtures.redis import RedisServer
from tests.sim.github_client import GitHubSim

OWNER, NAME = "octo", "closing"
FP = "StyleEnforcer/0123456789abcdef"


@pytest.mark.slow
@pytest.mark.bwrap
@pytest.mark.timeout(120)
def test_closing_ambients_pr_gets_one_comment_saying_it_is_not_proposed_again(
    github_sim: GitHubSim, redis_server: RedisServer, app_processes: AppProcesses
) -> None:
    github_sim.create_repo(OWNER, NAME, files={"a.py": "x = 1\n"})
    github_sim.set_permission(OWNER, NAME, "maint", "maintain")
    branch = "ambient/sweep/tidy-a"
    github_sim.commit(OWNER, NAME, branch, {"a.py": "x = 2\n"})
    bot = github_sim.app.bot_login
    body = f"Tidy a.\n\n{fingerprint_marker(FP)}"
    number = github_sim.open_pr(OWNER, NAME, branch, "main", "Tidy a", body, user=bot)
    token = github_sim.installation_token(OWNER, NAME)
    url = f"{github_sim.api_url}/repos/{OWNER}/{NAME}/pulls/{number}"
    headers = {"Authorization": f"token {token}"}
    httpx.patch(url, json={"state": "closed"}, headers=headers, timeout=30).raise_for_status()
    for _ in range(2):
        github_sim.emit(
            "pull_request", owner=OWNER, name=NAME, number=number, action="closed", user="maint"
        )

    def replies() -> list[dict[str, Any]]:
        comments = github_sim.repo_state(OWNER, NAME)["comments"]
        return [c for c in comments if c["issue_number"] == number and c["user"] == bot]

    (reply,) = wait_until(replies, "the rejection comment", app_processes, 60)
    assert f"(fingerprint `{FP}`)" in reply["body"]
    assert '"propose again"' in reply["body"]
    # The same close delivered twice is one job (its id names the close's time): one comment.
    client = redis.Redis.from_url(redis_server.url)
    try:
        wait_until(
            lambda: list(client.scan_iter(match="arq:result:outcome:*")),
            "the outcome job's result",
            app_processes,
            60,
        )
        assert len(list(client.scan_iter(match="arq:result:outcome:*"))) == 1
    finally:
        client.close()
    assert len(replies()) == 1


def _event(action: str, author: str) -> Event:
    payload = {
        "action": action,
        "sender": {"login": "maint", "type": "User"},
        "repository": {"id": 7, "full_name": "o/r"},
        "installation": {"id": 1},
        "pull_request": {"number": 3, "user": {"login": author}},
    }
    return Event("pull_request", action, "d-1", payload, b"{}")


def test_only_ambients_prs_closed_or_reopened_become_outcome_jobs() -> None:
    context = RouteContext(app_slug="ambient")
    (spec,) = route_event(_event("closed", "ambient[bot]"), context, ROUTES).jobs
    assert spec.function == "pull_request_outcome"
    assert spec.option("number") == "3"
    assert route_event(_event("reopened", "ambient[bot]"), context, ROUTES).jobs
    assert route_event(_event("closed", "alice"), context, ROUTES).ignored == (
        "the pull request is not Ambient's"
    )
    assert route_event(_event("opened", "ambient[bot]"), context, ROUTES).ignored
    # The same close twice is one job; a later close is another.
    later = _event("closed", "ambient[bot]")
    pull = dict(later.payload["pull_request"])  # type: ignore[call-overload]
    pull["closed_at"] = "2026-12-08T10:00:00Z"
    moved = Event("pull_request", "closed", "d-2", {**later.payload, "pull_request": pull}, b"{}")
    (again,) = route_event(moved, context, ROUTES).jobs
    assert again.job_id != spec.job_id
    assert again.job_id == route_event(moved, context, ROUTES).jobs[0].job_id


def test_ambient_stats_counts_each_specialists_prs_from_github(
    github_sim: GitHubSim, tmp_path: Path
) -> None:
    github_sim.create_repo(OWNER, "stats", files={"a.py": "x = 1\n"})
    bot = github_sim.app.bot_login
    numbers = []
    for index in range(2):
        branch = f"ambient/sweep/change-{index}"
        github_sim.commit(OWNER, "stats", branch, {f"b{index}.py": "y = 2\n"})
        marker = fingerprint_marker(f"StyleEnforcer/{index:016x}")
        numbers.append(github_sim.open_pr(OWNER, "stats", branch, "main", "C", marker, user=bot))
    github_sim.merge_pr(OWNER, "stats", numbers[0], user="maint")
    app = github_sim.app
    env = {
        "AMBIENT_GITHUB_API_URL": github_sim.api_url,
        "AMBIENT_GITHUB_APP_ID": str(app.id),
        "AMBIENT_GITHUB_PRIVATE_KEY": app.private_key_pem,
        "AMBIENT_WEBHOOK_SECRET": app.webhook_secret,
        "AMBIENT_APP_SLUG": app.slug,
        "AMBIENT_WORKSPACE_ROOT": str(tmp_path),
    }
    result = CliRunner().invoke(cli, ["stats", f"{OWNER}/stats", "--json"], env=env)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)["StyleEnforcer"]
    assert (figures["proposed"], figures["merged"], figures["open"]) == (2, 1, 1)
    assert figures["hours_to_merge"] is not None
    table = CliRunner().invoke(cli, ["stats", f"{OWNER}/stats"], env=env)
    assert "| `StyleEnforcer` | 2 | 1 | 0 | 0 | 1 |" in table.output
    wrong = CliRunner().invoke(cli, ["stats", "nonsense"], env=env)
    assert wrong.exit_code == 2
    assert wrong.output.strip() == "ambient: 'nonsense' is not OWNER/REPO"


def test_a_push_to_the_default_branch_that_reverts_a_commit_also_records_the_revert() -> None:
    context = RouteContext(app_slug="ambient")

    def push(*messages: str) -> Event:
        payload = {
            "ref": "refs/heads/main",
            "after": "a" * 40,
            "sender": {"login": "maint", "type": "User"},
            "repository": {"id": 7, "full_name": "o/r", "default_branch": "main"},
            "installation": {"id": 1},
            "commits": [{"message": m} for m in messages],
        }
        return Event("push", None, "d-3", payload, b"{}")

    reverting = push("Tidy", 'Revert "Tidy a"\n\nThis reverts commit 0123abcd4567.')
    jobs = route_event(reverting, context, ROUTES).jobs
    assert [j.function for j in jobs] == ["note_push", "note_reverts"]
    plain = route_event(push("Tidy"), context, ROUTES).jobs
    assert [j.function for j in plain] == ["note_push"]
