"""Git refs: read, list, create, move and delete branches, guarded by protection and rules."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.github_auth import Refused
from tests.sim.github_context import Sim, body_json
from tests.sim.github_git import Git
from tests.sim.github_payloads import node_id
from tests.sim.github_routes_git import api_url, repo_for, valid_sha
from tests.sim.github_rules import RefUpdate, check_update
from tests.sim.github_state import Repo

__all__ = ["ROUTES", "ref_json"]

JSON = dict[str, Any]


def ref_json(sim: Sim, repo: Repo, ref: str, sha: str, kind: str = "commit") -> JSON:
    api = api_url(sim, repo)
    return {
        "ref": ref,
        "node_id": node_id("REF", abs(hash((repo.id, ref))) % (1 << 40)),
        "url": f"{api}/git/{ref}",
        "object": {"type": kind, "sha": sha, "url": f"{api}/git/{kind}s/{sha}"},
    }


async def get_ref(request: Request) -> Response:
    sim, repo, git = repo_for(request)
    ref = "refs/" + request.path_params["ref"].strip("/")
    refs = await git.list_refs(ref)
    match = next((sha for name, sha in refs if name == ref), None)
    if match is None:
        raise Refused(404, "Not Found")
    return JSONResponse(ref_json(sim, repo, ref, match))


async def matching_refs(request: Request) -> Response:
    sim, repo, git = repo_for(request)
    prefix = "refs/" + request.path_params["ref"].strip("/")
    refs = [(n, s) for n, s in await git.list_refs("refs/") if n.startswith(prefix)]
    return JSONResponse(
        [ref_json(sim, repo, n, s) for n, s in refs if not n.startswith("refs/sim/")]
    )


async def _ref_update(
    sim: Sim, repo: Repo, git: Git, branch: str, old: str | None, new: str | None
) -> RefUpdate:
    fast_forward = old is None or new is None or await git.is_ancestor(old, new)
    span: list[str] = []
    if new is not None:
        span = [new, "--not", "--branches"] if old is None else [f"{old}..{new}"]
    commits = await git.rev_list(*span) if span else []
    merges = await git.rev_list("--min-parents=2", *span) if span else []
    passed = {
        run.name
        for run in sim.state.check_runs.values()
        if run.repo_id == repo.id
        and run.head_sha == new
        and run.conclusion in ("success", "neutral", "skipped")
    }
    return RefUpdate(
        branch,
        old,
        new,
        fast_forward,
        unverified=any(c not in sim.state.verified for c in commits),
        merge_commits=bool(merges),
        passed_checks=frozenset(passed),
    )


async def _guard(
    sim: Sim,
    repo: Repo,
    git: Git,
    ref: str,
    old: str | None,
    new: str | None,
    *,
    creating: bool = False,
) -> None:
    if not ref.startswith("refs/heads/"):
        return
    branch = ref.removeprefix("refs/heads/")
    protection = None if creating else repo.protection.get(branch)
    rules = repo.rules.get(branch, [])
    if protection is None and not rules:
        return
    violations = check_update(
        protection, rules, await _ref_update(sim, repo, git, branch, old, new)
    )
    if violations:
        raise Refused(422, violations.api_message())


async def create_ref(request: Request) -> Response:
    sim, repo, git = repo_for(request, write=True)
    body = await body_json(request)
    ref = str(body.get("ref", ""))
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise Refused(422, "Reference name must start with 'refs/' and have at least two slashes.")
    sha = valid_sha(body.get("sha"), "sha")
    if await git.object_type(sha) is None:
        raise Refused(422, "Object does not exist")
    async with sim.state.lock:
        if await git.ref_sha(ref) is not None:
            raise Refused(422, "Reference already exists")
        await _guard(sim, repo, git, ref, None, sha, creating=True)
        await git.update_ref(ref, sha, "0" * 40)
    return JSONResponse(ref_json(sim, repo, ref, sha), status_code=201)


async def update_ref(request: Request) -> Response:
    sim, repo, git = repo_for(request, write=True)
    ref = "refs/" + request.path_params["ref"].strip("/")
    body = await body_json(request)
    sha = valid_sha(body.get("sha"), "sha")
    async with sim.state.lock:
        old = await git.ref_sha(ref)
        if old is None:
            raise Refused(422, "Reference does not exist")
        if await git.object_type(sha) != "commit":
            raise Refused(422, "Object does not exist")
        if not body.get("force") and not await git.is_ancestor(old, sha):
            raise Refused(422, "Update is not a fast forward")
        await _guard(sim, repo, git, ref, old, sha)
        await git.update_ref(ref, sha, old)
    return JSONResponse(ref_json(sim, repo, ref, sha))


async def delete_ref(request: Request) -> Response:
    sim, repo, git = repo_for(request, write=True)
    ref = "refs/" + request.path_params["ref"].strip("/")
    async with sim.state.lock:
        old = await git.ref_sha(ref)
        if old is None:
            raise Refused(422, "Reference does not exist")
        await _guard(sim, repo, git, ref, old, None)
        await git.delete_ref(ref)
        # GitHub closes the open pull requests whose head branch is deleted.
        for pull in sim.state.issues.values():
            same = pull.head_repo_id in (None, repo.id) and f"refs/heads/{pull.head_ref}" == ref
            if pull.repo_id == repo.id and pull.is_pull and pull.state == "open" and same:
                await git.update_ref(f"refs/pull/{pull.number}/head", old)
                pull.state, pull.closed_at = "closed", time.time()
    return Response(status_code=204)


_G = "/repos/{owner}/{repo}/git"
ROUTES = [
    Route(f"{_G}/ref/{{ref:path}}", get_ref, methods=["GET"]),
    Route(f"{_G}/matching-refs/{{ref:path}}", matching_refs, methods=["GET"]),
    Route(f"{_G}/refs", create_ref, methods=["POST"]),
    Route(f"{_G}/refs/{{ref:path}}", update_ref, methods=["PATCH"]),
    Route(f"{_G}/refs/{{ref:path}}", delete_ref, methods=["DELETE"]),
]
