"""Webhook payloads built from the simulator's state, shaped as GitHub delivers them."""

from __future__ import annotations

import time
from typing import Any

from tests.sim.github_auth import Refused
from tests.sim.github_context import Sim
from tests.sim.github_payloads import installation_json, node_id, repo_json, user_json
from tests.sim.github_payloads_checks import (
    check_suite_json,
    simple_commit_json,
    workflow_run_json,
)
from tests.sim.github_payloads_issues import (
    comment_json,
    issue_json,
    label_json,
    pull_json,
    review_comment_json,
    review_json,
)
from tests.sim.github_routes_checks import pulls_for_sha
from tests.sim.github_routes_pulls import pull_facts
from tests.sim.github_state import CheckSuite, Comment, Repo

__all__ = ["build_payload"]

JSON = dict[str, Any]
ZERO = "0" * 40


def _repo(sim: Sim, kwargs: JSON) -> Repo:
    repo = sim.state.find_repo(str(kwargs.get("owner", "")), str(kwargs.get("name", "")))
    if repo is None:
        raise Refused(422, f"emit: no repository {kwargs.get('owner')}/{kwargs.get('name')}")
    return repo


def webhook_repo(sim: Sim, repo: Repo) -> JSON:
    data = repo_json(sim.state, repo, minimal=True)
    data.pop("permissions", None)
    data["custom_properties"] = {}
    return data


def _envelope(sim: Sim, repo: Repo | None, sender: str, action: str | None) -> JSON:
    state = sim.state
    data: JSON = {}
    if action is not None:
        data["action"] = action
    if repo is not None:
        data["repository"] = webhook_repo(sim, repo)
        inst = state.installation_for(repo.owner)
        if inst is not None:
            data["installation"] = {
                "id": inst.id,
                "node_id": node_id("MDIzOkludGVncmF0aW9u", inst.id),
            }
    data["sender"] = user_json(state, state.user(sender))
    return data


async def _issue_comment(sim: Sim, kw: JSON) -> JSON:
    repo = _repo(sim, kw)
    state = sim.state
    issue = state.issues.get((repo.id, int(kw["number"])))
    if issue is None:
        raise Refused(422, f"emit: no issue or pull #{kw['number']} in {repo.full_name}")
    user = str(kw.get("user", "octocat"))
    now = time.time()
    comment = Comment(
        id=state.next_id(),
        repo_id=repo.id,
        issue_number=issue.number,
        body=str(kw.get("body", "")),
        user=user,
        created_at=now,
        updated_at=now,
    )
    state.comments[comment.id] = comment
    data = _envelope(sim, repo, user, str(kw.get("action", "created")))
    data["issue"] = issue_json(state, repo, issue)
    data["comment"] = comment_json(state, repo, comment)
    return data


async def _check_suite(sim: Sim, kw: JSON) -> JSON:
    repo = _repo(sim, kw)
    state = sim.state
    head_sha = str(kw["head_sha"])
    git = sim.git(repo)
    branches = [
        name.removeprefix("refs/heads/")
        for name, sha in await git.list_refs("refs/heads/")
        if sha == head_sha
    ]
    conclusion = kw.get("conclusion", "failure")
    suite = next(
        (
            s
            for s in state.check_suites.values()
            if s.repo_id == repo.id and s.head_sha == head_sha and not s.app_owned
        ),
        None,
    )
    if suite is None:
        suite = CheckSuite(
            id=state.next_id(),
            repo_id=repo.id,
            head_sha=head_sha,
            head_branch=branches[0] if branches else None,
            status="completed",
            conclusion=conclusion,
            created_at=time.time(),
        )
        state.check_suites[suite.id] = suite
    suite.conclusion = conclusion
    suite.status = "completed"
    head = await git.read_commit(head_sha)
    pulls = await pulls_for_sha(sim, repo, head_sha)
    data = _envelope(sim, repo, str(kw.get("user", "octocat")), str(kw.get("action", "completed")))
    suite_json = check_suite_json(state, repo, suite, head, pulls)
    suite_json.pop("repository", None)
    data["check_suite"] = suite_json
    return data


async def _workflow_run(sim: Sim, kw: JSON) -> JSON:
    repo = _repo(sim, kw)
    state = sim.state
    run = state.workflow_runs.get(int(kw["run_id"]))
    if run is None or run.repo_id != repo.id:
        raise Refused(422, f"emit: no workflow run {kw['run_id']} in {repo.full_name}")
    head = await sim.git(repo).read_commit(run.head_sha)
    pulls = await pulls_for_sha(sim, repo, run.head_sha, run.pull_requests or None)
    body = workflow_run_json(state, repo, run, head, pulls)
    body["head_repository"] = webhook_repo(sim, repo)
    body["repository"] = webhook_repo(sim, repo)
    data = _envelope(sim, repo, str(kw.get("user", "octocat")), str(kw.get("action", "completed")))
    api = f"{state.base_url}/repos/{repo.full_name}"
    wid = body["workflow_id"]
    data["workflow"] = {
        "id": wid,
        "node_id": node_id("W", wid),
        "name": run.name,
        "path": body["path"],
        "state": "active",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "url": f"{api}/actions/workflows/{wid}",
        "html_url": f"{state.base_url}/{repo.full_name}/blob/{repo.default_branch}/{body['path']}",
        "badge_url": f"{state.base_url}/{repo.full_name}/workflows/{run.name}/badge.svg",
    }
    data["workflow_run"] = body
    return data


async def _pull_request(sim: Sim, kw: JSON) -> JSON:
    repo = _repo(sim, kw)
    state = sim.state
    pull = state.issues.get((repo.id, int(kw["number"])))
    if pull is None or not pull.is_pull:
        raise Refused(422, f"emit: no pull #{kw['number']} in {repo.full_name}")
    facts = await pull_facts(sim, repo, pull)
    data = _envelope(sim, repo, str(kw.get("user", pull.user)), str(kw.get("action", "opened")))
    data["number"] = pull.number
    body = pull_json(state, repo, pull, facts)
    for side in ("head", "base"):
        side_repo = state.repos.get(body[side]["repo"]["id"], repo)
        body[side]["repo"] = webhook_repo(sim, side_repo)
    data["pull_request"] = body
    if data["action"] == "synchronize":
        data["before"] = kw.get("before", ZERO)
        data["after"] = facts.head_sha
    return data


async def _issues(sim: Sim, kw: JSON) -> JSON:
    repo = _repo(sim, kw)
    issue = sim.state.issues.get((repo.id, int(kw["number"])))
    if issue is None:
        raise Refused(422, f"emit: no issue #{kw['number']} in {repo.full_name}")
    action = str(kw.get("action", "edited"))
    data = _envelope(sim, repo, str(kw.get("user", issue.user)), action)
    # The change is made as the event says, as on GitHub, where the event follows the change.
    if action == "assigned":
        assignee = str(kw["assignee"])
        if assignee not in issue.assignees:
            issue.assignees.append(assignee)
        data["assignee"] = user_json(sim.state, sim.state.user(assignee))
    if action == "labeled":
        label = str(kw["label"])
        if label not in issue.labels:
            issue.labels.append(label)
        data["label"] = label_json(sim.state, repo, label)
    data["issue"] = issue_json(sim.state, repo, issue)
    if action == "edited":
        data["changes"] = kw.get("changes") or {"body": {"from": ""}}
    return data


async def _pull_body(sim: Sim, repo: Repo, number: int) -> JSON:
    pull = sim.state.issues.get((repo.id, number))
    if pull is None or not pull.is_pull:
        raise Refused(422, f"emit: no pull #{number} in {repo.full_name}")
    body = pull_json(sim.state, repo, pull, await pull_facts(sim, repo, pull))
    for side in ("head", "base"):
        side_repo = sim.state.repos.get(body[side]["repo"]["id"], repo)
        body[side]["repo"] = webhook_repo(sim, side_repo)
    return body


async def _pull_request_review(sim: Sim, kw: JSON) -> JSON:
    """kwargs: number, review_id (made with POST /_sim/…/reviews), action (submitted)."""
    repo = _repo(sim, kw)
    review = sim.state.reviews.get(int(kw["review_id"]))
    if review is None or review.repo_id != repo.id:
        raise Refused(422, f"emit: no review {kw['review_id']} in {repo.full_name}")
    data = _envelope(sim, repo, review.user, str(kw.get("action", "submitted")))
    body = review_json(sim.state, repo, review)
    # The webhook's review state is lower case, unlike the REST API's (GitHub's webhook docs).
    body["state"] = review.state.lower()
    data["review"] = body
    data["pull_request"] = await _pull_body(sim, repo, review.pull_number)
    return data


async def _pull_request_review_comment(sim: Sim, kw: JSON) -> JSON:
    """kwargs: comment_id (made with POST /_sim/…/comments), action (created)."""
    repo = _repo(sim, kw)
    comment = sim.state.review_comments.get(int(kw["comment_id"]))
    if comment is None or comment.repo_id != repo.id:
        raise Refused(422, f"emit: no review comment {kw['comment_id']} in {repo.full_name}")
    data = _envelope(sim, repo, comment.user, str(kw.get("action", "created")))
    data["comment"] = review_comment_json(sim.state, repo, comment)
    data["pull_request"] = await _pull_body(sim, repo, comment.pull_number)
    return data


def _pusher_commit(info_json: JSON, repo_url: str) -> JSON:
    sha = info_json["id"]
    return {
        **info_json,
        "distinct": True,
        "url": f"{repo_url}/commit/{sha}",
        "added": [],
        "removed": [],
        "modified": [],
    }


async def _push(sim: Sim, kw: JSON) -> JSON:
    repo = _repo(sim, kw)
    state = sim.state
    git = sim.git(repo)
    ref = str(kw.get("ref", f"refs/heads/{repo.default_branch}"))
    after = str(kw.get("after") or await git.ref_sha(ref) or ZERO)
    before = str(kw.get("before") or ZERO)
    span = [after, "--not", "--branches"] if before == ZERO else [f"{before}..{after}"]
    shas = await git.rev_list("--reverse", *span) if after != ZERO else []
    html = f"{state.base_url}/{repo.full_name}"
    commits = [_pusher_commit(simple_commit_json(await git.read_commit(s)), html) for s in shas]
    sender = str(kw.get("user", "octocat"))
    data = _envelope(sim, repo, sender, None)
    repository = data["repository"]
    # push events carry unix timestamps and a name/email owner, unlike every other event
    repository["created_at"] = int(repo.created_at)
    repository["pushed_at"] = int(time.time())
    repository["owner"] = {
        **repository["owner"],
        "name": repo.owner,
        "email": f"{repo.owner}@example.com",
    }
    repository["stargazers"] = 0
    repository["master_branch"] = repo.default_branch
    data.update(
        {
            "ref": ref,
            "before": before,
            "after": after,
            "created": before == ZERO,
            "deleted": after == ZERO,
            "forced": False,
            "base_ref": None,
            "compare": f"{html}/compare/{before[:12]}...{after[:12]}",
            "commits": commits,
            "head_commit": commits[-1] if commits else None,
            "pusher": {"name": sender, "email": f"{sender}@example.com"},
        }
    )
    return data


def _repos_brief(repos: list[Repo]) -> list[JSON]:
    return [
        {
            "id": r.id,
            "node_id": node_id("R", r.id),
            "name": r.name,
            "full_name": r.full_name,
            "private": r.private,
        }
        for r in repos
    ]


async def _installation(sim: Sim, kw: JSON, event: str) -> JSON:
    state = sim.state
    owner = str(kw.get("owner", ""))
    inst = state.installation_for(owner)
    if inst is None:
        raise Refused(422, f"emit: the App is not installed on {owner!r}")
    default = "created" if event == "installation" else "added"
    data = _envelope(sim, None, str(kw.get("user", owner)), str(kw.get("action", default)))
    data["installation"] = installation_json(state, inst)
    repos = [state.repos[rid] for rid in sorted(inst.repo_ids)]
    names = kw.get("names")
    if names is not None:
        repos = [r for r in state.repos.values() if r.owner == owner and r.name in names]
    if event == "installation":
        data["repositories"] = _repos_brief(repos)
        return data
    data["repository_selection"] = "selected"
    added = data["action"] == "added"
    data["repositories_added"] = _repos_brief(repos) if added else []
    data["repositories_removed"] = [] if added else _repos_brief(repos)
    data["requester"] = None
    return data


async def build_payload(sim: Sim, event: str, kw: JSON) -> JSON:
    """The payload GitHub would send for `event`, from state and the emit kwargs."""
    builders = {
        "issue_comment": _issue_comment,
        "check_suite": _check_suite,
        "workflow_run": _workflow_run,
        "pull_request": _pull_request,
        "issues": _issues,
        "push": _push,
        "pull_request_review": _pull_request_review,
        "pull_request_review_comment": _pull_request_review_comment,
    }
    if event in ("installation", "installation_repositories"):
        return await _installation(sim, kw, event)
    builder = builders.get(event)
    if builder is None:
        raise Refused(422, f"emit: cannot build a {event!r} payload; pass one")
    return await builder(sim, kw)
