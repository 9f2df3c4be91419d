"""The simulator's events for tasks and follow-ups: an issue assigned or labelled, a review and a
review comment on a pull request, signed as GitHub signs them, parsing with githubkit's webhook
models and with Ambient's own payload models."""

from __future__ import annotations

import json
from typing import Any

import httpx
from githubkit import webhooks

from bot.events.payloads import (
    IssuesPayload,
    PullRequestReviewCommentPayload,
    PullRequestReviewPayload,
    parse_payload,
)
from tests.sim.github_client import GitHubSim
from tests.test_sim_github import NAME, OWNER, Receiver, receiver, repo

__all__ = ["receiver", "repo"]


def _sim_post(sim: GitHubSim, number: int, kind: str, **fields: object) -> dict[str, Any]:
    made = httpx.post(
        f"{sim.api_url}/_sim/repos/{OWNER}/{NAME}/pulls/{number}/{kind}", json=fields, timeout=30
    )
    made.raise_for_status()
    answer: dict[str, Any] = made.json()
    return answer


def _last(receiver: Receiver, event: str) -> dict[str, Any]:
    headers, body = receiver.received[-1]
    assert headers["X-GitHub-Event"] == event
    webhooks.parse(event, body)  # githubkit's model of the event: parsing it is the check
    data: dict[str, Any] = json.loads(body)
    return data


def test_assignment_and_label_events_change_the_issue_and_parse(
    repo: GitHubSim, receiver: Receiver
) -> None:
    repo.set_webhook(f"http://127.0.0.1:{receiver.server_address[1]}/webhook")
    number = repo.create_issue(OWNER, NAME, title="Task", user="alice")
    bot = repo.app.bot_login
    repo.emit("issues", owner=OWNER, name=NAME, number=number, action="assigned", assignee=bot)
    assigned = _last(receiver, "issues")
    assert assigned["assignee"]["login"] == bot
    assert [a["login"] for a in assigned["issue"]["assignees"]] == [bot]
    parsed = parse_payload("issues", assigned)
    assert isinstance(parsed, IssuesPayload)
    assert parsed.assignee is not None
    repo.emit("issues", owner=OWNER, name=NAME, number=number, action="labeled", label="ambient")
    labeled = _last(receiver, "issues")
    assert labeled["label"]["name"] == "ambient"
    assert [label["name"] for label in labeled["issue"]["labels"]] == ["ambient"]
    state = repo.repo_state(OWNER, NAME)["issues"]
    assert state[0]["labels"] == ["ambient"]


def test_review_and_review_comment_events_parse_and_replies_thread(
    repo: GitHubSim, receiver: Receiver
) -> None:
    repo.set_webhook(f"http://127.0.0.1:{receiver.server_address[1]}/webhook")
    repo.commit(OWNER, NAME, "feature", {"src/app.py": "print(2)\n"})
    number = repo.open_pr(OWNER, NAME, head="feature", base="main", user="alice")
    line = _sim_post(repo, number, "comments", user="bob", path="src/app.py", line=1, body="Hm")
    review = _sim_post(repo, number, "reviews", user="bob", state="CHANGES_REQUESTED", body="No")
    repo.emit("pull_request_review", owner=OWNER, name=NAME, review_id=review["id"])
    submitted = _last(receiver, "pull_request_review")
    assert (submitted["action"], submitted["review"]["state"]) == ("submitted", "changes_requested")
    assert submitted["pull_request"]["number"] == number
    assert isinstance(parse_payload("pull_request_review", submitted), PullRequestReviewPayload)
    repo.emit("pull_request_review_comment", owner=OWNER, name=NAME, comment_id=line["id"])
    created = _last(receiver, "pull_request_review_comment")
    assert created["comment"]["id"] == line["id"]
    parsed = parse_payload("pull_request_review_comment", created)
    assert isinstance(parsed, PullRequestReviewCommentPayload)
    assert parsed.pull_request.head.ref == "feature"
    # The App answers in the thread; a reply to that reply is not a thing GitHub does.
    token = repo.installation_token(OWNER, NAME)
    replies = f"{repo.api_url}/repos/{OWNER}/{NAME}/pulls/{number}/comments/{line['id']}/replies"
    auth = {"Authorization": f"token {token}"}
    answered = httpx.post(replies, json={"body": "Done"}, headers=auth, timeout=30)
    assert answered.status_code == 201, answered.text
    assert answered.json()["in_reply_to_id"] == line["id"]
    assert answered.json()["user"]["login"] == repo.app.bot_login
    nested = replies.replace(str(line["id"]), str(answered.json()["id"]))
    assert httpx.post(nested, json={"body": "x"}, headers=auth, timeout=30).status_code == 404
