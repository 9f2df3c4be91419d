"""Control route: a maintainer merges a pull request (Ambient never merges, so the REST merge
endpoint is not simulated; the PR's JSON afterwards says what GitHub's says of a merged PR)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.github_auth import Refused
from tests.sim.github_context import body_json, sim_of
from tests.sim.github_git import Person
from tests.sim.github_routes_pulls import head_sha
from tests.sim.github_routes_sim import repo_of

__all__ = ["ROUTES"]


async def merge_pull(request: Request) -> Response:
    """Merge commit of the PR's head into its base, as the merge button's default does."""
    sim, repo = sim_of(request), repo_of(request)
    body = await body_json(request)
    login = str(body.get("user", "octocat"))
    pull = sim.state.issues.get((repo.id, int(request.path_params["number"])))
    if pull is None or not pull.is_pull:
        raise Refused(404, "Not Found")
    if pull.state != "open":
        raise Refused(405, "Pull Request is not mergeable")
    git = sim.git(repo)
    async with sim.state.lock:
        head = await head_sha(sim, repo, pull)
        base = await git.ref_sha(f"refs/heads/{pull.base_ref}")
        if base is None or not await git.is_ancestor(base, head):
            # The simulator merges only what needs no conflict resolution: a head on top of base.
            raise Refused(405, "Pull Request is not mergeable")
        tree = (await git.run("rev-parse", f"{head}^{{tree}}")).decode().strip()
        who = Person(name=login, email=f"{login}@example.com", date=int(time.time()))
        message = (
            f"Merge pull request #{pull.number} from {repo.owner}/{pull.head_ref}\n\n{pull.title}\n"
        )
        sha = await git.commit_tree(tree, [base, head], message, who, who)
        await git.update_ref(f"refs/heads/{pull.base_ref}", sha, base)
        now = time.time()
        pull.state, pull.closed_at, pull.updated_at = "closed", now, now
        pull.merged_at, pull.merge_commit_sha, pull.merged_by = now, sha, login
    return JSONResponse({"sha": sha, "merged": True})


ROUTES = [
    Route("/_sim/repos/{owner}/{repo}/pulls/{number:int}/merge", merge_pull, methods=["POST"]),
]
