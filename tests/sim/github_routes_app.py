"""Routes the App calls with its JWT: the app, installations, installation tokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.github_auth import Refused, need_app, need_token
from tests.sim.github_context import body_json, page, sim_of
from tests.sim.github_payloads import app_json, installation_json, repo_json
from tests.sim.github_state import Installation, iso

__all__ = ["ROUTES"]

_LEVEL = {"read": 1, "write": 2, "admin": 3}
NOT_IN_INSTALLATION = (
    "There is at least one repository that does not exist or is not accessible to the "
    "parent installation."
)


async def get_app(request: Request) -> Response:
    sim = sim_of(request)
    need_app(request, sim.state, sim.public_key)
    return JSONResponse(app_json(sim.state))


async def list_installations(request: Request) -> Response:
    sim = sim_of(request)
    need_app(request, sim.state, sim.public_key)
    items = [installation_json(sim.state, i) for i in sim.state.installations.values()]
    chunk, headers = page(request, items)
    return JSONResponse(chunk, headers=headers)


async def get_repo_installation(request: Request) -> Response:
    sim = sim_of(request)
    need_app(request, sim.state, sim.public_key)
    owner, name = request.path_params["owner"], request.path_params["repo"]
    repo = sim.state.find_repo(owner, name)
    inst = sim.state.installation_for(owner)
    if repo is None or inst is None or repo.id not in inst.repo_ids:
        raise Refused(404, "Not Found")
    return JSONResponse(installation_json(sim.state, inst))


def _requested_repos(inst: Installation, names: object, ids: object, request: Request) -> set[int]:
    state = sim_of(request).state
    wanted: set[int] = set()
    if isinstance(names, list):
        for name in names:
            repo = state.find_repo(inst.account, str(name))
            if repo is None or repo.id not in inst.repo_ids:
                raise Refused(422, NOT_IN_INSTALLATION)
            wanted.add(repo.id)
    if isinstance(ids, list):
        for rid in ids:
            if not isinstance(rid, int) or rid not in inst.repo_ids:
                raise Refused(422, NOT_IN_INSTALLATION)
            wanted.add(rid)
    return wanted


def _requested_permissions(inst: Installation, requested: object) -> dict[str, str]:
    if requested is None:
        return dict(inst.permissions)
    if not isinstance(requested, dict):
        raise Refused(422, "Invalid request.\n\nFor 'properties/permissions', is not an object.")
    granted: dict[str, str] = {}
    for key, level in requested.items():
        have = inst.permissions.get(key)
        if have is None or _LEVEL.get(have, 0) < _LEVEL.get(str(level), 9):
            raise Refused(422, "The permissions requested are not granted to this installation.")
        granted[key] = str(level)
    # metadata:read comes with every token, asked for or not
    granted.setdefault("metadata", "read")
    return granted


async def create_token(request: Request) -> Response:
    sim = sim_of(request)
    state = sim.state
    need_app(request, state, sim.public_key)
    inst = state.installations.get(int(request.path_params["installation_id"]))
    if inst is None:
        raise Refused(404, "Not Found")
    body = await body_json(request)
    repo_ids = _requested_repos(inst, body.get("repositories"), body.get("repository_ids"), request)
    permissions = _requested_permissions(inst, body.get("permissions"))
    async with state.lock:
        token = state.mint_token(inst, frozenset(repo_ids) if repo_ids else None, permissions)
    data: dict[str, object] = {
        "token": token.value,
        "expires_at": iso(token.expires_at),
        "permissions": token.permissions,
        "repository_selection": token.selection if repo_ids else "selected",
    }
    if repo_ids:
        data["repositories"] = [
            repo_json(state, state.repos[rid], minimal=True) for rid in sorted(repo_ids)
        ]
    return JSONResponse(data, status_code=201)


async def installation_repositories(request: Request) -> Response:
    sim = sim_of(request)
    state = sim.state
    token = need_token(request, state)
    inst = state.installations[token.installation_id]
    repos = [state.repos[rid] for rid in sorted(token.repo_ids) if rid in inst.repo_ids]
    chunk, headers = page(request, [repo_json(state, r, minimal=True) for r in repos])
    return JSONResponse(
        {"total_count": len(repos), "repository_selection": "selected", "repositories": chunk},
        headers=headers,
    )


ROUTES = [
    Route("/app", get_app, methods=["GET"]),
    Route("/app/installations", list_installations, methods=["GET"]),
    Route("/repos/{owner}/{repo}/installation", get_repo_installation, methods=["GET"]),
    Route(
        "/app/installations/{installation_id:int}/access_tokens",
        create_token,
        methods=["POST"],
    ),
    Route("/installation/repositories", installation_repositories, methods=["GET"]),
]
