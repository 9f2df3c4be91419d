"""The pure parts of the task and follow-up triggers: which events make which job, and the
planner's answers read strictly."""

from __future__ import annotations

from typing import Any

import pytest

from agents.planner import IssueText, plan_of, plan_text
from bot.events import Event, RouteContext, route_event
from handlers import ROUTES

CONTEXT = RouteContext(app_slug="ambient")
REPO = {"id": 7, "full_name": "o/r"}


def _event(name: str, payload: dict[str, Any]) -> Event:
    whole = {"sender": {"login": "maint", "type": "User"}, "repository": REPO, **payload}
    return Event(name, str(payload.get("action")), "d-1", whole, b"{}")


def _jobs(name: str, payload: dict[str, Any]) -> list[tuple[str, str]]:
    routed = route_event(_event(name, payload), CONTEXT, ROUTES)
    return [(job.function, job.job_id) for job in routed.jobs]


ISSUE = {"number": 3, "title": "t", "body": "", "user": {"login": "maint"}}


@pytest.mark.parametrize(
    ("name", "payload", "jobs"),
    [
        (
            "issue_comment",
            {"action": "created", "issue": ISSUE, "comment": {"id": 9, "body": "@ambient do X"}},
            [("task_issue", "task:7:3:9")],
        ),
        (
            "issue_comment",
            {"action": "created", "issue": ISSUE, "comment": {"id": 9, "body": "@ambient help"}},
            [("reply_help", "comment:7:9")],
        ),
        (
            "issue_comment",
            {
                "action": "created",
                "issue": {**ISSUE, "pull_request": {"url": "u"}},
                "comment": {"id": 9, "body": "@ambient fix this"},
            },
            [("fix_pr", "comment:7:9")],
        ),
        (
            "issues",
            {"action": "opened", "issue": {**ISSUE, "body": "@ambient add a flag"}},
            [("task_issue", "task:7:3:body")],
        ),
        ("issues", {"action": "opened", "issue": ISSUE}, []),
        (
            "issues",
            {"action": "assigned", "issue": ISSUE, "assignee": {"login": "ambient[bot]"}},
            [("task_issue", "task:7:3:assigned")],
        ),
        ("issues", {"action": "assigned", "issue": ISSUE, "assignee": {"login": "bob"}}, []),
        (
            "issues",
            {"action": "labeled", "issue": ISSUE, "label": {"name": "ambient"}},
            [("task_issue", "task:7:3:label:ambient")],
        ),
    ],
)
def test_issue_events_make_one_task_job_per_issue_and_trigger(
    name: str, payload: dict[str, Any], jobs: list[tuple[str, str]]
) -> None:
    assert _jobs(name, payload) == jobs


def test_an_issue_assigned_by_a_bot_makes_nothing() -> None:
    event = _event("issues", {"action": "assigned", "issue": ISSUE, "assignee": {"login": "x"}})
    event.payload["sender"] = {"login": "ci[bot]", "type": "Bot"}
    assert route_event(event, CONTEXT, ROUTES).ignored == "sent by a bot (ci[bot])"


def _pull(author: str = "ambient[bot]", ref: str = "ambient/issue-3") -> dict[str, Any]:
    return {"number": 4, "user": {"login": author}, "head": {"ref": ref, "sha": "a" * 40}}


def test_reviews_of_the_apps_own_pull_requests_make_one_follow_up_per_head_and_reviewer() -> None:
    review = {"action": "submitted", "review": {"id": 1, "state": "changes_requested"}}
    comment = {"action": "created", "comment": {"id": 2}}
    job = ("follow_up_review", f"followup:7:4:{'a' * 12}:maint")
    assert _jobs("pull_request_review", {**review, "pull_request": _pull()}) == [job]
    assert _jobs("pull_request_review_comment", {**comment, "pull_request": _pull()}) == [job]
    approved = {"action": "submitted", "review": {"id": 1, "state": "approved"}}
    assert _jobs("pull_request_review", {**approved, "pull_request": _pull()}) == []
    assert _jobs("pull_request_review", {**review, "pull_request": _pull("alice")}) == []
    assert _jobs("pull_request_review", {**review, "pull_request": _pull(ref="main")}) == []


def test_a_plan_is_read_strictly() -> None:
    plan = plan_of('Sure: {"actionable": true, "summary": "Do X", "files": ["a.py"], "bug": true}')
    assert (plan.actionable, plan.summary, plan.files, plan.bug) == (True, "Do X", ("a.py",), True)
    assert "- **Files:** `a.py`" in plan_text(plan)
    vague = plan_of('{"actionable": false, "question": "Which one?"}')
    assert (vague.actionable, vague.question) == (False, "Which one?")
    for text, said in [
        ("nothing", 'no JSON object with "actionable"'),
        ('{"actionable": "yes"}', '"actionable" and "bug" must be true or false'),
        ('{"actionable": false}', 'needs the "question" to ask'),
        ('{"actionable": true}', 'needs a "summary"'),
        ('{"actionable": true, "summary": "x", "files": "a.py"}', '"files" must be a list'),
    ]:
        with pytest.raises(ValueError, match=said):
            plan_of(text)


def test_the_issue_reaches_the_prompt_fenced_as_data() -> None:
    rendered = IssueText(3, "Title", "```\nbreak out\n```", (("bob", "more"),)).render()
    assert "Issue #3, title:" in rendered
    assert "Comment by @bob:" in rendered
    # The body's own fence cannot close the one around it.
    assert "````" in rendered or "~~~" in rendered
