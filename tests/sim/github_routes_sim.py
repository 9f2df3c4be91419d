"""Test controls under /_sim/: not GitHub's API, but how tests act as users and as GitHub."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.github_auth import Refused
from tests.sim.github_context import body_json, sim_of
from tests.sim.github_ops import (
    add_workflow_run,
    create_repo,
    fork_repo,
    open_pull,
    read_dir,
    user_commit,
)
from tests.sim.github_state import PERMISSION_LEVELS, Fault, Issue, Repo

__all__ = ["ROUTES", "decode_files", "repo_of"]


def decode_files(raw: object) -> dict[str, bytes | None]:
    """Files sent by the control client: str as UTF-8, {"b64": …} as bytes, None deletes."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Refused(400, "files must be an object of path -> content")
    files: dict[str, bytes | None] = {}
    for path, value in raw.items():
        if value is None:
            files[str(path)] = None
        elif isinstance(value, dict) and "b64" in value:
            files[str(path)] = base64.b64decode(value["b64"])
        else:
            files[str(path)] = str(value).encode()
    return files


def repo_of(request: Request) -> Repo:
    repo = sim_of(request).state.find_repo(
        request.path_params["owner"], request.path_params["repo"]
    )
    if repo is None:
        raise Refused(404, "Not Found")
    return repo


def _repo_out(request: Request, repo: Repo) -> dict[str, Any]:
    inst = sim_of(request).state.installation_for(repo.owner)
    installed = inst is not None and repo.id in inst.repo_ids
    return {
        "owner": repo.owner,
        "name": repo.name,
        "id": repo.id,
        "full_name": repo.full_name,
        "installation_id": inst.id if installed and inst is not None else None,
    }


async def app_info(request: Request) -> Response:
    sim = sim_of(request)
    return JSONResponse(
        {
            "id": sim.state.app_id,
            "slug": sim.state.app_slug,
            "private_key_pem": sim.private_key_pem,
            "webhook_secret": sim.state.webhook_secret,
            "api_url": sim.state.base_url,
        }
    )


async def post_repo(request: Request) -> Response:
    sim = sim_of(request)
    body = await body_json(request)
    files = decode_files(body.get("files"))
    executable = set(body.get("executable") or [])
    if body.get("source_dir"):
        found, found_exec = read_dir(Path(body["source_dir"]))
        files = {**found, **files}
        executable |= found_exec
    async with sim.state.lock:
        repo = await create_repo(
            sim,
            body["owner"],
            body["name"],
            files or {"README.md": b"# test\n"},
            default_branch=body.get("default_branch", "main"),
            private=bool(body.get("private", False)),
            executable=executable,
            install=bool(body.get("install", True)),
        )
    return JSONResponse(_repo_out(request, repo), status_code=201)


async def post_commit(request: Request) -> Response:
    sim = sim_of(request)
    repo = repo_of(request)
    body = await body_json(request)
    async with sim.state.lock:
        sha = await user_commit(
            sim,
            repo,
            body["branch"],
            decode_files(body.get("files")),
            body.get("message", "Update files"),
            body.get("author_login", "octocat"),
            set(body.get("executable") or []),
        )
    return JSONResponse({"sha": sha}, status_code=201)


async def post_fork(request: Request) -> Response:
    sim = sim_of(request)
    body = await body_json(request)
    async with sim.state.lock:
        fork = await fork_repo(sim, repo_of(request), body["new_owner"])
    return JSONResponse(_repo_out(request, fork), status_code=201)


async def install(request: Request) -> Response:
    sim = sim_of(request)
    repo = repo_of(request)
    if request.method == "DELETE":
        inst = sim.state.installation_for(repo.owner)
        if inst is not None:
            inst.repo_ids.discard(repo.id)
    else:
        sim.state.install(repo)
    return JSONResponse(_repo_out(request, repo))


async def post_pull(request: Request) -> Response:
    sim = sim_of(request)
    body = await body_json(request)
    async with sim.state.lock:
        pull = await open_pull(
            sim,
            repo_of(request),
            body["head"],
            body["base"],
            body.get("title", "Change"),
            body.get("body", ""),
            body.get("user", "octocat"),
            body.get("head_owner"),
        )
    return JSONResponse({"number": pull.number}, status_code=201)


async def put_permission(request: Request) -> Response:
    repo = repo_of(request)
    body = await body_json(request)
    permission = body.get("permission", "")
    if permission not in PERMISSION_LEVELS:
        raise Refused(422, f"unknown permission {permission!r}")
    sim_of(request).state.user(request.path_params["user"])
    repo.collaborators[request.path_params["user"]] = permission
    return JSONResponse({"permission": permission})


async def put_protection(request: Request) -> Response:
    sim = sim_of(request)
    repo = repo_of(request)
    branch = request.path_params["branch"]
    if request.method == "DELETE":
        repo.protection.pop(branch, None)
    else:
        repo.protection[branch] = await body_json(request)
    sim.write_policy(repo)
    return JSONResponse(repo.protection.get(branch) or {})


async def put_rules(request: Request) -> Response:
    sim = sim_of(request)
    repo = repo_of(request)
    body = await body_json(request)
    rules = body.get("rules") or []
    if not all(isinstance(r, dict) and "type" in r for r in rules):
        raise Refused(422, "each rule needs a type")
    repo.rules[request.path_params["branch"]] = rules
    sim.write_policy(repo)
    return JSONResponse(rules)


async def post_workflow_run(request: Request) -> Response:
    sim = sim_of(request)
    repo = repo_of(request)
    body = await body_json(request)
    async with sim.state.lock:
        run = await add_workflow_run(
            sim,
            repo,
            body["head_sha"],
            body.get("head_branch"),
            body.get("conclusion"),
            list(body.get("jobs") or []),
            body.get("event", "push"),
            [int(n) for n in body.get("pull_requests") or []],
        )
    return JSONResponse({"run_id": run.id, "check_suite_id": run.suite_id}, status_code=201)


async def faults(request: Request) -> Response:
    state = sim_of(request).state
    if request.method == "DELETE":
        state.faults.clear()
        return JSONResponse([])
    body = await body_json(request)
    state.faults.append(
        Fault(
            method=str(body.get("method", "*")).upper(),
            path=re.compile(str(body["path_regex"])),
            status=int(body.get("status", 500)),
            times=int(body.get("times", 1)),
            retry_after=body.get("retry_after"),
            delay_s=float(body.get("delay_s", 0.0)),
            body=body.get("body"),
            headers={str(k): str(v) for k, v in (body.get("headers") or {}).items()},
        )
    )
    return JSONResponse({"pending": len(state.faults)}, status_code=201)


async def post_token(request: Request) -> Response:
    sim = sim_of(request)
    repo = repo_of(request)
    body = await body_json(request)
    inst = sim.state.installation_for(repo.owner)
    if inst is None or repo.id not in inst.repo_ids:
        raise Refused(422, f"{repo.full_name} is not in the App's installation")
    permissions = body.get("permissions") or dict(inst.permissions)
    permissions.setdefault("metadata", "read")
    token = sim.state.mint_token(inst, frozenset({repo.id}), permissions)
    return JSONResponse({"token": token.value}, status_code=201)


async def post_issue(request: Request) -> Response:
    sim = sim_of(request)
    repo = repo_of(request)
    body = await body_json(request)
    now = time.time()
    user = str(body.get("user", "octocat"))
    sim.state.user(user)
    async with sim.state.lock:
        issue = Issue(
            repo_id=repo.id,
            number=sim.state.next_issue_number(repo.id),
            id=sim.state.next_id(),
            title=str(body.get("title", "Issue")),
            body=body.get("body"),
            user=user,
            created_at=now,
            updated_at=now,
        )
        sim.state.issues[(repo.id, issue.number)] = issue
    return JSONResponse({"number": issue.number}, status_code=201)


async def app_permissions(request: Request) -> Response:
    state = sim_of(request).state
    body = await body_json(request)
    state.app_permissions = {str(k): str(v) for k, v in body.items()}
    for inst in state.installations.values():
        inst.permissions = dict(state.app_permissions)
    return JSONResponse(state.app_permissions)


_R = "/_sim/repos/{owner}/{repo}"
ROUTES = [
    Route("/_sim/app", app_info, methods=["GET"]),
    Route("/_sim/app/permissions", app_permissions, methods=["PUT"]),
    Route("/_sim/repos", post_repo, methods=["POST"]),
    Route(f"{_R}/commits", post_commit, methods=["POST"]),
    Route(f"{_R}/forks", post_fork, methods=["POST"]),
    Route(f"{_R}/installation", install, methods=["PUT", "DELETE"]),
    Route(f"{_R}/pulls", post_pull, methods=["POST"]),
    Route(f"{_R}/collaborators/{{user}}", put_permission, methods=["PUT"]),
    Route(f"{_R}/protection/{{branch:path}}", put_protection, methods=["PUT", "DELETE"]),
    Route(f"{_R}/rules/{{branch:path}}", put_rules, methods=["PUT"]),
    Route(f"{_R}/workflow-runs", post_workflow_run, methods=["POST"]),
    Route(f"{_R}/tokens", post_token, methods=["POST"]),
    Route(f"{_R}/issues", post_issue, methods=["POST"]),
    Route("/_sim/faults", faults, methods=["POST", "DELETE"]),
]
