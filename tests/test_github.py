"""The GitHub gateway against the simulator over real HTTP and real git; retry decisions pure."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio
from prometheus_client import REGISTRY

from bot.errors import GitHubRateLimited
from bot.git.changes import FileChange
from bot.git.workspace import Workspace
from bot.github.client import GitHubApp, InstallationClient
from bot.github.codeowners import Reviewers
from bot.github.retry import (
    BranchMoved,
    BranchProtected,
    Failure,
    GitHubAuthFailed,
    GitHubForbidden,
    GitHubNotFound,
    GitHubUnavailable,
    GitHubUnprocessable,
    RetryPolicy,
    classify,
    delay_before_retry,
    error_for,
    retry_after_s,
)
from bot.github.tokens import EARLY_EXPIRY_S
from bot.github.values import Annotation, hidden_marker
from tests.fixtures.redis import RedisServer
from tests.sim.github_client import GitHubSim, SimRepo
from tests.support import free_port

PERMISSIONS = {
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "checks": "write",
    "actions": "read",
    "metadata": "read",
}


class Sleeps(list[float]):
    """An injected sleep: records how long the gateway wanted to wait and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Gateways:
    """Builds GitHubApps and clients against the simulator and closes them after the test."""

    def __init__(self, sim: GitHubSim) -> None:
        self.sim = sim
        self.apps: list[GitHubApp] = []

    def app(self, **kwargs: Any) -> GitHubApp:
        kwargs.setdefault("sleep", Sleeps())
        app = GitHubApp(
            app_id=self.sim.app.id,
            private_key=self.sim.app.private_key_pem,
            base_url=self.sim.api_url,
            app_slug=self.sim.app.slug,
            **kwargs,
        )
        self.apps.append(app)
        return app

    async def client(
        self, repo: SimRepo, permissions: dict[str, str] | None = None, **kwargs: Any
    ) -> InstallationClient:
        app = self.app(**kwargs)
        installation = await app.installation_for(repo.owner, repo.name)
        return await app.installation_client(
            installation, repo.owner, repo.name, permissions or PERMISSIONS
        )


@pytest.fixture
async def gw(github_sim: GitHubSim) -> AsyncIterator[Gateways]:
    gateways = Gateways(github_sim)
    yield gateways
    for app in gateways.apps:
        await app.aclose()


def requests_to(sim: GitHubSim, method: str, suffix: str) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if r["method"] == method and r["path"].endswith(suffix)]


# Pure decisions


@pytest.mark.parametrize(
    ("status", "headers", "message", "kind"),
    [
        (None, {}, "", "network"),
        (429, {}, "", "rate_limited"),
        (403, {"Retry-After": "3"}, "", "rate_limited"),
        (403, {"x-ratelimit-remaining": "0"}, "API rate limit exceeded", "rate_limited"),
        (403, {}, "You have exceeded a secondary rate limit", "rate_limited"),
        (403, {}, "Resource not accessible by integration", "client"),
        (404, {}, "Not Found", "client"),
        (422, {}, "Validation Failed", "client"),
        (500, {}, "", "server"),
        (502, {}, "", "server"),
    ],
)
def test_classify(status: int | None, headers: dict[str, str], message: str, kind: str) -> None:
    assert classify(status, headers, message) == kind


def test_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert retry_after_s({"retry-after": "7"}, now) == 7.0
    assert retry_after_s({"Retry-After": "0.25"}, now) == 0.25
    assert retry_after_s({"retry-after": "Tue, 14 Nov 2023 22:13:40 GMT"}, now) == 20.0
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) + 30)}
    assert retry_after_s(reset, now) == 30.0
    assert retry_after_s({"retry-after": "soon"}, now) is None
    assert retry_after_s({}, now) is None


def test_delays() -> None:
    policy = RetryPolicy(
        max_attempts=4, base_delay_s=1.0, max_delay_s=3.0, max_rate_limit_wait_s=60
    )
    server = Failure(502, "Bad Gateway", {})
    assert [delay_before_retry(server, n, policy, 0.0) for n in (1, 2, 3, 4)] == [1, 2, 3, None]
    limited = Failure(429, "", {"retry-after": "5"})
    assert delay_before_retry(limited, 1, policy, 0.0) == 5
    too_long = Failure(403, "secondary rate limit", {"retry-after": "600"})
    assert delay_before_retry(too_long, 1, policy, 0.0) is None
    assert delay_before_retry(Failure(422, "Validation Failed", {}), 1, policy, 0.0) is None
    # a 503 that says when to come back is believed
    assert delay_before_retry(Failure(503, "", {"retry-after": "9"}), 1, policy, 0.0) == 9


def test_errors_name_the_call_and_the_repository() -> None:
    def err(status: int | None, message: str, headers: dict[str, str] | None = None) -> Exception:
        return error_for("update ref", "octo/hello", Failure(status, message, headers or {}), 0.0)

    moved = err(422, "Update is not a fast forward")
    assert isinstance(moved, BranchMoved)
    assert str(moved) == "GitHub update ref on octo/hello: the branch moved (not a fast forward)"
    assert isinstance(
        err(422, "Protected branch update failed for refs/heads/main."), BranchProtected
    )
    assert isinstance(err(422, "Repository rule violations found"), BranchProtected)
    auth = err(401, "Bad credentials")
    assert isinstance(auth, GitHubAuthFailed)
    assert "AMBIENT_GITHUB_APP_ID" in str(auth)
    assert isinstance(err(403, "Resource not accessible by integration"), GitHubForbidden)
    assert isinstance(err(404, "Not Found"), GitHubNotFound)
    assert isinstance(err(409, "Git Repository is empty."), GitHubUnprocessable)
    assert isinstance(err(None, "ConnectError: refused"), GitHubUnavailable)
    limited = err(429, "", {"retry-after": "90"})
    assert isinstance(limited, GitHubRateLimited)
    assert limited.retry_after_s == 90
    for error in (moved, auth, limited):
        assert "\n" not in str(error)
        assert "octo/hello" in str(error)


# Tokens


async def test_token_is_scoped_to_one_repository_and_the_permissions(
    github_sim: GitHubSim, gw: Gateways
) -> None:
    a = github_sim.create_repo("octo", "a", files={"a.txt": "a\n"})
    github_sim.create_repo("octo", "b", files={"b.txt": "b\n"})
    app = gw.app()
    token = await app.token(a.installation_id or 0, "octo", "a", {"contents": "read"})
    assert token.token not in repr(token)
    minted = requests_to(github_sim, "POST", "/access_tokens")[-1]["json"]
    assert minted == {"repositories": ["a"], "permissions": {"contents": "read"}}
    client_a = InstallationClient(token, "octo", "a", base_url=github_sim.api_url)
    assert (await client_a.get_repo()).full_name == "octo/a"
    assert token.token not in repr(client_a)
    client_b = InstallationClient(token, "octo", "b", base_url=github_sim.api_url)
    with pytest.raises(GitHubNotFound, match=r"GitHub get repository on octo/b failed: 404"):
        await client_b.get_repo()
    with pytest.raises((GitHubForbidden, GitHubNotFound), match="octo/a"):
        await client_a.add_labels(1, ["x"])  # issues permission was not asked for


async def test_tokens_are_cached_in_memory(github_sim: GitHubSim, gw: Gateways) -> None:
    repo = github_sim.create_repo("octo", "cache", files={"a": "a"})
    app = gw.app()
    first = await app.token(repo.installation_id or 0, "octo", "cache", PERMISSIONS)
    again = await app.token(repo.installation_id or 0, "octo", "cache", dict(PERMISSIONS))
    assert first.token == again.token
    assert len(requests_to(github_sim, "POST", "/access_tokens")) == 1
    other = await app.token(repo.installation_id or 0, "octo", "cache", {"contents": "read"})
    assert other.token != first.token


async def test_tokens_are_shared_through_redis(
    github_sim: GitHubSim, redis_server: RedisServer, gw: Gateways
) -> None:
    repo = github_sim.create_repo("octo", "shared", files={"a": "a"})
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        worker_1, worker_2 = gw.app(redis=client), gw.app(redis=client)
        one = await worker_1.token(repo.installation_id or 0, "octo", "shared", PERMISSIONS)
        two = await worker_2.token(repo.installation_id or 0, "octo", "shared", PERMISSIONS)
        assert one.token == two.token
        assert len(requests_to(github_sim, "POST", "/access_tokens")) == 1
        keys = await client.keys("ambient:github-token:*")
        assert len(keys) == 1
        ttl = await client.ttl(keys[0])
        assert 0 < ttl <= 3600 - EARLY_EXPIRY_S
    finally:
        await client.aclose()


async def test_expired_cache_entry_mints_a_new_token(github_sim: GitHubSim, gw: Gateways) -> None:
    repo = github_sim.create_repo("octo", "clock", files={"a": "a"})
    now = [1.0]
    app = gw.app(clock=lambda: now[0])
    await app.token(repo.installation_id or 0, "octo", "clock", PERMISSIONS)
    now[0] = 1e12  # long after the hour the token was valid for
    await app.token(repo.installation_id or 0, "octo", "clock", PERMISSIONS)
    assert len(requests_to(github_sim, "POST", "/access_tokens")) == 2


async def test_installations_and_lookup(github_sim: GitHubSim, gw: Gateways) -> None:
    repo = github_sim.create_repo("octo", "one", files={"a": "a"})
    github_sim.create_repo("other", "two", files={"a": "a"})
    app = gw.app()
    assert await app.installation_for("octo", "one") == repo.installation_id
    assert {login for _id, login in await app.installations()} >= {"octo", "other"}
    github_sim.create_repo("nobody", "x", files={"a": "a"}, install=False)
    with pytest.raises(GitHubNotFound, match="nobody/x"):
        await app.installation_for("nobody", "x")


# Publishing commits


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


async def test_publish_commit_is_verified_and_keeps_modes(
    github_sim: GitHubSim, tmp_path: Path, gw: Gateways
) -> None:
    repo = github_sim.create_repo(
        "octo", "pub", files={"README.md": "hi\n", "run.sh": "#!/bin/sh\n", "old.txt": "x\n"},
        executable={"run.sh"},
    )  # fmt: skip
    client = await gw.client(repo)
    base = await client.branch_sha("main")
    assert base is not None
    changes = {
        "tool.sh": FileChange(b"#!/bin/sh\necho tool\n", "100755"),
        "data.bin": FileChange(bytes(range(256))),
        "link": FileChange(b"README.md", "120000"),
        "old.txt": FileChange(None),
    }
    result = await client.publish_commit(base, "ambient/fix-1", changes, "Fix", create_branch=True)
    assert result.verified
    assert result.created_branch
    assert await client.branch_sha("ambient/fix-1") == result.sha
    commit_request = requests_to(github_sim, "POST", "/git/commits")[-1]["json"]
    assert set(commit_request) == {"message", "tree", "parents"}  # no author: GitHub signs
    async with await client.clone(result.sha, tmp_path / "ws", "check") as ws:
        files = _git(ws.repo, "ls-files", "-s")
        assert "100755" in next(line for line in files.splitlines() if line.endswith("tool.sh"))
        assert "100755" in next(line for line in files.splitlines() if line.endswith("run.sh"))
        assert "120000" in next(line for line in files.splitlines() if line.endswith("link"))
        assert not (ws.repo / "old.txt").exists()
        assert (ws.repo / "data.bin").read_bytes() == bytes(range(256))
        assert f"parent {base}" in _git(ws.repo, "cat-file", "-p", "HEAD")


async def test_publish_fast_forwards_and_refuses_a_moved_branch(
    github_sim: GitHubSim, gw: Gateways
) -> None:
    repo = github_sim.create_repo("octo", "ff", files={"a.txt": "a\n"})
    client = await gw.client(repo)
    base = await client.branch_sha("main")
    assert base is not None
    one = await client.publish_commit(
        base, "ambient/ff", {"a.txt": FileChange(b"1\n")}, "one", create_branch=True
    )
    two = await client.publish_commit(
        one.sha, "ambient/ff", {"a.txt": FileChange(b"2\n")}, "two", create_branch=False
    )
    assert not two.created_branch
    update = requests_to(github_sim, "PATCH", "/git/refs/heads/ambient/ff")[-1]["json"]
    assert update == {"sha": two.sha, "force": False}
    with pytest.raises(BranchMoved, match="octo/ff: the branch moved"):
        await client.publish_commit(
            one.sha, "ambient/ff", {"a.txt": FileChange(b"3\n")}, "stale", create_branch=False
        )
    assert await client.branch_sha("ambient/ff") == two.sha


async def test_retried_create_branch_fast_forwards_the_branch_it_made(
    github_sim: GitHubSim,
    gw: Gateways,
) -> None:
    repo = github_sim.create_repo("octo", "again", files={"a.txt": "a\n"})
    client = await gw.client(repo)
    base = await client.branch_sha("main")
    assert base is not None
    # A crashed job created the branch at the base and died; its retry creates it "again".
    token = github_sim.installation_token("octo", "again", {"contents": "write"})
    made = httpx.post(
        f"{github_sim.api_url}/repos/octo/again/git/refs",
        json={"ref": "refs/heads/ambient/job", "sha": base},
        headers={"Authorization": f"token {token}"},
    )
    assert made.status_code == 201
    result = await client.publish_commit(
        base, "ambient/job", {"a.txt": FileChange(b"b\n")}, "retry", create_branch=True
    )
    assert not result.created_branch
    assert await client.branch_sha("ambient/job") == result.sha


async def test_protected_branch_refuses_the_push(github_sim: GitHubSim, gw: Gateways) -> None:
    repo = github_sim.create_repo("octo", "guarded", files={"a.txt": "a\n"})
    github_sim.protect("octo", "guarded", "main", require_pr=True)
    client = await gw.client(repo)
    base = await client.branch_sha("main")
    assert base is not None
    with pytest.raises(BranchProtected, match="octo/guarded"):
        await client.publish_commit(
            base, "main", {"a.txt": FileChange(b"b\n")}, "direct", create_branch=False
        )
    assert await client.branch_sha("main") == base


# Branch policy


async def test_branch_policy_from_protection_and_rules(github_sim: GitHubSim, gw: Gateways) -> None:
    repo = github_sim.create_repo("octo", "policy", files={"a.txt": "a\n"})
    client = await gw.client(repo)
    assert (await client.branch_policy("main")).may_push
    assert (await client.branch_policy("no-such-branch")).may_push

    github_sim.set_rules("octo", "policy", "main", [{"type": "non_fast_forward"}])
    assert (await client.branch_policy("main")).may_push

    github_sim.set_rules(
        "octo", "policy", "main",
        [{"type": "pull_request", "parameters": {"required_approving_review_count": 1}}],
    )  # fmt: skip
    ruled = await client.branch_policy("main")
    assert not ruled.may_push
    assert ruled.requires_pr

    github_sim.set_rules("octo", "policy", "main", [])
    github_sim.protect("octo", "policy", "main", required_checks=["ci"], require_pr=True)
    protected = await client.branch_policy("main")
    assert protected.protected
    assert not protected.may_push
    # Without administration permission classic protection is hidden: assume a PR is needed.
    assert not protected.details_visible
    assert protected.requires_pr
    assert protected.required_checks == ("ci",)


async def test_branch_policy_with_administration_permission(
    github_sim: GitHubSim, gw: Gateways
) -> None:
    github_sim.set_app_permissions({**PERMISSIONS, "administration": "read"})
    repo = github_sim.create_repo("octo", "admin", files={"a.txt": "a\n"})
    github_sim.protect(
        "octo", "admin", "main", require_pr=False, required_signatures=True, linear_history=True
    )
    client = await gw.client(repo, {**PERMISSIONS, "administration": "read"})
    policy = await client.branch_policy("main")
    assert policy.details_visible
    assert policy.may_push
    assert policy.requires_signatures
    assert policy.linear_history


# Pull requests, comments, reviewers


async def _branch_with_change(client: InstallationClient, branch: str) -> str:
    base = await client.branch_sha("main")
    assert base is not None
    change = {"fix.txt": FileChange(b"fixed\n")}
    result = await client.publish_commit(base, branch, change, "Fix", create_branch=True)
    return result.sha


async def test_a_pull_request_opened_twice_is_one(github_sim: GitHubSim, gw: Gateways) -> None:
    repo = github_sim.create_repo("octo", "prs", files={"a.txt": "a\n"})
    client = await gw.client(repo)
    await _branch_with_change(client, "ambient/pr")
    opened_before = REGISTRY.get_sample_value("ambient_pull_requests_opened_total") or 0.0
    first, created = await client.open_pull_request("ambient/pr", "main", "Fix", "Body")
    again, created_again = await client.open_pull_request("ambient/pr", "main", "Fix", "Body")
    assert created
    assert not created_again
    assert again.number == first.number
    assert first.author == github_sim.app.bot_login
    assert not first.from_fork
    assert len(requests_to(github_sim, "POST", "/octo/prs/pulls")) == 1
    assert REGISTRY.get_sample_value("ambient_pull_requests_opened_total") == opened_before + 1
    assert (await client.get_pull(first.number)).head_sha == first.head_sha


class HideFirstList(httpx.AsyncBaseTransport):
    """Transport seam: forwards to the simulator, but the first PR listing comes back empty,
    as if another worker opened the PR between our look and our create."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.hidden = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/pulls") and not self.hidden:
            self.hidden = True
            return httpx.Response(200, json=[], request=request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_pull_request_race_reuses_the_other_workers_pr(
    github_sim: GitHubSim, gw: Gateways
) -> None:
    repo = github_sim.create_repo("octo", "race", files={"a.txt": "a\n"})
    client = await gw.client(repo)
    await _branch_with_change(client, "ambient/race")
    theirs, _ = await client.open_pull_request("ambient/race", "main", "Fix", "Body")
    transport = HideFirstList()
    racing = await gw.client(repo, transport=transport)
    try:
        mine, created = await racing.open_pull_request("ambient/race", "main", "Fix", "Body")
    finally:
        await transport.aclose()
    assert transport.hidden
    assert not created
    assert mine.number == theirs.number


async def test_a_comment_retried_is_one_comment(github_sim: GitHubSim, gw: Gateways) -> None:
    repo = github_sim.create_repo("octo", "talk", files={"a.txt": "a\n"})
    client = await gw.client(repo)
    await _branch_with_change(client, "ambient/talk")
    pull, _ = await client.open_pull_request("ambient/talk", "main", "Fix", "Body")
    marker = hidden_marker("job:42")
    github_sim.fault("POST", r"/issues/\d+/comments$", 502)
    first = await client.find_or_create_comment(pull.number, marker, "Working on it")
    same = await client.find_or_create_comment(pull.number, marker, "Working on it")
    done = await client.find_or_create_comment(pull.number, marker, "Done")
    assert first.id == same.id == done.id
    assert done.body == f"Done\n\n{marker}"
    assert len([r for r in requests_to(github_sim, "POST", "/comments") if r["status"] == 201]) == 1
    assert len(requests_to(github_sim, "PATCH", f"/issues/comments/{first.id}")) == 1


class LoseAnswer(httpx.AsyncBaseTransport):
    """Transport seam: the first comment POST reaches the simulator, but its answer is lost."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.lost = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/comments") and not self.lost:
            self.lost = True
            await response.aread()
            await response.aclose()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_comment_whose_answer_was_lost_is_not_posted_twice(
    github_sim: GitHubSim, gw: Gateways
) -> None:
    repo = github_sim.create_repo("octo", "lost", files={"a.txt": "a\n"})
    transport = LoseAnswer()
    client = await gw.client(repo, transport=transport)
    try:
        issue = await _issue(github_sim, client)
        comment = await client.find_or_create_comment(issue, hidden_marker("job:7"), "Hello")
    finally:
        await transport.aclose()
    assert transport.lost
    posts = requests_to(github_sim, "POST", f"/issues/{issue}/comments")
    assert len(posts) == 1
    assert comment.body.startswith("Hello")


async def _issue(sim: GitHubSim, client: InstallationClient) -> int:
    await _branch_with_change(client, "ambient/issue")
    pull, _ = await client.open_pull_request("ambient/issue", "main", "Issue", "Body")
    return pull.number


async def test_reactions_labels_and_permissions(github_sim: GitHubSim, gw: Gateways) -> None:
    repo = github_sim.create_repo("octo", "misc", files={"a.txt": "a\n"})
    github_sim.set_permission("octo", "misc", "writer", "write")
    github_sim.set_permission("octo", "misc", "keeper", "maintain")
    client = await gw.client(repo)
    number = await _issue(github_sim, client)
    comment = await client.find_or_create_comment(number, hidden_marker("m"), "hi")
    await client.add_reaction("eyes", comment_id=comment.id)
    await client.add_reaction("rocket", issue_number=number)
    await client.add_labels(number, ["ambient", "bug"])
    assert requests_to(github_sim, "POST", "/labels")[-1]["json"] == {"labels": ["ambient", "bug"]}
    assert len(requests_to(github_sim, "POST", "/reactions")) == 2
    assert await client.permission_of("writer") == "write"
    assert await client.permission_of("keeper") == "maintain"
    assert await client.permission_of("stranger") in ("none", "read")


async def test_codeowners_lookup_order_and_review_requests(
    github_sim: GitHubSim, gw: Gateways
) -> None:
    # No .github/ directory at first: the lookup must treat a missing directory as "not here".
    repo = github_sim.create_repo("octo", "owners", files={"src/app.py": "x\n"})
    for user in ("alice", "bob", "carol"):
        github_sim.set_permission("octo", "owners", user, "write")
    github_sim.set_codeowners("octo", "owners", "* @carol\n", path="docs/CODEOWNERS")
    client = await gw.client(repo)
    main = await client.branch_sha("main")
    assert main is not None
    found = await client.codeowners(main)
    assert found is not None
    assert found.path == "docs/CODEOWNERS"
    github_sim.set_codeowners("octo", "owners", "* @bob\n", path="CODEOWNERS")
    github_sim.set_codeowners(
        "octo", "owners", "* @alice @octo/core\n/src/ @bob @octo/py\n/src/gen/\n"
    )
    main = await client.branch_sha("main")
    assert main is not None
    rules = await client.codeowners(main)
    assert rules is not None
    assert rules.path == ".github/CODEOWNERS"
    assert rules.owners("src/app.py") == ("@bob", "@octo/py")
    assert rules.owners("src/gen/x.py") == ()
    await _branch_with_change(client, "ambient/owners")
    pull, _ = await client.open_pull_request("ambient/owners", "main", "Fix", "Body")
    requested = await client.request_codeowner_reviews(
        pull.number, "main", ["src/app.py", "README.md", "src/gen/x.py"], author="alice"
    )
    assert requested.users == ("bob",)
    assert set(requested.teams) <= {"py", "core"}
    body = requests_to(github_sim, "POST", "/requested_reviewers")[0]["json"]
    assert body == {"reviewers": ["bob"], "team_reviewers": ["py", "core"]}


async def test_codeowners_absent(github_sim: GitHubSim, gw: Gateways) -> None:
    files = {"a.txt": "a\n"}
    repo = github_sim.create_repo("octo", "ownerless", files=files)
    client = await gw.client(repo)
    assert await client.codeowners("main") is None
    assert await client.request_reviewers(1, Reviewers()) == Reviewers()


# Checks and Actions


async def test_check_run_with_many_annotations(github_sim: GitHubSim, gw: Gateways) -> None:
    repo = github_sim.create_repo("octo", "checks", files={"a.py": "x\n"})
    client = await gw.client(repo)
    head = await client.branch_sha("main")
    assert head is not None
    check = await client.create_check_run("Ambient", head, title="Working", summary="Started")
    notes = [Annotation("a.py", 1, 1, f"note {i}", "warning") for i in range(120)]
    await client.update_check_run(
        check, title="Done", summary="Fixed", conclusion="success", annotations=notes
    )
    patches = requests_to(github_sim, "PATCH", f"/check-runs/{check.id}")
    assert [len(p["json"]["output"].get("annotations", [])) for p in patches] == [50, 50, 20]
    assert [p["json"].get("conclusion") for p in patches] == [None, None, "success"]


async def test_the_apps_own_check_run_is_found_and_another_apps_namesake_is_not(
    github_sim: GitHubSim, gw: Gateways
) -> None:
    repo = github_sim.create_repo("octo", "found", files={"a.py": "x\n"})
    client = await gw.client(repo)
    head = await client.branch_sha("main")
    assert head is not None
    # An Actions job named like our run: its text is not ours and is never taken for it.
    jobs = [{"name": "Ambient sweep", "conclusion": "success", "log": "fake evidence\n"}]
    github_sim.add_workflow_run("octo", "found", head, "main", conclusion="success", jobs=jobs)
    assert await client.app_check_run(head, "Ambient sweep") is None
    check = await client.create_check_run("Ambient sweep", head, title="T", summary="working")
    working = await client.app_check_run(head, "Ambient sweep")
    assert working is not None
    assert (working.check.id, working.completed) == (check.id, False)
    await client.update_check_run(check, title="T", summary="evidence", conclusion="success")
    done = await client.app_check_run(head, "Ambient sweep")
    assert done is not None
    assert (done.completed, done.summary) == (True, "evidence")
    assert await client.app_check_run(head, "Ambient fix") is None


async def test_failed_job_logs(github_sim: GitHubSim, gw: Gateways) -> None:
    repo = github_sim.create_repo("octo", "ci", files={"a.py": "x\n"})
    client = await gw.client(repo)
    head = await client.branch_sha("main")
    assert head is not None
    run = github_sim.add_workflow_run(
        "octo", "ci", head, "main",
        jobs=[
            {"name": "lint", "conclusion": "success", "log": "all good\n"},
            {"name": "tests", "conclusion": "failure", "log": "E   assert 1 == 2\nFAILED\n"},
        ],
    )  # fmt: skip
    logs = await client.failed_job_logs(run)
    assert [(log.name, log.conclusion) for log in logs] == [("tests", "failure")]
    assert "assert 1 == 2" in logs[0].text
    tail = await client.failed_job_logs(run, max_bytes=7)
    assert tail[0].text == "FAILED\n"


# Faults: each one recovers or fails with one clear error


@pytest.mark.parametrize(
    ("status", "retry_after", "times", "waits"),
    [
        (500, None, 2, [1.0, 2.0]),
        (502, None, 1, [1.0]),
        (503, 3, 1, [3.0]),
        (429, 2, 1, [2.0]),
        (403, 1, 2, [1.0, 1.0]),  # a secondary rate limit, as GitHub sends it
    ],
)
async def test_transient_faults_recover(
    github_sim: GitHubSim,
    status: int,
    retry_after: int | None,
    times: int,
    waits: list[float],
    gw: Gateways,
) -> None:
    repo = github_sim.create_repo("octo", "flaky", files={"a.txt": "a\n"})
    sleeps = Sleeps()
    client = await gw.client(repo, sleep=sleeps)
    github_sim.fault("GET", r"^/repos/octo/flaky$", status, times=times, retry_after=retry_after)
    assert (await client.get_repo()).name == "flaky"
    assert sleeps == waits


async def test_fractional_retry_after_is_honoured(github_sim: GitHubSim, gw: Gateways) -> None:
    repo = github_sim.create_repo("octo", "frac", files={"a.txt": "a\n"})
    sleeps = Sleeps()
    client = await gw.client(repo, sleep=sleeps)
    github_sim.fault("GET", r"^/repos/octo/frac$", 429, retry_after=0.2)
    assert (await client.get_repo()).name == "frac"
    assert sleeps == [1.0]  # rounded up to whole seconds, never shortened


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, GitHubAuthFailed, "401 Unauthorized (check AMBIENT_GITHUB_APP_ID"),
        (403, GitHubForbidden, "403 Forbidden (the App lacks a permission"),
        (404, GitHubNotFound, "404 Not Found (it does not exist"),
        (422, GitHubUnprocessable, "422 Unprocessable"),
    ],
)
async def test_client_errors_fail_once_with_a_clear_message(
    github_sim: GitHubSim, status: int, error: type[Exception], words: str, gw: Gateways
) -> None:
    repo = github_sim.create_repo("octo", "refuse", files={"a.txt": "a\n"})
    sleeps = Sleeps()
    client = await gw.client(repo, sleep=sleeps)
    github_sim.fault("GET", r"^/repos/octo/refuse$", status)
    with pytest.raises(error) as caught:
        await client.get_repo()
    assert str(caught.value).startswith("GitHub get repository on octo/refuse failed: ")
    assert words in str(caught.value)
    assert sleeps == []


async def test_persistent_server_errors_give_up_retryable(
    github_sim: GitHubSim, gw: Gateways
) -> None:
    repo = github_sim.create_repo("octo", "down", files={"a.txt": "a\n"})
    sleeps = Sleeps()
    client = await gw.client(repo, sleep=sleeps, retry=RetryPolicy(max_attempts=3))
    github_sim.fault("GET", r"^/repos/octo/down$", 502, times=10)
    with pytest.raises(GitHubUnavailable, match="GitHub get repository on octo/down failed: 502"):
        await client.get_repo()
    assert sleeps == [1.0, 2.0]


async def test_long_rate_limit_goes_back_to_the_queue(github_sim: GitHubSim, gw: Gateways) -> None:
    repo = github_sim.create_repo("octo", "slow", files={"a.txt": "a\n"})
    client = await gw.client(repo)
    github_sim.fault("GET", r"^/repos/octo/slow$", 403, retry_after=3600)
    with pytest.raises(GitHubRateLimited, match="octo/slow: rate limited") as caught:
        await client.get_repo()
    assert caught.value.retry_after_s == 3600


async def test_faults_while_minting_a_token_and_publishing(
    github_sim: GitHubSim, gw: Gateways
) -> None:
    repo = github_sim.create_repo("octo", "bumpy", files={"a.txt": "a\n"})
    github_sim.fault("POST", r"/access_tokens$", 502)
    client = await gw.client(repo)
    base = await client.branch_sha("main")
    assert base is not None
    github_sim.fault("POST", r"/git/blobs$", 500)
    github_sim.fault("POST", r"/git/trees$", 429, retry_after=1)
    github_sim.fault("POST", r"/git/commits$", 503)
    github_sim.fault("POST", r"/git/refs$", 502)
    result = await client.publish_commit(
        base, "ambient/bumpy", {"a.txt": FileChange(b"b\n")}, "m", create_branch=True
    )
    assert result.verified
    assert await client.branch_sha("ambient/bumpy") == result.sha


async def test_network_failure_is_a_clear_error() -> None:
    sleeps = Sleeps()
    async with GitHubApp(
        app_id=1,
        private_key=_throwaway_key(),
        base_url=f"http://127.0.0.1:{free_port()}",
        sleep=sleeps,
        retry=RetryPolicy(max_attempts=2),
    ) as app:
        with pytest.raises(
            GitHubUnavailable,
            match=r"^GitHub get installation on octo/x failed: no answer ConnectError",
        ):
            await app.installation_for("octo", "x")
    assert sleeps == [1.0]


def _throwaway_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


async def test_clone_through_the_client(
    github_sim: GitHubSim, tmp_path: Path, gw: Gateways
) -> None:
    repo = github_sim.create_repo("octo", "cl", files={"a.txt": "a\n"})
    client = await gw.client(repo, {"contents": "read", "metadata": "read"})
    head = await client.branch_sha("main")
    assert head is not None
    workspace: Workspace = await client.clone(head, tmp_path / "ws", "job-9")
    async with workspace as ws:
        assert (ws.repo / "a.txt").read_text() == "a\n"
        needle = base64.b64encode(f"x-access-token:{client._token.token}".encode())
        assert needle not in (ws.repo / ".git" / "config").read_bytes()


async def test_webhook_deliveries_pages_and_redelivery(github_sim: GitHubSim, gw: Gateways) -> None:
    github_sim.create_repo("octo", "hooks", files={"a.txt": "a\n"})
    github_sim.set_webhook(f"http://127.0.0.1:{free_port()}/webhook")  # nobody listens: failures
    for _ in range(3):
        github_sim.emit("push", owner="octo", name="hooks", ref="refs/heads/main")
    app = gw.app()
    page, cursor = await app.deliveries(per_page=2)
    assert len(page) == 2
    assert cursor is not None
    rest, end = await app.deliveries(cursor=cursor, per_page=2)
    assert len(rest) == 1
    assert end is None
    assert {d.event for d in (*page, *rest)} == {"push"}
    assert all(not 200 <= d.status_code < 300 for d in (*page, *rest))
    await app.redeliver(rest[0].id)
    newest, _ = await app.deliveries(per_page=1)
    assert newest[0].guid == rest[0].guid
    assert newest[0].redelivery


async def test_paths_and_branches_with_odd_characters(gw: Gateways, github_sim: GitHubSim) -> None:
    repo = github_sim.create_repo("octo", "odd", files={"dir/a b#1?.txt": "odd\n"})
    client = await gw.client(repo)
    assert await client.read_file("dir/a b#1?.txt", "main") == b"odd\n"
    assert await client.read_file("dir/missing.txt", "main") is None
    base = await client.branch_sha("main")
    assert base is not None
    branch = "ambient/fix#12"
    result = await client.publish_commit(
        base, branch, {"x.txt": FileChange(b"x\n")}, "m", create_branch=True
    )
    assert await client.branch_sha(branch) == result.sha
    assert (await client.branch_policy(branch)).may_push


async def test_an_app_signs_with_its_own_key_even_beside_another_with_its_id(
    github_sim: GitHubSim,
) -> None:
    github_sim.create_repo("octo", "keys", files={"a.txt": "a\n"})
    right = GitHubApp(
        app_id=github_sim.app.id,
        private_key=github_sim.app.private_key_pem,
        base_url=github_sim.api_url,
    )
    wrong = GitHubApp(
        app_id=github_sim.app.id,
        private_key=_throwaway_key(),
        base_url=github_sim.api_url,
        retry=RetryPolicy(max_attempts=1),
    )
    async with right, wrong:
        assert await right.installations()
        # A JWT cached for the right key must not stand in for the wrong one.
        with pytest.raises(GitHubAuthFailed):
            await wrong.installations()
