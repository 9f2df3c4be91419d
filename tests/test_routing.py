"""Event → job routing, pure: every recorded payload, the interesting ones exactly."""

from __future__ import annotations

import dataclasses
import json

import orjson
import pytest

from bot.errors import WebhookMalformed
from bot.events.event import Event, parse_event
from bot.events.routing import RouteContext, Routed, route_event
from handlers import ROUTES
from handlers.sweep import DASHBOARD_TITLE
from tests.webhook_corpus import OCTOKIT, Sample, all_samples, selected

CONTEXT = RouteContext(app_slug="ambient")
# GitHub's own description holds this example as YAML text, not JSON: it must be refused.
NOT_JSON = frozenset({"openapi/secret-scanning-alert-location-created-form-encoded.json"})


def _event(sample: Sample, delivery: str = "d-1") -> Event:
    headers = {
        "x-github-event": sample.event,
        "x-github-delivery": delivery,
        "content-type": sample.content_type,
    }
    return parse_event(headers, sample.body)


def _with(sample: Sample, **changes: object) -> Sample:
    payload = orjson.loads(_event(sample).body)
    for dotted, value in changes.items():
        target: dict[str, object] = payload
        *parents, leaf = dotted.split("__")
        for key in parents:
            child = target[key]
            assert isinstance(child, dict)
            target = child
        target[leaf] = value
    return Sample(sample.name + "*", sample.event, json.dumps(payload).encode())


def _route(sample: Sample, context: RouteContext = CONTEXT) -> Routed:
    """Route `sample` as the receiver does, from its routing fields, and check the whole
    payload routes it the same way: the fields a route reads must all be `RoutingFields`."""
    event = _event(sample)
    routed = route_event(event, context, ROUTES)
    whole = dataclasses.replace(event, payload=orjson.loads(event.body))
    assert route_event(whole, context, ROUTES) == routed, "a route reads a field not decoded"
    return routed


@pytest.mark.parametrize(
    "sample", [s for s in all_samples() if s.name not in NOT_JSON], ids=lambda s: s.name
)
def test_every_recorded_payload_from_a_person_routes_alike_from_its_routing_fields(
    sample: Sample,
) -> None:
    # Past the loop protection, so that every route reads what it reads of every payload.
    _route(_with(sample, sender={"login": "octocat", "type": "User"}))


@pytest.mark.parametrize("sample", all_samples(), ids=lambda s: s.name)
def test_every_recorded_payload_routes_or_is_ignored_with_a_reason(sample: Sample) -> None:
    if sample.name in NOT_JSON:
        with pytest.raises(WebhookMalformed, match="not JSON"):
            _route(sample)
        return
    routed = _route(sample)
    assert routed.jobs or routed.ignored


def test_the_corpus_queues_only_what_it_should() -> None:
    samples = [s for s in all_samples() if s.name not in NOT_JSON]
    functions = {job.function for s in samples for job in _route(s).jobs}
    # A label may be the repository's `tasks.label`, which only the job can read from its config.
    assert functions == {"installation_changed", "note_push", "task_issue"}


def test_fix_this_on_a_pr_queues_fix_pr_with_a_job_id_from_the_comment() -> None:
    sample = _with(
        selected("issue_comment.created.on_pr.all-contributors"),
        comment__body="@ambient fix this\nthe import is wrong",
    )
    (job,) = _route(sample).jobs
    assert job.function == "fix_pr"
    assert job.job_id == "comment:164268911:453012966"
    assert job.option("instructions") == "the import is wrong"
    assert job.option("number") == "1"
    assert job.event == "issue_comment.created"


def test_the_2019_capture_still_routes_for_an_app_of_that_name() -> None:
    routed = _route(
        selected("issue_comment.created.on_pr.all-contributors"),
        RouteContext(app_slug="all-contributors"),
    )
    (job,) = routed.jobs
    assert job.function == "reply_help"
    assert "unknown command: please add jakebolam" in job.option("note")


@pytest.mark.parametrize(
    ("body", "function"),
    [("@ambient sweep", "sweep_repo"), ("@ambient help", "reply_help")],
)
def test_sweep_and_help_commands(body: str, function: str) -> None:
    sample = _with(selected("issue_comment.created.on_issue.with-installation"), comment__body=body)
    (job,) = _route(sample).jobs
    assert job.function == function
    assert job.installation_id is not None


def test_fix_on_a_plain_issue_becomes_a_task() -> None:
    sample = _with(selected("issue_comment.created.on_issue"), comment__body="@ambient fix this")
    (job,) = _route(sample).jobs
    assert job.function == "task_issue"
    assert job.option("trigger") == "comment"


def test_comments_by_bots_and_by_the_app_itself_are_ignored() -> None:
    base = selected("issue_comment.created.on_pr.all-contributors")
    by_app = _with(base, comment__body="@ambient fix this", sender__login="ambient[bot]")
    by_bot = _with(base, comment__body="@ambient fix this", sender__type="Bot")
    assert _route(by_app).ignored == "sent by this app"
    assert (_route(by_bot).ignored or "").startswith("sent by a bot")


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("check_suite.completed.success.with-pr", "check_suite"),
        ("check_suite.completed.success.no-pr", "check_suite"),
        ("workflow_run.completed", "workflow_run"),
        ("workflow_run.completed.with-pull-requests", "workflow_run"),
    ],
)
def test_failed_suites_and_runs_queue_one_fix_ci_per_head_sha(name: str, subject: str) -> None:
    success = selected(name)
    assert not _route(success).jobs
    for conclusion in ("failure", "timed_out"):
        (job,) = _route(_with(success, **{f"{subject}__conclusion": conclusion})).jobs
        payload = success.payload
        repo = payload["repository"]
        run = payload[subject]
        assert isinstance(repo, dict)
        assert isinstance(run, dict)
        assert job.function == "fix_ci"
        assert job.job_id == f"ci:{repo['id']}:{run['head_sha']}"


def test_several_failing_suites_of_one_commit_share_one_job_id() -> None:
    base = selected("check_suite.completed.success.with-pr")
    ids = {
        _route(_with(base, check_suite__conclusion="failure", check_suite__id=n)).jobs[0].job_id
        for n in (1, 2, 3)
    }
    assert len(ids) == 1


def test_a_failing_head_ambient_committed_is_marked_so_by_its_message_or_branch() -> None:
    base = selected("check_suite.completed.success.with-pr")
    failing = _with(base, check_suite__conclusion="failure")
    trailer = "Fix the build\n\nProposed-by: ambient (ruff)"
    by_message = _with(failing, check_suite__head_commit__message=trailer)
    by_branch = _with(failing, check_suite__head_branch="ambient/ruff-1")
    assert _route(failing).jobs[0].option("ambient_head") == ""
    assert _route(by_message).jobs[0].option("ambient_head") == "yes"
    assert _route(by_branch).jobs[0].option("ambient_head") == "yes"


def test_push_to_the_default_branch_only() -> None:
    (job,) = _route(selected("push.new-branch")).jobs
    assert job.function == "note_push"
    assert _route(selected("push")).ignored == "push is not to the default branch"
    deleting = _with(selected("push.new-branch"), deleted=True)
    assert _route(deleting).ignored == "push deletes the branch"
    other = _with(selected("push.new-branch"), ref="refs/heads/feature")
    assert _route(other).ignored == "push is not to the default branch"


def test_ticking_the_dashboard_queues_one_job_per_edited_state() -> None:
    base = Sample("issues.edited", "issues", _example("issues/edited.payload.json"))
    dashboard = _with(
        base,
        issue__title=DASHBOARD_TITLE,
        issue__user={"login": "ambient[bot]", "id": 1, "type": "Bot"},
        issue__body="- [x] refactor: split module",
    )
    (job,) = _route(dashboard).jobs
    assert job.function == "dashboard_edited"
    again = _route(dashboard).jobs[0]
    assert again.job_id == job.job_id
    other = _with(dashboard, issue__body="- [x] refactor: split module\n- [x] tests")
    assert _route(other).jobs[0].job_id != job.job_id
    assert _route(base).ignored == "edited issue is not the quality dashboard"


def _example(relative: str) -> bytes:
    return (OCTOKIT / relative).read_bytes()


def test_installation_events_route_even_though_githubkit_rejects_them() -> None:
    (job,) = _route(selected("installation.created")).jobs
    assert job.function == "installation_changed"
    assert job.installation_id == 957387


def test_a_blank_line_after_the_fix_command_is_kept_in_the_instructions() -> None:
    from handlers.commands import parse_command

    spaced = parse_command("@ambient fix the import\n\n[x]: # (hidden)\nthen more", "ambient")
    tight = parse_command("@ambient fix the import\nnext line", "ambient")
    assert spaced is not None
    assert tight is not None
    assert spaced.instructions == "the import\n\n[x]: # (hidden)\nthen more"
    assert tight.instructions == "the import\nnext line"
