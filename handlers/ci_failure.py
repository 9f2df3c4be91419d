"""A failed `check_suite` or `workflow_run` on a branch: read the logs, fix, open a PR."""

from __future__ import annotations

import logging
from typing import Final

from bot.deps import Deps
from bot.errors import WebhookMalformed
from bot.events import (
    CheckSuitePayload,
    Event,
    JobResult,
    Received,
    RouteContext,
    Routed,
    WorkflowRunPayload,
    expect,
    get_int,
    get_str,
    job,
    spec_for,
)
from bot.flows import CiRequest, fix_ci_failure, made_by_ambient, report_ci_unfinished

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
    branch = get_str(event.payload, subject, "head_branch") or ""
    message = get_str(event.payload, subject, "head_commit", "message") or ""
    spec = spec_for(
        event,
        "fix_ci",
        f"ci:{repo_id}:{head_sha}",
        head_sha=head_sha,
        branch=branch,
        # Only the verdict travels: the commit message itself may be long.
        ambient_head="yes" if made_by_ambient(branch, message) else "",
    )
    return Routed(jobs=(spec,))


def _ci_request(received: Received) -> CiRequest:
    payload = received.payload
    if isinstance(payload, CheckSuitePayload):
        head_sha, branch = payload.check_suite.head_sha, payload.check_suite.head_branch
    else:
        run = expect(received, WorkflowRunPayload).workflow_run
        head_sha, branch = run.head_sha, run.head_branch
    repository = payload.repository
    installation = received.spec.installation_id or (
        payload.installation.id if payload.installation else None
    )
    if repository is None or installation is None:
        raise WebhookMalformed(f"{received.spec.event} without a repository or an installation")
    return CiRequest(
        job_id=received.spec.job_id,
        installation_id=installation,
        owner=repository.owner.login,
        repo=repository.name,
        repo_id=repository.id,
        head_sha=head_sha,
        branch=branch or "",
        ambient_head=received.spec.option("ambient_head") == "yes",
    )


async def fix_ci(deps: Deps, received: Received) -> JobResult:
    """Locate the cause of a CI failure and propose a verified fix (see `bot.flows.ci`)."""
    request = _ci_request(received)
    log.info("ci failure", extra={"head_sha": request.head_sha, "branch": request.branch})
    return await fix_ci_failure(deps, request)


async def fix_ci_unfinished(deps: Deps, received: Received, why: str) -> None:
    """Report a CI fix job that ended without its own report (see `bot.events.job.job`)."""
    await report_ci_unfinished(deps, _ci_request(received), why)


JOBS = (job(fix_ci, unfinished=fix_ci_unfinished),)
