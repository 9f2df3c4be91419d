"""The simulator answers as GitHub's REST description says GitHub does.

One scenario drives every route the simulator serves through githubkit (so every answer is
parsed by githubkit's own models), records each exchange at the transport, and checks the
method, status and JSON body of each against the published description vendored, trimmed,
in tests/data/github-openapi/operations.json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import jsonschema.exceptions
import pytest
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestFailed
from githubkit.response import Response
from starlette.routing import Route

from tests.sim.github import create_app
from tests.sim.github_client import GitHubSim
from tests.sim.github_routes_manifest import WEB_PATHS
from tests.sim.github_server import SimServer

OPERATIONS = Path(__file__).parent / "data" / "github-openapi" / "operations.json"
# GitHub answers these on any authenticated route, documented or not, with its error body.
GENERIC = {401, 403, 404}
GREEDY = {"path", "ref", "branch", "basehead", "tree_sha"}


@dataclass(frozen=True, slots=True)
class Exchange:
    method: str
    path: str
    status: int
    request_json: Any
    response_json: Any


class RecordingTransport(httpx.HTTPTransport):
    """Keeps every request and response githubkit sends through it."""

    def __init__(self, log: list[Exchange]) -> None:
        super().__init__()
        self.log = log

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = request.read()
        response = super().handle_request(request)
        body = response.read()
        ctype = response.headers.get("content-type", "")
        self.log.append(
            Exchange(
                request.method.lower(),
                request.url.path,
                response.status_code,
                json.loads(sent) if sent else None,
                json.loads(body) if body and "json" in ctype else None,
            )
        )
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )


@cache
def _spec() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(OPERATIONS.read_text())
    return result


def _template_regex(template: str) -> re.Pattern[str]:
    def part(m: re.Match[str]) -> str:
        return "(.+)" if m.group(1) in GREEDY else "([^/]+)"

    return re.compile("^" + re.sub(r"\{(\w+)\}", part, template) + "$")


def template_for(method: str, path: str) -> str | None:
    """The description's path template for a concrete request path (most literal wins)."""
    candidates = [
        t for t, ops in _spec()["paths"].items() if method in ops and _template_regex(t).match(path)
    ]
    return max(candidates, key=lambda t: len(re.sub(r"\{\w+\}", "", t)), default=None)


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "$defs": _spec()["$defs"]})


def _basic_error() -> dict[str, Any]:
    schema: dict[str, Any] = _spec()["paths"]["/repos/{owner}/{repo}"]["get"]["responses"]["404"]
    return schema


def _explain(err: jsonschema.ValidationError) -> str:
    """The most specific reason, with its JSON path (anyOf errors hide it in `context`)."""
    if err.context:
        err = jsonschema.exceptions.best_match(err.context)
    return f"{'/'.join(map(str, err.absolute_path))}: {err.message[:160]}"


def check_exchange(ex: Exchange) -> list[str]:
    """Everything about one exchange that GitHub's description does not allow."""
    template = template_for(ex.method, ex.path)
    if template is None:
        return [f"{ex.method.upper()} {ex.path}: no such operation in GitHub's description"]
    op = _spec()["paths"][template][ex.method]
    problems: list[str] = []
    where = f"{ex.method.upper()} {template} -> {ex.status}"
    status = str(ex.status)
    if status in op["responses"]:
        schema = op["responses"][status]
    elif ex.status in GENERIC:
        schema = _basic_error()
    else:
        return [f"{where}: status not documented ({sorted(op['responses'])})"]
    if schema is not None:
        if ex.response_json is None and ex.status != 204:
            problems.append(f"{where}: no JSON body")
        for err in _validator(schema).iter_errors(ex.response_json):
            problems.append(f"{where}: {_explain(err)}")
    if op["requestBody"] is not None and ex.request_json is not None:
        for err in _validator(op["requestBody"]).iter_errors(ex.request_json):
            problems.append(f"{where} request: {err.message[:200]}")
    return problems


def served_operations() -> set[tuple[str, str]]:
    """(method, template) of every GitHub route the simulator's app serves."""
    app = create_app(Path("/nonexistent"), "http://sim.invalid", private_key_pem=None)
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, Route) or route.path.startswith(("/_sim", "/git/")):
            continue
        if route.path in WEB_PATHS:  # GitHub's web pages, not its REST API
            continue
        template = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method.lower(), template))
    return found


def test_every_served_route_is_in_the_trimmed_description() -> None:
    described = {(m, t) for t, ops in _spec()["paths"].items() for m in ops}
    assert served_operations() == described


@pytest.fixture
def recorded(github_sim: GitHubSim) -> tuple[Callable[..., GitHub[Any]], list[Exchange]]:
    log: list[Exchange] = []

    def client(installation: int | None = None, **scope: Any) -> GitHub[Any]:
        app = github_sim.app
        gh = GitHub(
            AppAuthStrategy(app.id, app.private_key_pem),
            base_url=github_sim.api_url,
            transport=RecordingTransport(log),
            auto_retry=False,
            # a private token cache: the default one is process-wide
            cache_strategy=MemCacheStrategy(),
        )
        if installation is None:
            return gh
        return gh.with_auth(gh.auth.as_installation(installation, **scope))

    return client, log


def parse(response: Response[Any]) -> Any:
    """githubkit's model of the body: parsing it is the check."""
    return response.parsed_data


def _fails(status: int, call: Callable[[], object]) -> None:
    """The call is refused with `status` (githubkit raises RequestFailed)."""
    with pytest.raises(RequestFailed) as info:
        call()
    assert info.value.response.status_code == status


def test_every_route_answers_as_github_describes(
    github_sim: GitHubSim,
    recorded: tuple[Callable[..., GitHub[Any]], list[Exchange]],
    github_sim_factory: Callable[..., SimServer],
) -> None:
    client, log = recorded
    run_scenario(github_sim, client)
    # Registering an App replaces the simulator's App: a private simulator does that.
    run_manifest_scenario(github_sim_factory().sim, log)
    # /_sim/logs/… stands for the blob storage GitHub redirects job logs to: not the API
    api = [ex for ex in log if not ex.path.startswith("/_sim/")]
    problems = [p for ex in api for p in check_exchange(ex)]
    assert not problems, "\n".join(problems)
    exercised = {(ex.method, template_for(ex.method, ex.path)) for ex in api if ex.status < 400}
    missing = served_operations() - exercised
    assert missing == set(), f"routes the scenario never ran successfully: {sorted(missing)}"


def run_scenario(sim: GitHubSim, client: Callable[..., GitHub[Any]]) -> None:
    """Call every served operation at least once with success, and the usual refusals."""
    o, n = "acme", "widgets"
    repo = sim.create_repo(o, n, {"README.md": "# w\n", "src/app.py": "print(1)\n"})
    sim.fork(o, n, "mallory")
    assert repo.installation_id is not None
    app = client()
    parse(app.rest.apps.get_authenticated())
    parse(app.rest.apps.list_installations())
    inst = app.rest.apps.get_repo_installation(o, n).parsed_data
    token = app.rest.apps.create_installation_access_token(
        inst.id, repositories=[n], permissions={"contents": "read"}
    ).parsed_data
    assert token.token.startswith("ghs_")
    _fails(
        422,
        lambda: app.rest.apps.create_installation_access_token(
            inst.id, permissions={"administration": "write"}
        ),
    )
    _fails(404, lambda: app.rest.apps.get_repo_installation("mallory", n))

    installation = client(inst.id)  # keep a reference: githubkit's namespaces are weak
    gh = installation.rest
    parse(gh.apps.list_repos_accessible_to_installation())
    parse(gh.repos.get(o, n))
    _fails(404, lambda: gh.repos.get("mallory", n))
    main = gh.repos.get_branch(o, n, "main").parsed_data
    parse(gh.repos.get_branch_rules(o, n, "main"))
    _fails(403, lambda: gh.repos.get_branch_protection(o, n, "main"))
    parse(gh.repos.get_content(o, n, "README.md"))
    parse(gh.repos.get_content(o, n, "src"))
    _fails(404, lambda: gh.repos.get_content(o, n, "missing.txt"))
    sim.set_permission(o, n, "alice", "write")
    parse(gh.repos.get_collaborator_permission_level(o, n, "alice"))

    blob = gh.git.create_blob(o, n, content="fixed\n").parsed_data
    parse(gh.git.get_blob(o, n, blob.sha))
    tree = gh.git.create_tree(
        o,
        n,
        base_tree=main.commit.commit.tree.sha,
        tree=[
            {"path": "src/app.py", "mode": "100644", "type": "blob", "sha": blob.sha},
            {"path": "tools/run.sh", "mode": "100755", "type": "blob", "content": "echo\n"},
        ],
    ).parsed_data
    parse(gh.git.get_tree(o, n, tree.sha, recursive="1"))
    commit = gh.git.create_commit(
        o, n, message="Fix app", tree=tree.sha, parents=[main.commit.sha]
    ).parsed_data
    assert commit.verification.verified
    parse(gh.git.get_commit(o, n, commit.sha))
    parse(gh.git.create_ref(o, n, ref="refs/heads/ambient/fix", sha=commit.sha))
    _fails(422, lambda: gh.git.create_ref(o, n, ref="refs/heads/ambient/fix", sha=commit.sha))
    parse(gh.git.get_ref(o, n, "heads/ambient/fix"))
    parse(gh.git.list_matching_refs(o, n, "heads/ambient"))
    parse(gh.git.update_ref(o, n, "heads/ambient/fix", sha=commit.sha, force=False))
    _fails(422, lambda: gh.git.update_ref(o, n, "heads/ambient/fix", sha=main.commit.sha))
    parse(gh.repos.compare_commits(o, n, f"main...{commit.sha}"))

    pull = gh.pulls.create(o, n, title="Fix", head="ambient/fix", base="main").parsed_data
    _fails(422, lambda: gh.pulls.create(o, n, title="Again", head="ambient/fix", base="main"))
    parse(gh.pulls.list(o, n, head=f"{o}:ambient/fix"))
    parse(gh.pulls.get(o, n, pull.number))
    parse(gh.pulls.update(o, n, pull.number, body="Root cause: …"))
    parse(gh.pulls.list_files(o, n, pull.number))
    parse(gh.pulls.request_reviewers(o, n, pull.number, reviewers=["alice"]))
    parse(gh.pulls.list_requested_reviewers(o, n, pull.number))
    _review(sim, f"/_sim/repos/{o}/{n}/pulls/{pull.number}", "alice")
    line = parse(gh.pulls.list_review_comments(o, n, pull.number))[0]
    parse(gh.pulls.list_reviews(o, n, pull.number))
    reply = gh.pulls.create_reply_for_review_comment(o, n, pull.number, line.id, body="Done")
    _fails(
        404,
        lambda: gh.pulls.create_reply_for_review_comment(
            o, n, pull.number, parse(reply).id, body="Again"
        ),
    )

    issue = gh.issues.create(o, n, title="Ambient dashboard", body="- [ ] x").parsed_data
    parse(gh.issues.list_for_repo(o, n, state="all", creator=sim.app.bot_login, per_page=1))
    parse(gh.issues.get(o, n, issue.number))
    parse(gh.issues.update(o, n, issue.number, body="- [x] x"))
    comment = gh.issues.create_comment(o, n, pull.number, body="Working on it").parsed_data
    parse(gh.issues.list_comments(o, n, pull.number))
    parse(gh.issues.get_comment(o, n, comment.id))
    parse(gh.issues.update_comment(o, n, comment.id, body="Done"))
    parse(gh.issues.add_labels(o, n, pull.number, labels=["ambient"]))
    parse(gh.reactions.create_for_issue_comment(o, n, comment.id, content="eyes"))
    parse(gh.reactions.create_for_issue(o, n, issue.number, content="rocket"))
    _fails(404, lambda: gh.issues.get(o, n, 999))

    run = gh.checks.create(
        o, n, name="ambient", head_sha=commit.sha, status="in_progress"
    ).parsed_data
    parse(
        gh.checks.update(
            o,
            n,
            run.id,
            conclusion="success",
            output={"title": "Verified", "summary": "tests pass"},
        )
    )
    parse(gh.checks.list_for_ref(o, n, commit.sha))
    run_id = sim.add_workflow_run(o, n, commit.sha, "ambient/fix", pull_requests=[pull.number])
    parse(gh.checks.list_suites_for_ref(o, n, commit.sha))
    parse(gh.actions.get_workflow_run(o, n, run_id))
    jobs = gh.actions.list_jobs_for_workflow_run(o, n, run_id).parsed_data
    gh.actions.download_job_logs_for_workflow_run(o, n, jobs.jobs[0].id)

    sim.set_app_permissions({**_ALL, "administration": "read"})
    sim.protect(o, n, "main", required_checks=["tests"])
    admin_client = client(inst.id)
    admin = admin_client.rest
    parse(admin.repos.get_branch_protection(o, n, "main"))
    _fails(422, lambda: admin.git.update_ref(o, n, "heads/main", sha=commit.sha))
    admin.git.delete_ref(o, n, "heads/ambient/fix")

    sim.emit(
        "issue_comment", owner=o, name=n, number=pull.number, body="@ambient-test fix", user="alice"
    )
    deliveries = app.rest.apps.list_webhook_deliveries(per_page=10).parsed_data
    parse(app.rest.apps.get_webhook_delivery(deliveries[0].id))
    app.rest.apps.redeliver_webhook_delivery(deliveries[0].id)


def run_manifest_scenario(sim: GitHubSim, log: list[Exchange]) -> None:
    """Register an App from a manifest; convert its code, then once more (refused)."""
    manifest = {
        "name": "Faithful",
        "url": "https://ambient.example",
        "hook_attributes": {"url": "https://ambient.example/webhook"},
        "redirect_url": "http://127.0.0.1:9/callback",
        "default_permissions": {"issues": "write"},
        "default_events": ["issues"],
    }
    answer = httpx.post(
        f"{sim.api_url}/settings/apps/new?state=s", data={"manifest": json.dumps(manifest)}
    )
    code = httpx.URL(answer.headers["location"]).params["code"]
    with GitHub(base_url=sim.api_url, transport=RecordingTransport(log), auto_retry=False) as gh:
        new_app = parse(gh.rest.apps.create_from_manifest(code))
        assert new_app.slug == "faithful"
        _fails(404, lambda: gh.rest.apps.create_from_manifest(code))


def _review(sim: GitHubSim, pull: str, user: str) -> None:
    """A person's line comment and review on the PR (test controls: a token writes as the App)."""
    line = {"user": user, "body": "Rename this", "path": "src/app.py", "line": 1}
    httpx.post(f"{sim.api_url}{pull}/comments", json=line).raise_for_status()
    review = {"user": user, "body": "Nearly", "state": "CHANGES_REQUESTED"}
    httpx.post(f"{sim.api_url}{pull}/reviews", json=review).raise_for_status()


_ALL = {
    "actions": "read",
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "read",
}


def test_the_check_catches_what_github_would_not_send() -> None:
    good = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    assert check_exchange(Exchange("get", "/repos/a/b", 404, None, good)) == []
    assert check_exchange(Exchange("get", "/repos/a/b", 418, None, good)) != []
    assert check_exchange(Exchange("get", "/repos/a/b/nonsense", 200, None, {})) != []
    missing_id = Exchange("get", "/app", 200, None, {"slug": "x"})
    assert any("'id' is a required property" in p for p in check_exchange(missing_id))
    bad_request = Exchange("post", "/repos/a/b/git/refs", 201, {"ref": 1}, None)
    assert any("request" in p for p in check_exchange(bad_request))
