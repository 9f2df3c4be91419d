"""Pull request routes: list, create, get, update, files, requested reviewers."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.github_auth import Refused
from tests.sim.github_context import Sim, body_json, caller_repo, page
from tests.sim.github_ops import open_pull
from tests.sim.github_payloads import user_json
from tests.sim.github_payloads_issues import PullFacts, pull_json, team_json
from tests.sim.github_routes_repos import diff_entry_json
from tests.sim.github_routes_reviews import ROUTES as REVIEW_ROUTES
from tests.sim.github_state import Issue, Repo

__all__ = ["ROUTES", "pull_facts"]


def _repo(request: Request, write: bool = False) -> tuple[Sim, Repo]:
    return caller_repo(request, "pull_requests", write)


def _pull(sim: Sim, repo: Repo, request: Request) -> Issue:
    pull = sim.state.issues.get((repo.id, int(request.path_params["pull_number"])))
    if pull is None or not pull.is_pull:
        raise Refused(404, "Not Found")
    return pull


async def head_sha(sim: Sim, repo: Repo, pull: Issue) -> str:
    """The head commit now, fetched into the base repo (and refs/pull/N/head) as GitHub does."""
    head_repo = sim.state.repos.get(pull.head_repo_id or repo.id, repo)
    git = sim.git(repo)
    sha = await sim.git(head_repo).ref_sha(f"refs/heads/{pull.head_ref}")
    if sha is None:
        sha = await git.ref_sha(f"refs/pull/{pull.number}/head")
        if sha is None:
            raise Refused(404, "Not Found")
        return sha
    if head_repo is not repo and await git.object_type(sha) is None:
        await git.run(
            "fetch",
            "--quiet",
            "--no-tags",
            str(head_repo.path),
            f"+refs/heads/{pull.head_ref}:refs/pull/{pull.number}/head",
        )
    await git.update_ref(f"refs/pull/{pull.number}/head", sha)
    return sha


async def pull_facts(sim: Sim, repo: Repo, pull: Issue, *, full: bool = True) -> PullFacts:
    git = sim.git(repo)
    head = await head_sha(sim, repo, pull)
    base = await git.ref_sha(f"refs/heads/{pull.base_ref}") or head
    if not full:
        return PullFacts(head, base)
    merge_base = await git.merge_base(base, head) or base
    commits = await git.rev_list(f"{merge_base}..{head}")
    files = await git.diff(merge_base, head)
    return PullFacts(
        head,
        base,
        len(commits),
        sum(f.additions for f in files),
        sum(f.deletions for f in files),
        len(files),
    )


async def list_pulls(request: Request) -> Response:
    sim, repo = _repo(request)
    state_filter = request.query_params.get("state", "open")
    head = request.query_params.get("head")
    base = request.query_params.get("base")
    found = []
    for pull in sorted(sim.state.issues.values(), key=lambda i: -i.number):
        if pull.repo_id != repo.id or not pull.is_pull:
            continue
        if state_filter != "all" and pull.state != state_filter:
            continue
        head_repo = sim.state.repos.get(pull.head_repo_id or repo.id, repo)
        if (
            head
            and head not in (f"{head_repo.owner}:{pull.head_ref}",)
            and head.lower() != f"{head_repo.owner}:{pull.head_ref}".lower()
        ):
            continue
        if base and pull.base_ref != base:
            continue
        found.append(pull)
    chunk, headers = page(request, found)
    return JSONResponse(
        [
            pull_json(sim.state, repo, p, await pull_facts(sim, repo, p, full=False), simple=True)
            for p in chunk
        ],
        headers=headers,
    )


async def create_pull(request: Request) -> Response:
    sim, repo = _repo(request, write=True)
    body = await body_json(request)
    head = str(body.get("head", ""))
    head_owner, sep, head_branch = head.rpartition(":")
    if not sep:
        head_owner, head_branch = repo.owner, head
    base = str(body.get("base", ""))
    if not body.get("title") or not head_branch or not base:
        raise Refused(
            422,
            "Validation Failed",
            [{"resource": "PullRequest", "field": "title", "code": "missing_field"}],
        )
    git = sim.git(repo)
    async with sim.state.lock:
        pull = await open_pull(
            sim,
            repo,
            head_branch,
            base,
            str(body["title"]),
            body.get("body"),
            sim.state.bot_login,
            None if head_owner.lower() == repo.owner.lower() else head_owner,
        )
        facts = await pull_facts(sim, repo, pull)
        if facts.commits == 0 and await git.is_ancestor(facts.head_sha, facts.base_sha):
            del sim.state.issues[(repo.id, pull.number)]
            raise Refused(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"No commits between {base} and {head_branch}",
                    }
                ],
            )
        pull.draft = bool(body.get("draft", False))
        pull.maintainer_can_modify = bool(body.get("maintainer_can_modify", False))
    return JSONResponse(pull_json(sim.state, repo, pull, facts), status_code=201)


async def get_pull(request: Request) -> Response:
    sim, repo = _repo(request)
    pull = _pull(sim, repo, request)
    return JSONResponse(pull_json(sim.state, repo, pull, await pull_facts(sim, repo, pull)))


async def update_pull(request: Request) -> Response:
    sim, repo = _repo(request, write=True)
    pull = _pull(sim, repo, request)
    body = await body_json(request)
    if "title" in body:
        pull.title = str(body["title"])
    if "body" in body:
        pull.body = body["body"]
    if body.get("state") in ("open", "closed"):
        pull.state = body["state"]
        pull.closed_at = time.time() if pull.state == "closed" else None
    if body.get("base"):
        if await sim.git(repo).ref_sha(f"refs/heads/{body['base']}") is None:
            raise Refused(
                422,
                "Validation Failed",
                [{"resource": "PullRequest", "field": "base", "code": "invalid"}],
            )
        pull.base_ref = str(body["base"])
    if "maintainer_can_modify" in body:
        pull.maintainer_can_modify = bool(body["maintainer_can_modify"])
    pull.updated_at = time.time()
    return JSONResponse(pull_json(sim.state, repo, pull, await pull_facts(sim, repo, pull)))


async def list_files(request: Request) -> Response:
    sim, repo = _repo(request)
    pull = _pull(sim, repo, request)
    facts = await pull_facts(sim, repo, pull, full=False)
    git = sim.git(repo)
    merge_base = await git.merge_base(facts.base_sha, facts.head_sha) or facts.base_sha
    files = [
        diff_entry_json(sim, repo, facts.head_sha, f)
        for f in await git.diff(merge_base, facts.head_sha)
    ]
    chunk, headers = page(request, files)
    return JSONResponse(chunk, headers=headers)


def _reviewers_json(sim: Sim, repo: Repo, pull: Issue) -> dict[str, object]:
    return {
        "users": [user_json(sim.state, sim.state.user(u)) for u in pull.requested_reviewers],
        "teams": [team_json(sim.state, repo, t) for t in pull.requested_teams],
    }


async def requested_reviewers(request: Request) -> Response:
    sim, repo = _repo(request, write=request.method == "POST")
    pull = _pull(sim, repo, request)
    if request.method == "GET":
        return JSONResponse(_reviewers_json(sim, repo, pull))
    body = await body_json(request)
    users = [str(u) for u in body.get("reviewers") or []]
    teams = [str(t) for t in body.get("team_reviewers") or []]
    if pull.user in users:
        raise Refused(422, "Review cannot be requested from pull request author.")
    strangers = [u for u in users if sim.state.permission_of(repo, u) in ("none", "read")]
    if strangers:
        raise Refused(
            422,
            "Reviews may only be requested from collaborators. One or more of "
            "the users or teams you specified is not a collaborator of the "
            f"{repo.full_name} repository.",
        )
    for login in users:
        if login not in pull.requested_reviewers:
            pull.requested_reviewers.append(login)
    for slug in teams:
        if slug not in pull.requested_teams:
            pull.requested_teams.append(slug)
    facts = await pull_facts(sim, repo, pull, full=False)
    return JSONResponse(pull_json(sim.state, repo, pull, facts, simple=True), status_code=201)


_P = "/repos/{owner}/{repo}/pulls"
ROUTES = [
    Route(_P, list_pulls, methods=["GET"]),
    Route(_P, create_pull, methods=["POST"]),
    Route(f"{_P}/{{pull_number:int}}", get_pull, methods=["GET"]),
    Route(f"{_P}/{{pull_number:int}}", update_pull, methods=["PATCH"]),
    Route(f"{_P}/{{pull_number:int}}/files", list_files, methods=["GET"]),
    Route(
        f"{_P}/{{pull_number:int}}/requested_reviewers",
        requested_reviewers,
        methods=["GET", "POST"],
    ),
    *REVIEW_ROUTES,
]
