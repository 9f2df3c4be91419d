"""Pull request reviews and review comments: GitHub's list routes, and /_sim/ routes that let a
test write them as a person (an installation token always writes as the App)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.github_auth import Refused
from tests.sim.github_context import Sim, body_json, caller_repo, page, sim_of, since
from tests.sim.github_payloads_issues import review_comment_json, review_json
from tests.sim.github_routes_sim import repo_of
from tests.sim.github_state import Issue, Repo, Review, ReviewComment

__all__ = ["ROUTES", "locate_line"]

REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "PENDING", "DISMISSED")


def _pull_of(sim: Sim, repo: Repo, request: Request) -> Issue:
    pull = sim.state.issues.get((repo.id, int(request.path_params["pull_number"])))
    if pull is None or not pull.is_pull:
        raise Refused(404, "Not Found")
    return pull


def _readable(request: Request) -> tuple[Sim, Repo, Issue]:
    sim, repo = caller_repo(request, "pull_requests")
    return sim, repo, _pull_of(sim, repo, request)


async def list_review_comments(request: Request) -> Response:
    """Ascending by id; `sort` (created, updated) with `direction` orders them otherwise."""
    sim, repo, pull = _readable(request)
    after = since(request)
    found = [
        c
        for c in sim.state.review_comments.values()
        if c.repo_id == repo.id
        and c.pull_number == pull.number
        and (after is None or c.updated_at >= after)
    ]
    sort = request.query_params.get("sort")
    if sort not in (None, "created", "updated"):
        raise Refused(422, "Validation Failed", [{"field": "sort", "code": "invalid"}])
    if sort == "updated":
        found.sort(key=lambda c: (c.updated_at, c.id))
    else:
        found.sort(key=lambda c: c.id)
    # GitHub ignores `direction` without `sort`.
    if sort is not None and request.query_params.get("direction") == "desc":
        found.reverse()
    chunk, headers = page(request, [review_comment_json(sim.state, repo, c) for c in found])
    return JSONResponse(chunk, headers=headers)


async def list_reviews(request: Request) -> Response:
    """In the order they were submitted; a pending review is shown to its author alone, and
    the caller here is the App."""
    sim, repo, pull = _readable(request)
    found = sorted(
        (
            r
            for r in sim.state.reviews.values()
            if r.repo_id == repo.id and r.pull_number == pull.number and r.state != "PENDING"
        ),
        key=lambda r: r.id,
    )
    chunk, headers = page(request, [review_json(sim.state, repo, r) for r in found])
    return JSONResponse(chunk, headers=headers)


def locate_line(patch: str, line: int) -> tuple[int, str] | None:
    """(position, diff_hunk) of new-file `line` in a file's `patch`, as GitHub gives them: the
    position counts lines below the first `@@` header (later headers count too); the hunk runs
    from its header to the line. None when the line is not on the diff's right side."""
    position, new_line, hunk_start = 0, 0, 0
    lines = patch.split("\n")
    for index, text in enumerate(lines):
        if text.startswith("@@"):
            header = text.split("+", 1)[1].split(" ", 1)[0]
            new_line = int(header.split(",")[0])
            hunk_start = index
            position += index > 0
            continue
        position += 1
        if text.startswith("-"):
            continue
        if new_line == line:
            return position, "\n".join(lines[hunk_start : index + 1])
        new_line += 1
    return None


async def _head_of(sim: Sim, repo: Repo, pull: Issue) -> tuple[Repo, str]:
    head_repo = sim.state.repos.get(pull.head_repo_id or repo.id, repo)
    sha = await sim.git(head_repo).ref_sha(f"refs/heads/{pull.head_ref}")
    if sha is None:
        raise Refused(422, f"#{pull.number}'s head branch is gone")
    return head_repo, sha


async def sim_review_comment(request: Request) -> Response:
    """Body {user, body, path, line[, in_reply_to]}: a person comments on a line of the diff."""
    sim, repo = sim_of(request), repo_of(request)
    pull = _pull_of(sim, repo, request)
    body = await body_json(request)
    head_repo, head = await _head_of(sim, repo, pull)
    git = sim.git(head_repo)
    base = await sim.git(repo).ref_sha(f"refs/heads/{pull.base_ref}") or head
    files = await git.diff(await git.merge_base(base, head) or base, head)
    patch = next((f.patch for f in files if f.filename == body.get("path")), None)
    located = locate_line(patch, int(body.get("line", 0))) if patch else None
    if located is None:
        raise Refused(
            422,
            "Validation Failed",
            [{"resource": "PullRequestReviewComment", "field": "line", "code": "invalid"}],
        )
    now = time.time()
    comment = ReviewComment(
        id=sim.state.next_id(),
        repo_id=repo.id,
        pull_number=pull.number,
        body=str(body.get("body", "")),
        user=str(body.get("user", "octocat")),
        path=str(body["path"]),
        line=int(body["line"]),
        position=located[0],
        commit_id=head,
        diff_hunk=located[1],
        created_at=now,
        updated_at=now,
        in_reply_to=body.get("in_reply_to"),
    )
    sim.state.user(comment.user)
    sim.state.review_comments[comment.id] = comment
    return JSONResponse(review_comment_json(sim.state, repo, comment), status_code=201)


async def sim_review(request: Request) -> Response:
    """Body {user, body, state}: a person submits a review (PENDING: starts one)."""
    sim, repo = sim_of(request), repo_of(request)
    pull = _pull_of(sim, repo, request)
    body = await body_json(request)
    state = str(body.get("state", "COMMENTED"))
    if state not in REVIEW_STATES:
        raise Refused(422, f"unknown review state {state}")
    _, head = await _head_of(sim, repo, pull)
    review = Review(
        id=sim.state.next_id(),
        repo_id=repo.id,
        pull_number=pull.number,
        body=str(body.get("body", "")),
        user=str(body.get("user", "octocat")),
        state=state,
        commit_id=head,
        submitted_at=None if state == "PENDING" else time.time(),
    )
    sim.state.user(review.user)
    sim.state.reviews[review.id] = review
    return JSONResponse(review_json(sim.state, repo, review), status_code=201)


async def reply_to_review_comment(request: Request) -> Response:
    """Body {body}: the App answers a review comment in its thread. GitHub's description
    documents 201 and 404 only, so a reply to a reply (which GitHub does not support) is 404."""
    sim, repo = caller_repo(request, "pull_requests", write=True)
    pull = _pull_of(sim, repo, request)
    parent = sim.state.review_comments.get(int(request.path_params["comment_id"]))
    if (
        parent is None
        or parent.repo_id != repo.id
        or parent.pull_number != pull.number
        or parent.in_reply_to is not None
    ):
        raise Refused(404, "Not Found")
    body = await body_json(request)
    if not isinstance(body.get("body"), str) or not body["body"]:
        raise Refused(404, "Not Found")
    now = time.time()
    reply = ReviewComment(
        id=sim.state.next_id(),
        repo_id=repo.id,
        pull_number=pull.number,
        body=body["body"],
        user=sim.state.bot_login,
        path=parent.path,
        line=parent.line,
        position=parent.position,
        commit_id=parent.commit_id,
        diff_hunk=parent.diff_hunk,
        created_at=now,
        updated_at=now,
        review_id=parent.review_id,
        in_reply_to=parent.id,
    )
    sim.state.review_comments[reply.id] = reply
    return JSONResponse(review_comment_json(sim.state, repo, reply), status_code=201)


_P = "/repos/{owner}/{repo}/pulls/{pull_number:int}"
ROUTES = [
    Route(f"{_P}/comments", list_review_comments, methods=["GET"]),
    Route(f"{_P}/reviews", list_reviews, methods=["GET"]),
    Route(f"{_P}/comments/{{comment_id:int}}/replies", reply_to_review_comment, methods=["POST"]),
    Route(f"/_sim{_P}/comments", sim_review_comment, methods=["POST"]),
    Route(f"/_sim{_P}/reviews", sim_review, methods=["POST"]),
]
