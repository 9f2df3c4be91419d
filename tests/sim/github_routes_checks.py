"""Checks and Actions routes: check runs, check suites, workflow runs, jobs and job logs."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.sim.github_auth import Refused
from tests.sim.github_context import Sim, body_json, caller_repo, page
from tests.sim.github_payloads_checks import (
    check_run_json,
    check_suite_json,
    job_json,
    pull_minimal_json,
    workflow_run_json,
)
from tests.sim.github_routes_pulls import pull_facts
from tests.sim.github_state import CheckRun, CheckSuite, Repo, WorkflowRun

__all__ = ["ROUTES", "pulls_for_sha"]

JSON = dict[str, Any]
_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
_CONCLUSIONS = (
    "success",
    "failure",
    "neutral",
    "cancelled",
    "skipped",
    "timed_out",
    "action_required",
)


async def pulls_for_sha(
    sim: Sim, repo: Repo, sha: str, numbers: list[int] | None = None
) -> list[JSON]:
    """pull-request-minimal for open pulls whose head is `sha` (or the listed numbers)."""
    found = []
    for pull in sim.state.issues.values():
        if pull.repo_id != repo.id or not pull.is_pull:
            continue
        wanted = pull.number in numbers if numbers is not None else pull.state == "open"
        if not wanted:
            continue
        facts = await pull_facts(sim, repo, pull, full=False)
        if numbers is not None or facts.head_sha == sha:
            found.append(pull_minimal_json(sim.state, repo, pull, facts.head_sha, facts.base_sha))
    return found


def _time(value: object) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        raise Refused(422, f"Invalid request.\n\n{value!r} is not a timestamp.") from None


def _apply(run: CheckRun, body: JSON) -> None:
    status = body.get("status")
    if status is not None and status not in _STATUSES:
        raise Refused(422, f"Invalid request.\n\nstatus {status!r} is not valid.")
    conclusion = body.get("conclusion")
    if conclusion is not None and conclusion not in _CONCLUSIONS:
        raise Refused(422, f"Invalid request.\n\nconclusion {conclusion!r} is not valid.")
    for key in ("name", "details_url", "external_id"):
        if key in body:
            setattr(run, key, body[key])
    if isinstance(body.get("output"), dict):
        run.output = dict(body["output"])
    if status is not None:
        run.status = status
    if body.get("started_at"):
        run.started_at = _time(body["started_at"])
    if conclusion is not None:
        run.conclusion = conclusion
        run.status = "completed"
        run.completed_at = _time(body.get("completed_at")) or time.time()
    elif run.status == "completed" and run.conclusion is None:
        raise Refused(422, "Invalid request.\n\nconclusion is required when status is completed.")


async def _run_json(sim: Sim, repo: Repo, run: CheckRun) -> JSON:
    return check_run_json(sim.state, repo, run, await pulls_for_sha(sim, repo, run.head_sha))


async def create_check_run(request: Request) -> Response:
    sim, repo = caller_repo(request, "checks", write=True)
    body = await body_json(request)
    head_sha = str(body.get("head_sha", ""))
    if not body.get("name") or await sim.git(repo).object_type(head_sha) != "commit":
        raise Refused(422, f"No commit found for SHA: {head_sha}")
    state = sim.state
    async with state.lock:
        suite = next(
            (
                s
                for s in state.check_suites.values()
                if s.repo_id == repo.id and s.head_sha == head_sha and s.app_owned
            ),
            None,
        )
        if suite is None:
            suite = CheckSuite(
                id=state.next_id(),
                repo_id=repo.id,
                head_sha=head_sha,
                head_branch=None,
                status="queued",
                conclusion=None,
                created_at=time.time(),
                app_owned=True,
            )
            state.check_suites[suite.id] = suite
        run = CheckRun(
            id=state.next_id(),
            repo_id=repo.id,
            suite_id=suite.id,
            head_sha=head_sha,
            name=str(body["name"]),
            status="queued",
            conclusion=None,
            started_at=time.time(),
            completed_at=None,
        )
        _apply(run, body)
        state.check_runs[run.id] = run
        _roll_up(sim, suite)
        sim.write_policy(repo)
    return JSONResponse(await _run_json(sim, repo, run), status_code=201)


def _roll_up(sim: Sim, suite: CheckSuite) -> None:
    runs = [r for r in sim.state.check_runs.values() if r.suite_id == suite.id]
    if runs and all(r.status == "completed" for r in runs):
        suite.status = "completed"
        failed = [r for r in runs if r.conclusion not in ("success", "neutral", "skipped")]
        suite.conclusion = failed[0].conclusion if failed else "success"
    elif runs:
        suite.status = "in_progress"


async def update_check_run(request: Request) -> Response:
    sim, repo = caller_repo(request, "checks", write=True)
    run = sim.state.check_runs.get(int(request.path_params["check_run_id"]))
    if run is None or run.repo_id != repo.id:
        raise Refused(404, "Not Found")
    if not run.app_owned:
        raise Refused(
            403,
            "Invalid app_id `4242` - check run can only be modified by the "
            "GitHub App that created it.",
        )
    async with sim.state.lock:
        _apply(run, await body_json(request))
        _roll_up(sim, sim.state.check_suites[run.suite_id])
        sim.write_policy(repo)
    return JSONResponse(await _run_json(sim, repo, run))


async def _sha_for(sim: Sim, repo: Repo, ref: str) -> str:
    sha = await sim.git(repo).resolve(ref)
    if sha is None:
        raise Refused(422, f"No commit found for SHA: {ref}")
    return sha


async def list_check_runs(request: Request) -> Response:
    sim, repo = caller_repo(request, "checks")
    sha = await _sha_for(sim, repo, request.path_params["ref"])
    name = request.query_params.get("check_name")
    status = request.query_params.get("status")
    runs = [
        r
        for r in sorted(sim.state.check_runs.values(), key=lambda r: -r.id)
        if r.repo_id == repo.id
        and r.head_sha == sha
        and (name is None or r.name == name)
        and (status is None or r.status == status)
    ]
    chunk, headers = page(request, runs)
    return JSONResponse(
        {"total_count": len(runs), "check_runs": [await _run_json(sim, repo, r) for r in chunk]},
        headers=headers,
    )


async def list_check_suites(request: Request) -> Response:
    sim, repo = caller_repo(request, "checks")
    sha = await _sha_for(sim, repo, request.path_params["ref"])
    head = await sim.git(repo).read_commit(sha)
    suites = [
        s for s in sim.state.check_suites.values() if s.repo_id == repo.id and s.head_sha == sha
    ]
    pulls = await pulls_for_sha(sim, repo, sha)
    chunk, headers = page(request, suites)
    return JSONResponse(
        {
            "total_count": len(suites),
            "check_suites": [check_suite_json(sim.state, repo, s, head, pulls) for s in chunk],
        },
        headers=headers,
    )


def _workflow_run(sim: Sim, repo: Repo, run_id: int) -> WorkflowRun:
    run = sim.state.workflow_runs.get(run_id)
    if run is None or run.repo_id != repo.id:
        raise Refused(404, "Not Found")
    return run


async def get_workflow_run(request: Request) -> Response:
    sim, repo = caller_repo(request, "actions")
    run = _workflow_run(sim, repo, int(request.path_params["run_id"]))
    head = await sim.git(repo).read_commit(run.head_sha)
    pulls = await pulls_for_sha(sim, repo, run.head_sha, run.pull_requests or None)
    return JSONResponse(workflow_run_json(sim.state, repo, run, head, pulls))


async def list_jobs(request: Request) -> Response:
    sim, repo = caller_repo(request, "actions")
    run = _workflow_run(sim, repo, int(request.path_params["run_id"]))
    chunk, headers = page(request, run.jobs)
    return JSONResponse(
        {"total_count": len(run.jobs), "jobs": [job_json(sim.state, repo, run, j) for j in chunk]},
        headers=headers,
    )


async def job_logs(request: Request) -> Response:
    sim, repo = caller_repo(request, "actions")
    job_id = int(request.path_params["job_id"])
    for run in sim.state.workflow_runs.values():
        if run.repo_id == repo.id and any(j.id == job_id for j in run.jobs):
            # GitHub answers with a short-lived redirect to blob storage
            return RedirectResponse(f"{sim.state.base_url}/_sim/logs/{job_id}", status_code=302)
    raise Refused(404, "Not Found")


_R = "/repos/{owner}/{repo}"
ROUTES = [
    Route(f"{_R}/check-runs", create_check_run, methods=["POST"]),
    Route(f"{_R}/check-runs/{{check_run_id:int}}", update_check_run, methods=["PATCH"]),
    Route(f"{_R}/commits/{{ref:path}}/check-runs", list_check_runs, methods=["GET"]),
    Route(f"{_R}/commits/{{ref:path}}/check-suites", list_check_suites, methods=["GET"]),
    Route(f"{_R}/actions/runs/{{run_id:int}}", get_workflow_run, methods=["GET"]),
    Route(f"{_R}/actions/runs/{{run_id:int}}/jobs", list_jobs, methods=["GET"]),
    Route(f"{_R}/actions/jobs/{{job_id:int}}/logs", job_logs, methods=["GET"]),
]
