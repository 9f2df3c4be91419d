"""Read-only test controls: the request log, job logs, raw files, and a repo's state."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.sim.github_context import sim_of
from tests.sim.github_routes_sim import repo_of

__all__ = ["ROUTES"]


async def requests_log(request: Request) -> Response:
    state = sim_of(request).state
    if request.method == "DELETE":
        state.requests.clear()
    return JSONResponse(state.requests)


async def job_log(request: Request) -> Response:
    state = sim_of(request).state
    job_id = int(request.path_params["job_id"])
    for run in state.workflow_runs.values():
        for job in run.jobs:
            if job.id == job_id:
                return PlainTextResponse(job.log)
    return PlainTextResponse("Not Found", status_code=404)


async def raw_file(request: Request) -> Response:
    sim = sim_of(request)
    repo = repo_of(request)
    git = sim.git(repo)
    sha = await git.resolve(request.path_params["ref"])
    if sha is None:
        return PlainTextResponse("404: Not Found", status_code=404)
    out = await git.run(
        "cat-file", "blob", f"{sha}:{request.path_params['path']}", ok_codes=(0, 128)
    )
    if not out and await git.object_type(f"{sha}:{request.path_params['path']}") is None:
        return PlainTextResponse("404: Not Found", status_code=404)
    return Response(out, media_type="application/octet-stream")


async def repo_state(request: Request) -> Response:
    """A plain summary of one repository for test assertions."""
    sim = sim_of(request)
    repo = repo_of(request)
    state = sim.state
    refs = await sim.git(repo).list_refs("refs/heads/")
    issues = sorted(
        (i for i in state.issues.values() if i.repo_id == repo.id), key=lambda i: i.number
    )
    return JSONResponse(
        {
            "default_branch": repo.default_branch,
            "branches": {name.removeprefix("refs/heads/"): sha for name, sha in refs},
            "pulls": [
                {
                    "number": i.number,
                    "title": i.title,
                    "body": i.body,
                    "state": i.state,
                    "user": i.user,
                    "head": i.head_ref,
                    "base": i.base_ref,
                    "labels": i.labels,
                    "head_owner": state.repos[i.head_repo_id or repo.id].owner,
                    "draft": i.draft,
                    "requested_reviewers": i.requested_reviewers,
                    "requested_teams": i.requested_teams,
                }
                for i in issues
                if i.is_pull
            ],
            "issues": [
                {
                    "number": i.number,
                    "title": i.title,
                    "body": i.body,
                    "state": i.state,
                    "user": i.user,
                    "labels": i.labels,
                    "reactions": _counts(i.reactions),
                }
                for i in issues
                if not i.is_pull
            ],
            "comments": [
                {
                    "id": c.id,
                    "issue_number": c.issue_number,
                    "body": c.body,
                    "user": c.user,
                    "reactions": _counts(c.reactions),
                }
                for c in sorted(state.comments.values(), key=lambda c: c.id)
                if c.repo_id == repo.id
            ],
            "check_runs": [
                {
                    "id": r.id,
                    "name": r.name,
                    "head_sha": r.head_sha,
                    "status": r.status,
                    "conclusion": r.conclusion,
                    "output": r.output,
                    "app_owned": r.app_owned,
                }
                for r in sorted(state.check_runs.values(), key=lambda r: r.id)
                if r.repo_id == repo.id
            ],
            "verified": sorted(state.verified),
            "review_comments": [
                {
                    "id": c.id,
                    "pull_number": c.pull_number,
                    "body": c.body,
                    "user": c.user,
                    "in_reply_to": c.in_reply_to,
                }
                for c in sorted(state.review_comments.values(), key=lambda c: c.id)
                if c.repo_id == repo.id
            ],
        }
    )


def _counts(reactions: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in reactions.items() if not k.startswith("by:")}


ROUTES = [
    Route("/_sim/requests", requests_log, methods=["GET", "DELETE"]),
    Route("/_sim/logs/{job_id:int}", job_log, methods=["GET"]),
    Route("/_sim/raw/{owner}/{repo}/{ref}/{path:path}", raw_file, methods=["GET"]),
    Route("/_sim/repos/{owner}/{repo}/state", repo_state, methods=["GET"]),
]
