"""A failed `check_suite` or `workflow_run` on a branch: read the logs, fix, open a PR."""

from __future__ import annotations

import logging
from typing import Final

from bot.deps import Deps
from bot.events import Event, get_int, get_str
from bot.jobs import JobResult, Received, expect, job
from bot.payloads import CheckSuitePayload, WorkflowRunPayload
from bot.routing import RouteContext, Routed, spec_for

__all__ = ["JOBS", "fix_ci", "route"]

log = logging.getLogger("ambient.handlers.ci_failure")

FAILED: Final = frozenset({"failure", "timed_out"})
_SUBJECT: Final = {"check_suite": "check_suite", "workflow_run": "workflow_run"}


def route(event: Event, context: RouteContext) -> Routed | None:
    """One `fix_ci` job per repository and head commit, however many suites fail on it."""
    subject = _SUBJECT.get(event.name)
    if subject is None:
        return None
    if event.action != "completed":
        return Routed.ignore(f"{event.full_name} is not a completion")
    conclusion = get_str(event.payload, subject, "conclusion")
    if conclusion not in FAILED:
        return Routed.ignore(f"{subject} concluded {conclusion}")
    repo_id = get_int(event.payload, "repository", "id")
    head_sha = get_str(event.payload, subject, "head_sha")
    if repo_id is None or not head_sha:
        return Routed.ignore(f"{subject} has no repository or head_sha")
    spec = spec_for(
        event,
        "fix_ci",
        f"ci:{repo_id}:{head_sha}",
        head_sha=head_sha,
        branch=get_str(event.payload, subject, "head_branch") or "",
    )
    return Routed(jobs=(spec,))


async def fix_ci(deps: Deps, received: Received) -> JobResult:
    """Locate the cause of a CI failure and propose a verified fix."""
    payload = received.payload
    if isinstance(payload, CheckSuitePayload):
        head_sha, branch = payload.check_suite.head_sha, payload.check_suite.head_branch
    else:
        run = expect(received, WorkflowRunPayload).workflow_run
        head_sha, branch = run.head_sha, run.head_branch
    log.info("ci failure", extra={"head_sha": head_sha, "branch": branch})
    return {"status": "received", "head_sha": head_sha}


JOBS = (job(fix_ci),)
