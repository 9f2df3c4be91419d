"""A maintainer closes Ambient's PR, end to end: real `ambient serve` and `ambient worker`
processes, a real Redis, and the GitHub simulator sending the signed `pull_request.closed`
webhook; the worker answers with the one comment that says how to undo the rejection."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis

from bot.events import Event, RouteContext
from bot.events.routing import route_event
from bot.publish.fingerprint import fingerprint_marker
from handlers import ROUTES
from tests.fixtures.app_processes import AppProcesses, wait_until
from tests.fixtures.redis import RedisServer
from tests.sim.github_client import GitHubSim

pytestmark = [pytest.mark.slow, pytest.mark.bwrap, pytest.mark.timeout(120)]

OWNER, NAME = "octo", "closing"
FP = "StyleEnforcer/0123456789abcdef"


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
    # Both deliveries were handled (one job each, results kept by arq); still one comment.
    client = redis.Redis.from_url(redis_server.url)
    try:
        wait_until(
            lambda: len(list(client.scan_iter(match="arq:result:outcome:*"))) == 2,
            "both outcome jobs",
            app_processes,
            60,
        )
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
