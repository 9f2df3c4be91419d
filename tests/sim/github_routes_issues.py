"""Issue routes: issues, comments, labels and reactions (pull requests are issues too)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.github_auth import NOT_ACCESSIBLE, Refused, allows, need_repo
from tests.sim.github_context import Sim, body_json, page, sim_of, since
from tests.sim.github_payloads import node_id, user_json
from tests.sim.github_payloads_issues import REACTIONS, comment_json, issue_json, label_json
from tests.sim.github_state import Comment, Issue, Repo, Token, iso

__all__ = ["ROUTES"]


def _caller(request: Request) -> tuple[Sim, Repo, Token]:
    sim = sim_of(request)
    repo, token = need_repo(
        request, sim.state, request.path_params["owner"], request.path_params["repo"]
    )
    return sim, repo, token


def _may(token: Token, issue: Issue | None, write: bool) -> None:
    """Issues need the issues permission; a pull request's issue also takes pull_requests."""
    level = "write" if write else "read"
    if allows(token, "issues", level):
        return
    if issue is not None and issue.is_pull and allows(token, "pull_requests", level):
        return
    raise Refused(403, NOT_ACCESSIBLE)


def _issue(sim: Sim, repo: Repo, request: Request) -> Issue:
    issue = sim.state.issues.get((repo.id, int(request.path_params["issue_number"])))
    if issue is None:
        raise Refused(404, "Not Found")
    return issue


def _comment(sim: Sim, repo: Repo, request: Request) -> Comment:
    comment = sim.state.comments.get(int(request.path_params["comment_id"]))
    if comment is None or comment.repo_id != repo.id:
        raise Refused(404, "Not Found")
    return comment


def _names(value: object) -> list[str]:
    if isinstance(value, dict):
        value = value.get("labels")
    if not isinstance(value, list):
        raise Refused(422, "Invalid request.\n\nFor 'links/0/schema', is not an array.")
    return [str(v["name"]) if isinstance(v, dict) else str(v) for v in value]


_SORTS = {
    "created": lambda i: (i.created_at, i.number),
    "updated": lambda i: (i.updated_at, i.number),
}


def _listed(sim: Sim, repo: Repo, request: Request) -> list[Issue]:
    """GitHub's filters of GET /repos/{owner}/{repo}/issues; pull requests are listed too."""
    query = request.query_params
    state = query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise Refused(422, "Validation Failed", [{"field": "state", "code": "invalid"}])
    creator = query.get("creator")
    wanted = {n.strip().lower() for n in query.get("labels", "").split(",") if n.strip()}
    assignee = query.get("assignee")
    after = since(request)
    found = []
    for issue in sim.state.issues.values():
        if issue.repo_id != repo.id or state not in ("all", issue.state):
            continue
        if creator is not None and issue.user.lower() != creator.lower():
            continue
        if not wanted <= {n.lower() for n in issue.labels}:
            continue
        if assignee == "none" and issue.assignees:
            continue
        if assignee == "*" and not issue.assignees:
            continue
        if assignee not in (None, "none", "*") and assignee not in issue.assignees:
            continue
        if after is not None and issue.updated_at < after:
            continue
        found.append(issue)
    return found


async def list_issues(request: Request) -> Response:
    sim, repo, token = _caller(request)
    _may(token, None, write=False)
    sort = request.query_params.get("sort", "created")
    direction = request.query_params.get("direction", "desc")
    if sort not in ("created", "updated", "comments") or direction not in ("asc", "desc"):
        raise Refused(422, "Validation Failed", [{"field": "sort", "code": "invalid"}])
    issues = _listed(sim, repo, request)
    if sort == "comments":
        counts: dict[int, int] = {}
        for c in sim.state.comments.values():
            if c.repo_id == repo.id:
                counts[c.issue_number] = counts.get(c.issue_number, 0) + 1
        issues.sort(key=lambda i: (counts.get(i.number, 0), i.number))
    else:
        issues.sort(key=_SORTS[sort])
    if direction == "desc":
        issues.reverse()
    chunk, headers = page(request, issues)
    return JSONResponse([issue_json(sim.state, repo, i) for i in chunk], headers=headers)


async def create_issue(request: Request) -> Response:
    sim, repo, token = _caller(request)
    _may(token, None, write=True)
    body = await body_json(request)
    if not body.get("title"):
        raise Refused(
            422,
            "Validation Failed",
            [{"resource": "Issue", "field": "title", "code": "missing_field"}],
        )
    now = time.time()
    async with sim.state.lock:
        issue = Issue(
            repo_id=repo.id,
            number=sim.state.next_issue_number(repo.id),
            id=sim.state.next_id(),
            title=str(body["title"]),
            body=body.get("body"),
            user=sim.state.bot_login,
            created_at=now,
            updated_at=now,
            labels=_names(body.get("labels") or []),
            assignees=[str(a) for a in body.get("assignees") or []],
        )
        sim.state.issues[(repo.id, issue.number)] = issue
    return JSONResponse(issue_json(sim.state, repo, issue), status_code=201)


async def get_issue(request: Request) -> Response:
    sim, repo, token = _caller(request)
    issue = _issue(sim, repo, request)
    _may(token, issue, write=False)
    return JSONResponse(issue_json(sim.state, repo, issue))


async def update_issue(request: Request) -> Response:
    sim, repo, token = _caller(request)
    issue = _issue(sim, repo, request)
    _may(token, issue, write=True)
    body = await body_json(request)
    if "title" in body:
        issue.title = str(body["title"])
    if "body" in body:
        issue.body = body["body"]
    if body.get("state") in ("open", "closed"):
        issue.state = body["state"]
        issue.closed_at = time.time() if issue.state == "closed" else None
    if "labels" in body:
        issue.labels = _names(body["labels"])
    if "assignees" in body:
        issue.assignees = [str(a) for a in body["assignees"] or []]
    issue.updated_at = time.time()
    return JSONResponse(issue_json(sim.state, repo, issue))


async def list_comments(request: Request) -> Response:
    sim, repo, token = _caller(request)
    issue = _issue(sim, repo, request)
    _may(token, issue, write=False)
    found = sorted(
        (
            c
            for c in sim.state.comments.values()
            if c.repo_id == repo.id and c.issue_number == issue.number
        ),
        key=lambda c: c.id,
    )
    chunk, headers = page(request, [comment_json(sim.state, repo, c) for c in found])
    return JSONResponse(chunk, headers=headers)


async def create_comment(request: Request) -> Response:
    sim, repo, token = _caller(request)
    issue = _issue(sim, repo, request)
    _may(token, issue, write=True)
    body = await body_json(request)
    if not isinstance(body.get("body"), str) or not body["body"]:
        raise Refused(
            422,
            "Validation Failed",
            [{"resource": "IssueComment", "field": "body", "code": "missing_field"}],
        )
    now = time.time()
    comment = Comment(
        id=sim.state.next_id(),
        repo_id=repo.id,
        issue_number=issue.number,
        body=body["body"],
        user=sim.state.bot_login,
        created_at=now,
        updated_at=now,
    )
    sim.state.comments[comment.id] = comment
    return JSONResponse(comment_json(sim.state, repo, comment), status_code=201)


async def get_comment(request: Request) -> Response:
    sim, repo, token = _caller(request)
    comment = _comment(sim, repo, request)
    _may(token, sim.state.issues.get((repo.id, comment.issue_number)), write=False)
    return JSONResponse(comment_json(sim.state, repo, comment))


async def update_comment(request: Request) -> Response:
    sim, repo, token = _caller(request)
    comment = _comment(sim, repo, request)
    _may(token, sim.state.issues.get((repo.id, comment.issue_number)), write=True)
    body = await body_json(request)
    if not isinstance(body.get("body"), str):
        raise Refused(
            422,
            "Validation Failed",
            [{"resource": "IssueComment", "field": "body", "code": "missing_field"}],
        )
    comment.body = body["body"]
    comment.updated_at = time.time()
    return JSONResponse(comment_json(sim.state, repo, comment))


async def add_labels(request: Request) -> Response:
    sim, repo, token = _caller(request)
    issue = _issue(sim, repo, request)
    _may(token, issue, write=True)
    for name in _names(await body_json(request)):
        if name not in issue.labels:
            issue.labels.append(name)
    return JSONResponse([label_json(sim.state, repo, n) for n in issue.labels])


async def _react(request: Request, target: dict[str, int], issue: Issue | None) -> Response:
    sim, _, token = _caller(request)
    _may(token, issue, write=True)
    body = await body_json(request)
    content = body.get("content")
    if content not in REACTIONS:
        raise Refused(
            422,
            "Validation Failed",
            [{"resource": "Reaction", "field": "content", "code": "invalid"}],
        )
    key = f"{content}"
    status = 200 if target.get(f"by:{sim.state.bot_login}:{key}") else 201
    if status == 201:
        target[key] = target.get(key, 0) + 1
        target[f"by:{sim.state.bot_login}:{key}"] = sim.state.next_id()
    bot = sim.state.user(sim.state.bot_login)
    reaction_id = target[f"by:{sim.state.bot_login}:{key}"]
    return JSONResponse(
        {
            "id": reaction_id,
            "node_id": node_id("REA", reaction_id),
            "user": user_json(sim.state, bot),
            "content": content,
            "created_at": iso(time.time()),
        },
        status_code=status,
    )


async def react_comment(request: Request) -> Response:
    sim, repo, _ = _caller(request)
    comment = _comment(sim, repo, request)
    return await _react(
        request, comment.reactions, sim.state.issues.get((repo.id, comment.issue_number))
    )


async def react_issue(request: Request) -> Response:
    sim, repo, _ = _caller(request)
    issue = _issue(sim, repo, request)
    return await _react(request, issue.reactions, issue)


_I = "/repos/{owner}/{repo}/issues"
ROUTES = [
    Route(_I, list_issues, methods=["GET"]),
    Route(_I, create_issue, methods=["POST"]),
    Route(f"{_I}/comments/{{comment_id:int}}", get_comment, methods=["GET"]),
    Route(f"{_I}/comments/{{comment_id:int}}", update_comment, methods=["PATCH"]),
    Route(f"{_I}/comments/{{comment_id:int}}/reactions", react_comment, methods=["POST"]),
    Route(f"{_I}/{{issue_number:int}}", get_issue, methods=["GET"]),
    Route(f"{_I}/{{issue_number:int}}", update_issue, methods=["PATCH"]),
    Route(f"{_I}/{{issue_number:int}}/comments", list_comments, methods=["GET"]),
    Route(f"{_I}/{{issue_number:int}}/comments", create_comment, methods=["POST"]),
    Route(f"{_I}/{{issue_number:int}}/labels", add_labels, methods=["POST"]),
    Route(f"{_I}/{{issue_number:int}}/reactions", react_issue, methods=["POST"]),
]
