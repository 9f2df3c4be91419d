"""The simulator's process-wide context: state, the App key, and per-repository git access."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.requests import Request

from tests.sim.github_auth import Refused, need_repo
from tests.sim.github_git import Git
from tests.sim.github_state import Repo, SimState

__all__ = ["Sim", "body_json", "page", "sim_of", "since"]


@dataclass
class Sim:
    state: SimState
    public_key: RSAPublicKey
    private_key_pem: str

    def git(self, repo: Repo) -> Git:
        return Git(repo.path)

    def write_policy(self, repo: Repo) -> None:
        """Publish the repo's protection, rules and verified commits to its pre-receive hook."""
        state = self.state
        passed: dict[str, list[str]] = {}
        for run in state.check_runs.values():
            if run.repo_id == repo.id and run.conclusion in ("success", "neutral", "skipped"):
                passed.setdefault(run.head_sha, []).append(run.name)
        policy = {
            "html_url": f"{state.base_url}/{repo.full_name}",
            "protection": repo.protection,
            "rules": repo.rules,
            "verified": sorted(state.verified),
            "passed_checks": passed,
        }
        tmp = repo.path / "sim-policy.json.tmp"
        tmp.write_text(json.dumps(policy))
        tmp.replace(repo.path / "sim-policy.json")


def sim_of(request: Request) -> Sim:
    sim: Sim = request.app.state.sim
    return sim


async def body_json(request: Request) -> dict[str, Any]:
    """The request's JSON object body; GitHub answers 400 to anything else."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise Refused(400, "Problems parsing JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "Problems parsing JSON")
    return data


def page(request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """Slice `items` by `per_page`/`page` and build GitHub's Link header."""
    try:
        per_page = max(1, min(100, int(request.query_params.get("per_page", "30"))))
        number = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        raise Refused(422, "Invalid request.") from None
    chunk = items[(number - 1) * per_page : number * per_page]
    links: list[str] = []
    last = max(1, -(-len(items) // per_page))
    url = request.url
    if number < last:
        links.append(f'<{url.include_query_params(page=number + 1)}>; rel="next"')
        links.append(f'<{url.include_query_params(page=last)}>; rel="last"')
    if number > 1:
        links.append(f'<{url.include_query_params(page=number - 1)}>; rel="prev"')
        links.append(f'<{url.include_query_params(page=1)}>; rel="first"')
    return chunk, ({"Link": ", ".join(links)} if links else {})


def since(request: Request) -> float | None:
    """The `since` query parameter (ISO 8601) as a timestamp; GitHub's 422 when malformed."""
    raw = request.query_params.get("since")
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise Refused(422, "Validation Failed", [{"field": "since", "code": "invalid"}]) from None


def caller_repo(request: Request, permission: str, write: bool = False) -> tuple[Sim, Repo]:
    """The simulator and the repository of the route, once the caller may `permission` on it."""
    sim = sim_of(request)
    repo, _ = need_repo(
        request,
        sim.state,
        request.path_params["owner"],
        request.path_params["repo"],
        permission,
        "write" if write else "read",
    )
    return sim, repo
