"""What a webhook event is and what it asks for, shared by the receiver, the worker and handlers.

The signed event and the fields routing reads (`event`), the typed payloads a job parses
(`payloads`), routing events to job specs (`routing`), the job spec and its encoding (`spec`),
and the wrapper every job function runs in (`job`).
"""

from __future__ import annotations

from bot.events.event import (
    Event,
    get_bool,
    get_int,
    get_obj,
    get_str,
    parse_event,
    verify_signature,
)
from bot.events.job import MAX_TRIES, JobFunction, JobResult, Received, expect, job
from bot.events.payloads import (
    CheckSuitePayload,
    InstallationPayload,
    IssueCommentPayload,
    IssuesPayload,
    PullRequestReviewCommentPayload,
    PullRequestReviewPayload,
    PushPayload,
    Repository,
    SweepPayload,
    WorkflowRunPayload,
)
from bot.events.routing import Route, RouteContext, Routed, route_event, spec_for
from bot.events.spec import JobSpec, deserialize, serialize

__all__ = [
    "MAX_TRIES",
    "CheckSuitePayload",
    "Event",
    "InstallationPayload",
    "IssueCommentPayload",
    "IssuesPayload",
    "JobFunction",
    "JobResult",
    "JobSpec",
    "PullRequestReviewCommentPayload",
    "PullRequestReviewPayload",
    "PushPayload",
    "Received",
    "Repository",
    "Route",
    "RouteContext",
    "Routed",
    "SweepPayload",
    "WorkflowRunPayload",
    "deserialize",
    "expect",
    "get_bool",
    "get_int",
    "get_obj",
    "get_str",
    "job",
    "parse_event",
    "route_event",
    "serialize",
    "spec_for",
    "verify_signature",
]
