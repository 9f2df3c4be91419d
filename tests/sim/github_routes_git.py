"""The Git Data API: blobs, trees and commits, written as real objects into the bare repo."""

from __future__ import annotations

import base64
import binascii
import time
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.github_auth import Refused, need_repo
from tests.sim.github_context import Sim, body_json, sim_of
from tests.sim.github_git import Git, Person, TreeEdit
from tests.sim.github_payloads import git_commit_json, node_id
from tests.sim.github_state import Repo

__all__ = ["ROUTES", "api_url", "repo_for", "valid_sha"]

JSON = dict[str, Any]
_MODES = {
    "100644": "blob",
    "100755": "blob",
    "120000": "blob",
    "040000": "tree",
    "160000": "commit",
}


def repo_for(request: Request, write: bool = False) -> tuple[Sim, Repo, Git]:
    sim = sim_of(request)
    repo, _ = need_repo(
        request,
        sim.state,
        request.path_params["owner"],
        request.path_params["repo"],
        "contents",
        "write" if write else "read",
    )
    return sim, repo, sim.git(repo)


def api_url(sim: Sim, repo: Repo) -> str:
    return f"{sim.state.base_url}/repos/{repo.full_name}"


def valid_sha(value: object, what: str) -> str:
    text = str(value or "")
    if len(text) != 40 or any(c not in "0123456789abcdef" for c in text):
        raise Refused(422, f"Invalid request.\n\n{what} is not a valid SHA.")
    return text


async def create_blob(request: Request) -> Response:
    sim, repo, git = repo_for(request, write=True)
    body = await body_json(request)
    content = body.get("content")
    if not isinstance(content, str):
        raise Refused(422, 'Invalid request.\n\n"content" wasn\'t supplied.')
    if body.get("encoding", "utf-8") == "base64":
        try:
            data = base64.b64decode(content)
        except binascii.Error:
            raise Refused(422, "Invalid request.\n\ncontent is not valid Base64.") from None
    else:
        data = content.encode()
    sha = await git.hash_object(data)
    return JSONResponse(
        {"url": f"{api_url(sim, repo)}/git/blobs/{sha}", "sha": sha}, status_code=201
    )


async def get_blob(request: Request) -> Response:
    sim, repo, git = repo_for(request)
    sha = request.path_params["file_sha"]
    if await git.object_type(sha) != "blob":
        raise Refused(404, "Not Found")
    data = await git.read_blob(sha)
    return JSONResponse(
        {
            "sha": sha,
            "node_id": node_id("B", int(sha[:12], 16)),
            "size": len(data),
            "url": f"{api_url(sim, repo)}/git/blobs/{sha}",
            "content": base64.encodebytes(data).decode(),
            "encoding": "base64",
        }
    )


async def _tree_json(sim: Sim, repo: Repo, git: Git, tree: str, recursive: bool) -> JSON:
    api = api_url(sim, repo)
    entries = []
    for e in await git.ls_tree(tree, recursive=recursive):
        item: JSON = {"path": e.path, "mode": e.mode, "type": e.type, "sha": e.sha}
        if e.type == "blob":
            item["size"] = e.size
            item["url"] = f"{api}/git/blobs/{e.sha}"
        elif e.type == "tree":
            item["url"] = f"{api}/git/trees/{e.sha}"
        entries.append(item)
    return {"sha": tree, "url": f"{api}/git/trees/{tree}", "tree": entries, "truncated": False}


async def _edit(git: Git, entry: object) -> TreeEdit:
    if not isinstance(entry, dict) or not entry.get("path"):
        raise Refused(422, "Invalid request.\n\nFor 'items', nil is not an object.")
    path = str(entry["path"]).strip("/")
    mode = str(entry.get("mode", "100644"))
    if mode not in _MODES:
        raise Refused(422, f"Invalid request.\n\nFor 'properties/mode', \"{mode}\" is not valid.")
    if "content" in entry and entry.get("sha") is not None:
        raise Refused(422, "Invalid request.\n\nOnly one of content or sha may be given.")
    if "content" in entry:
        return TreeEdit(path, mode, await git.hash_object(str(entry["content"]).encode()))
    if "sha" not in entry:
        raise Refused(422, "Invalid request.\n\nMust supply either tree.sha or tree.content.")
    if entry["sha"] is None:
        return TreeEdit(path, mode, None)
    sha = valid_sha(entry["sha"], "tree.sha")
    if mode != "160000" and await git.object_type(sha) != _MODES[mode]:
        raise Refused(422, f"tree.sha {sha} is not a valid {_MODES[mode]}")
    return TreeEdit(path, mode, sha)


async def create_tree(request: Request) -> Response:
    sim, repo, git = repo_for(request, write=True)
    body = await body_json(request)
    base_tree = body.get("base_tree")
    if base_tree is not None:
        base_tree = valid_sha(base_tree, "base_tree")
        if await git.object_type(base_tree) not in ("tree", "commit"):
            raise Refused(422, "Invalid request.\n\nbase_tree is not a valid tree oid.")
    items = body.get("tree")
    if not isinstance(items, list):
        raise Refused(422, 'Invalid request.\n\n"tree" wasn\'t supplied.')
    edits = [await _edit(git, entry) for entry in items]
    tree = await git.edit_tree(base_tree, edits)
    return JSONResponse(await _tree_json(sim, repo, git, tree, recursive=False), status_code=201)


async def get_tree(request: Request) -> Response:
    sim, repo, git = repo_for(request)
    wanted = request.path_params["tree_sha"]
    kind = await git.object_type(wanted) if not wanted.startswith("-") else None
    if kind == "tree":
        tree = wanted
    else:
        commit = await git.resolve(wanted)
        if commit is None:
            raise Refused(404, "Not Found")
        tree = (await git.read_commit(commit)).tree
    recursive = request.query_params.get("recursive") not in (None, "", "0", "false")
    return JSONResponse(await _tree_json(sim, repo, git, tree, recursive))


def _person(raw: object, default: Person) -> Person:
    if not isinstance(raw, dict):
        return default
    date = default.date
    if raw.get("date"):
        try:
            date = int(datetime.fromisoformat(str(raw["date"])).timestamp())
        except ValueError:
            raise Refused(422, f"Invalid request.\n\n{raw['date']!r} is not a date.") from None
    return Person(str(raw.get("name", default.name)), str(raw.get("email", default.email)), date)


async def create_commit(request: Request) -> Response:
    sim, repo, git = repo_for(request, write=True)
    state = sim.state
    body = await body_json(request)
    tree = valid_sha(body.get("tree"), "tree")
    if await git.object_type(tree) != "tree":
        raise Refused(422, "Tree SHA does not exist")
    parents = [valid_sha(p, "parents") for p in body.get("parents") or []]
    for parent in parents:
        if await git.object_type(parent) != "commit":
            raise Refused(422, "Parent SHA does not exist or is not a commit object")
    now = int(time.time())
    bot = state.user(state.bot_login)
    app_author = Person(bot.login, f"{bot.id}+{bot.login}@users.noreply.github.com", now)
    custom = isinstance(body.get("author"), dict) or isinstance(body.get("committer"), dict)
    author = _person(body.get("author"), app_author)
    # API commits are committed by GitHub itself, which signs them (web-flow)
    web_flow = Person("GitHub", "noreply@github.com", now)
    committer = _person(body.get("committer"), author if custom else web_flow)
    message = str(body.get("message", ""))
    if not message:
        raise Refused(422, 'Invalid request.\n\n"message" wasn\'t supplied.')
    sha = await git.commit_tree(tree, parents, message, author, committer)
    async with state.lock:
        if not custom and not body.get("signature"):
            state.verified.add(sha)
        sim.write_policy(repo)
    info = await git.read_commit(sha)
    return JSONResponse(git_commit_json(state, repo, info), status_code=201)


async def get_commit(request: Request) -> Response:
    sim, repo, git = repo_for(request)
    sha = request.path_params["commit_sha"]
    if await git.object_type(sha) != "commit":
        raise Refused(404, "Not Found")
    return JSONResponse(git_commit_json(sim.state, repo, await git.read_commit(sha)))


_G = "/repos/{owner}/{repo}/git"
ROUTES = [
    Route(f"{_G}/blobs", create_blob, methods=["POST"]),
    Route(f"{_G}/blobs/{{file_sha}}", get_blob, methods=["GET"]),
    Route(f"{_G}/trees", create_tree, methods=["POST"]),
    Route(f"{_G}/trees/{{tree_sha:path}}", get_tree, methods=["GET"]),
    Route(f"{_G}/commits", create_commit, methods=["POST"]),
    Route(f"{_G}/commits/{{commit_sha}}", get_commit, methods=["GET"]),
]
