"""The GitHub simulator behaves as GitHub does where Ambient can tell the difference.

Everything runs for real: the simulator on a free port, git over smart HTTP, githubkit as the
client, and webhooks delivered to a receiver listening on its own port.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestFailed

from tests.sim.github_client import GitHubSim
from tests.sim.github_server import SimServer
from tests.support import free_port, wait_for_port

OWNER, NAME = "acme", "widgets"
PR_RULE = {
    "type": "pull_request",
    "parameters": {
        "dismiss_stale_reviews_on_push": False,
        "require_code_owner_review": False,
        "require_last_push_approval": False,
        "required_approving_review_count": 1,
        "required_review_thread_resolution": False,
    },
}


def app_client(sim: GitHubSim) -> GitHub[Any]:
    return GitHub(
        AppAuthStrategy(sim.app.id, sim.app.private_key_pem),
        base_url=sim.api_url,
        auto_retry=False,
        cache_strategy=MemCacheStrategy(),
    )


def git_env(tmp: Path, token: str | None) -> dict[str, str]:
    """git's environment, with the token in an extra header passed through GIT_CONFIG_*."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
    }
    if token is not None:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update(
            {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            }
        )
    return env


def git(
    env: dict[str, str], *args: str, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=check, timeout=60
    )


@pytest.fixture
def repo(github_sim: GitHubSim) -> GitHubSim:
    github_sim.create_repo(
        OWNER,
        NAME,
        {"README.md": "# widgets\n", "src/app.py": "print(1)\n"},
        executable={"src/app.py"},
    )
    return github_sim


@pytest.fixture
def clone(repo: GitHubSim, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    env = git_env(tmp_path, repo.installation_token(OWNER, NAME))
    work = tmp_path / "work"
    git(env, "clone", "--quiet", repo.git_url(OWNER, NAME), str(work))
    return work, env


def _commit(work: Path, env: dict[str, str], name: str, content: bytes | str) -> None:
    path = work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "--quiet", "-m", f"change {name}", cwd=work)


# --- app auth and tokens -------------------------------------------------------------------


def test_app_jwt_is_required_and_checked(repo: GitHubSim) -> None:
    with httpx.Client(base_url=repo.api_url) as http:
        assert http.get("/app").status_code == 401
        bad = http.get("/app", headers={"Authorization": "Bearer not.a.jwt"})
        assert bad.status_code == 401
        assert bad.json()["documentation_url"].startswith("https://docs.github.com")
    gh = app_client(repo)
    assert gh.rest.apps.get_authenticated().parsed_data.slug == "ambient-test"


def test_token_is_scoped_to_its_repositories_and_permissions(repo: GitHubSim) -> None:
    repo.create_repo(OWNER, "other")
    gh = app_client(repo)
    inst = gh.rest.apps.get_repo_installation(OWNER, NAME).parsed_data
    token = gh.rest.apps.create_installation_access_token(
        inst.id, repositories=[NAME], permissions={"contents": "read"}
    ).parsed_data
    assert token.token.startswith("ghs_")
    assert token.permissions.contents == "read"
    headers = {"Authorization": f"token {token.token}"}
    with httpx.Client(base_url=repo.api_url, headers=headers) as http:
        assert http.get(f"/repos/{OWNER}/{NAME}").status_code == 200
        assert http.get(f"/repos/{OWNER}/other").status_code == 404
        denied = http.post(f"/repos/{OWNER}/{NAME}/git/blobs", json={"content": "x"})
        assert denied.status_code == 403
        assert denied.json()["message"] == "Resource not accessible by integration"
        assert (
            http.get(f"/repos/{OWNER}/{NAME}", headers={"Authorization": "token ghs_x"}).status_code
            == 401
        )


def test_token_cannot_widen_the_installation(repo: GitHubSim) -> None:
    gh = app_client(repo)
    inst = gh.rest.apps.get_repo_installation(OWNER, NAME).parsed_data
    with pytest.raises(RequestFailed) as info:
        gh.rest.apps.create_installation_access_token(
            inst.id, permissions={"administration": "write"}
        )
    assert info.value.response.status_code == 422
    with pytest.raises(RequestFailed):
        gh.rest.apps.create_installation_access_token(inst.id, repositories=["nope"])


def test_tokens_vary_in_length(repo: GitHubSim) -> None:
    lengths = {len(repo.installation_token(OWNER, NAME)) for _ in range(12)}
    assert len(lengths) > 1


def test_fork_is_outside_the_installation_until_installed(repo: GitHubSim) -> None:
    fork = repo.fork(OWNER, NAME, "mallory")
    assert fork.installation_id is None
    gh = app_client(repo)
    with pytest.raises(RequestFailed):
        gh.rest.apps.get_repo_installation("mallory", NAME)
    assert repo.install("mallory", NAME).installation_id is not None


# --- git smart HTTP ------------------------------------------------------------------------


def test_git_refuses_without_a_valid_token(repo: GitHubSim, tmp_path: Path) -> None:
    url = f"{repo.git_url(OWNER, NAME)}/info/refs?service=git-upload-pack"
    with httpx.Client() as http:
        for auth in (
            None,
            "Basic " + base64.b64encode(b"x-access-token:ghs_nope").decode(),
            "token whatever",
        ):
            resp = http.get(url, headers={"Authorization": auth} if auth else {})
            assert resp.status_code == 401
            assert resp.headers["www-authenticate"] == 'Basic realm="GitHub"'
    failed = git(git_env(tmp_path, None), "ls-remote", repo.git_url(OWNER, NAME), check=False)
    assert failed.returncode != 0


def test_git_accepts_bearer_and_basic(repo: GitHubSim) -> None:
    token = repo.installation_token(OWNER, NAME)
    url = f"{repo.git_url(OWNER, NAME)}/info/refs?service=git-upload-pack"
    basic = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
    with httpx.Client() as http:
        for auth in (basic, f"Bearer {token}"):
            resp = http.get(url, headers={"Authorization": auth})
            assert resp.status_code == 200
            assert resp.headers["content-type"] == "application/x-git-upload-pack-advertisement"


def test_clone_push_and_read_back_through_the_api(
    clone: tuple[Path, dict[str, str]], repo: GitHubSim
) -> None:
    work, env = clone
    assert (work / "src" / "app.py").stat().st_mode & 0o100
    _commit(work, env, "notes.txt", "pushed\n")
    git(env, "push", "--quiet", "origin", "HEAD:main", cwd=work)
    assert repo.read_file(OWNER, NAME, "main", "notes.txt") == b"pushed\n"


def test_large_push_streams_through(clone: tuple[Path, dict[str, str]], repo: GitHubSim) -> None:
    work, env = clone
    blob = os.urandom(6 * 1024 * 1024)  # incompressible, past git's 1 MiB post buffer
    _commit(work, env, "big.bin", blob)
    git(env, "push", "--quiet", "origin", "HEAD:big", cwd=work)
    assert repo.read_file(OWNER, NAME, "big", "big.bin") == blob


def test_gzip_request_body_is_inflated(repo: GitHubSim) -> None:
    token = repo.installation_token(OWNER, NAME)
    head = repo.repo_state(OWNER, NAME)["branches"]["main"]

    def pkt(line: str) -> bytes:
        return f"{len(line) + 4:04x}{line}".encode()

    body = pkt(f"want {head} no-progress\n") + b"0000" + pkt("done\n")
    with httpx.Client() as http:
        resp = http.post(
            f"{repo.git_url(OWNER, NAME)}/git-upload-pack",
            content=gzip.compress(body),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Encoding": "gzip",
                "Content-Type": "application/x-git-upload-pack-request",
            },
        )
    assert resp.status_code == 200
    assert resp.content.startswith(b"0008NAK\n")
    assert b"PACK" in resp.content


def test_read_only_token_cannot_push(
    clone: tuple[Path, dict[str, str]], repo: GitHubSim, tmp_path: Path
) -> None:
    work, _ = clone
    env = git_env(tmp_path, repo.installation_token(OWNER, NAME, {"contents": "read"}))
    _commit(work, env, "x.txt", "x")
    pushed = git(env, "push", "origin", "HEAD:main", cwd=work, check=False)
    assert pushed.returncode != 0
    assert "403" in pushed.stderr or "denied" in pushed.stderr


def test_push_to_protected_branch_is_refused_as_github_does(
    clone: tuple[Path, dict[str, str]], repo: GitHubSim
) -> None:
    work, env = clone
    repo.protect(OWNER, NAME, "main")
    _commit(work, env, "x.txt", "x")
    pushed = git(env, "push", "origin", "HEAD:main", cwd=work, check=False)
    assert pushed.returncode != 0
    assert "GH006: Protected branch update failed for refs/heads/main." in pushed.stderr
    assert "Changes must be made through a pull request." in pushed.stderr
    git(env, "push", "--quiet", "origin", "HEAD:feature", cwd=work)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (PR_RULE, "Changes must be made through a pull request."),
        (
            {"type": "update", "parameters": {"update_allows_fetch_and_merge": False}},
            "Cannot update this protected ref.",
        ),
        ({"type": "required_signatures"}, "Commits must have verified signatures."),
    ],
)
def test_push_against_rules_is_refused(
    clone: tuple[Path, dict[str, str]], repo: GitHubSim, rule: dict[str, Any], message: str
) -> None:
    work, env = clone
    repo.set_rules(OWNER, NAME, "main", [rule])
    _commit(work, env, "x.txt", "x")
    pushed = git(env, "push", "origin", "HEAD:main", cwd=work, check=False)
    assert pushed.returncode != 0
    assert "GH013: Repository rule violations found for refs/heads/main." in pushed.stderr
    assert message in pushed.stderr


def test_force_push_against_non_fast_forward_rule(
    clone: tuple[Path, dict[str, str]], repo: GitHubSim
) -> None:
    work, env = clone
    repo.set_rules(OWNER, NAME, "main", [{"type": "non_fast_forward"}])
    _commit(work, env, "a.txt", "a")
    git(env, "push", "--quiet", "origin", "HEAD:main", cwd=work)
    git(env, "reset", "--quiet", "--hard", "HEAD~1", cwd=work)
    _commit(work, env, "b.txt", "b")
    pushed = git(env, "push", "--force", "origin", "HEAD:main", cwd=work, check=False)
    assert pushed.returncode != 0
    assert "Cannot force-push to this branch" in pushed.stderr


# --- REST: git data and refs ---------------------------------------------------------------


def _installation(sim: GitHubSim) -> GitHub[Any]:
    gh = app_client(sim)
    inst = gh.rest.apps.get_repo_installation(OWNER, NAME).parsed_data
    return gh.with_auth(gh.auth.as_installation(inst.id))


def test_api_commit_is_verified_and_visible_to_a_clone(repo: GitHubSim, tmp_path: Path) -> None:
    client = _installation(repo)
    gh = client.rest
    main = gh.repos.get_branch(OWNER, NAME, "main").parsed_data
    tree = gh.git.create_tree(
        OWNER,
        NAME,
        base_tree=main.commit.commit.tree.sha,
        tree=[
            {"path": "src/app.py", "mode": "100755", "type": "blob", "content": "print(2)\n"},
            {"path": "README.md", "mode": "100644", "type": "blob", "sha": None},
        ],
    ).parsed_data
    commit = gh.git.create_commit(
        OWNER, NAME, message="Fix", tree=tree.sha, parents=[main.commit.sha]
    ).parsed_data
    assert commit.verification.verified is True
    assert commit.verification.reason == "valid"
    assert commit.author.name == "ambient-test[bot]"
    custom = gh.git.create_commit(
        OWNER,
        NAME,
        message="Mine",
        tree=tree.sha,
        parents=[main.commit.sha],
        author={"name": "Dev", "email": "dev@example.com", "date": "2024-01-01T00:00:00Z"},
    ).parsed_data
    assert custom.verification.verified is False
    assert custom.verification.reason == "unsigned"
    gh.git.update_ref(OWNER, NAME, "heads/main", sha=commit.sha)
    env = git_env(tmp_path, repo.installation_token(OWNER, NAME))
    git(env, "clone", "--quiet", repo.git_url(OWNER, NAME), str(tmp_path / "c"))
    assert (tmp_path / "c" / "src" / "app.py").read_text() == "print(2)\n"
    assert not (tmp_path / "c" / "README.md").exists()


def test_ref_update_rules(repo: GitHubSim) -> None:
    client = _installation(repo)
    gh = client.rest
    first = repo.repo_state(OWNER, NAME)["branches"]["main"]
    second = repo.commit(OWNER, NAME, "main", {"x.txt": "x"})
    with pytest.raises(RequestFailed) as info:
        gh.git.update_ref(OWNER, NAME, "heads/main", sha=first)
    assert info.value.response.json()["message"] == "Update is not a fast forward"
    gh.git.update_ref(OWNER, NAME, "heads/main", sha=first, force=True)
    repo.protect(OWNER, NAME, "main")
    with pytest.raises(RequestFailed) as info:
        gh.git.update_ref(OWNER, NAME, "heads/main", sha=second)
    assert info.value.response.status_code == 422
    assert "Protected branch update failed" in info.value.response.json()["message"]
    repo.unprotect(OWNER, NAME, "main")
    repo.set_rules(OWNER, NAME, "main", [PR_RULE])
    with pytest.raises(RequestFailed) as info:
        gh.git.update_ref(OWNER, NAME, "heads/main", sha=second)
    assert "Changes must be made through a pull request." in info.value.response.json()["message"]
    assert gh.repos.get_branch_rules(OWNER, NAME, "main").parsed_data[0].type == "pull_request"


def test_branch_reports_protection(repo: GitHubSim) -> None:
    client = _installation(repo)
    assert client.rest.repos.get_branch(OWNER, NAME, "main").parsed_data.protected is False
    repo.protect(OWNER, NAME, "main", required_checks=["tests"])
    branch = client.rest.repos.get_branch(OWNER, NAME, "main").parsed_data
    assert branch.protected is True
    assert branch.protection.required_status_checks.contexts == ["tests"]


def test_contents_and_missing_files(repo: GitHubSim) -> None:
    client = _installation(repo)
    content = client.rest.repos.get_content(OWNER, NAME, "README.md", ref="main").parsed_data
    assert base64.b64decode(content.content) == b"# widgets\n"
    with pytest.raises(RequestFailed) as info:
        client.rest.repos.get_content(OWNER, NAME, "nope.md")
    assert info.value.response.status_code == 404


# --- pulls, issues, comments ---------------------------------------------------------------


def test_pull_request_dedupe_and_fork_pulls(repo: GitHubSim) -> None:
    client = _installation(repo)
    gh = client.rest
    repo.commit(OWNER, NAME, "feature", {"f.txt": "f"})
    pull = gh.pulls.create(OWNER, NAME, title="F", head="feature", base="main").parsed_data
    assert pull.head.ref == "feature"
    with pytest.raises(RequestFailed) as info:
        gh.pulls.create(OWNER, NAME, title="F", head="feature", base="main")
    errors = info.value.response.json()["errors"]
    assert errors[0]["message"] == f"A pull request already exists for {OWNER}:feature."
    repo.fork(OWNER, NAME, "mallory")
    repo.commit("mallory", NAME, "evil", {"evil.txt": "x"}, author_login="mallory")
    number = repo.open_pr(
        OWNER, NAME, head="evil", base="main", user="mallory", head_owner="mallory"
    )
    fork_pull = gh.pulls.get(OWNER, NAME, number).parsed_data
    assert fork_pull.head.repo is not None
    assert fork_pull.head.repo.full_name == f"mallory/{NAME}"
    assert [f.filename for f in gh.pulls.list_files(OWNER, NAME, number).parsed_data] == [
        "evil.txt"
    ]
    listed = gh.pulls.list(OWNER, NAME, head="mallory:evil").parsed_data
    assert [p.number for p in listed] == [number]


def test_bot_comments_and_reviewers(repo: GitHubSim) -> None:
    client = _installation(repo)
    gh = client.rest
    number = repo.create_issue(OWNER, NAME, title="Bug", user="alice")
    comment = gh.issues.create_comment(OWNER, NAME, number, body="On it").parsed_data
    assert comment.user is not None
    assert (comment.user.login, comment.user.type) == ("ambient-test[bot]", "Bot")
    repo.commit(OWNER, NAME, "feature", {"f.txt": "f"})
    pull = gh.pulls.create(OWNER, NAME, title="F", head="feature", base="main").parsed_data
    with pytest.raises(RequestFailed):
        gh.pulls.request_reviewers(OWNER, NAME, pull.number, reviewers=["stranger"])
    repo.set_permission(OWNER, NAME, "bob", "write")
    gh.pulls.request_reviewers(OWNER, NAME, pull.number, reviewers=["bob"], team_reviewers=["core"])
    state = repo.repo_state(OWNER, NAME)
    assert state["pulls"][0]["requested_reviewers"] == ["bob"]
    assert state["comments"][0]["body"] == "On it"


def test_collaborator_permission_levels(repo: GitHubSim) -> None:
    client = _installation(repo)
    for role, legacy in (
        ("admin", "admin"),
        ("maintain", "write"),
        ("triage", "read"),
        ("none", "none"),
    ):
        repo.set_permission(OWNER, NAME, "carol", role)
        got = client.rest.repos.get_collaborator_permission_level(OWNER, NAME, "carol").parsed_data
        assert (got.permission, got.role_name) == (legacy, role)


# --- checks and actions --------------------------------------------------------------------


def test_workflow_run_jobs_and_logs(repo: GitHubSim) -> None:
    client = _installation(repo)
    gh = client.rest
    sha = repo.repo_state(OWNER, NAME)["branches"]["main"]
    run_id = repo.add_workflow_run(
        OWNER,
        NAME,
        sha,
        "main",
        jobs=[{"name": "tests", "conclusion": "failure", "log": "FAILED test_x\n"}],
    )
    run = gh.actions.get_workflow_run(OWNER, NAME, run_id).parsed_data
    assert (run.conclusion, run.head_sha) == ("failure", sha)
    jobs = gh.actions.list_jobs_for_workflow_run(OWNER, NAME, run_id).parsed_data.jobs
    with httpx.Client(base_url=repo.api_url) as http:
        token = repo.installation_token(OWNER, NAME)
        resp = http.get(
            f"/repos/{OWNER}/{NAME}/actions/jobs/{jobs[0].id}/logs",
            headers={"Authorization": f"token {token}"},
        )
        assert resp.status_code == 302
        log = http.get(resp.headers["location"])
    assert log.text == "FAILED test_x\n"
    assert log.headers["content-type"].startswith("text/plain")
    suites = gh.checks.list_suites_for_ref(OWNER, NAME, sha).parsed_data
    assert [s.conclusion for s in suites.check_suites] == ["failure"]


def test_check_run_lifecycle(repo: GitHubSim) -> None:
    client = _installation(repo)
    gh = client.rest
    sha = repo.repo_state(OWNER, NAME)["branches"]["main"]
    run = gh.checks.create(
        OWNER, NAME, name="ambient", head_sha=sha, status="in_progress"
    ).parsed_data
    done = gh.checks.update(
        OWNER, NAME, run.id, conclusion="success", output={"title": "ok", "summary": "verified"}
    ).parsed_data
    assert (done.status, done.conclusion) == ("completed", "success")
    listed = gh.checks.list_for_ref(OWNER, NAME, "main").parsed_data
    assert [r.name for r in listed.check_runs] == ["ambient"]


# --- webhooks ------------------------------------------------------------------------------


class Receiver(ThreadingHTTPServer):
    def __init__(self, port: int, status: int) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = status
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers.items()), body))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port(), 202)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    wait_for_port(server.server_address[1])
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _parse(event: str, body: bytes) -> Any:
    from githubkit import webhooks

    return webhooks.parse(event, body)


def test_emitted_webhooks_are_signed_and_parse(repo: GitHubSim, receiver: Receiver) -> None:
    repo.set_webhook(f"http://127.0.0.1:{receiver.server_address[1]}/webhook")
    sha = repo.commit(OWNER, NAME, "feature", {"f.txt": "f"})
    number = repo.open_pr(OWNER, NAME, head="feature", base="main")
    issue = repo.create_issue(OWNER, NAME, title="Bug")
    run_id = repo.add_workflow_run(OWNER, NAME, sha, "feature", pull_requests=[number])
    emits: list[tuple[str, dict[str, Any]]] = [
        ("issue_comment", {"number": number, "body": "@ambient-test fix", "user": "alice"}),
        ("check_suite", {"head_sha": sha, "conclusion": "failure"}),
        ("workflow_run", {"run_id": run_id}),
        ("pull_request", {"number": number, "action": "opened"}),
        ("issues", {"number": issue, "user": "alice"}),
        ("push", {"ref": "refs/heads/feature", "after": sha}),
        ("installation", {}),
        ("installation_repositories", {}),
    ]
    secret = repo.app.webhook_secret.encode()
    for event, kwargs in emits:
        guid = repo.emit(event, owner=OWNER, name=NAME, **kwargs)
        headers, body = receiver.received[-1]
        assert headers["X-GitHub-Event"] == event
        assert headers["X-GitHub-Delivery"] == guid
        assert headers["User-Agent"].startswith("GitHub-Hookshot/")
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Hub-Signature-256"], expected)
        payload = json.loads(body)
        assert payload["installation"]["id"] > 0
        _parse(event, body)
    comment = json.loads(receiver.received[0][1])
    assert comment["issue"]["pull_request"]["url"].endswith(f"/pulls/{number}")
    assert comment["sender"]["type"] == "User"
    listed = repo.repo_state(OWNER, NAME)["comments"]
    assert [c["body"] for c in listed] == ["@ambient-test fix"]


def test_bot_sender_is_a_bot(repo: GitHubSim, receiver: Receiver) -> None:
    repo.set_webhook(f"http://127.0.0.1:{receiver.server_address[1]}/")
    number = repo.create_issue(OWNER, NAME)
    repo.emit(
        "issue_comment", owner=OWNER, name=NAME, number=number, body="hi", user="ambient-test[bot]"
    )
    assert json.loads(receiver.received[-1][1])["sender"]["type"] == "Bot"


def test_deliveries_list_page_and_redeliver(repo: GitHubSim, receiver: Receiver) -> None:
    repo.set_webhook(f"http://127.0.0.1:{receiver.server_address[1]}/", secret="s3cret")
    for _ in range(3):
        repo.emit("ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
    headers, body = receiver.received[-1]
    assert headers["X-Hub-Signature-256"] == (
        "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    )
    gh = app_client(repo)
    first = gh.rest.apps.list_webhook_deliveries(per_page=2)
    assert len(first.parsed_data) == 2
    assert 'rel="next"' in first.headers["link"]
    everything = [d.id for d in gh.rest.paginate(gh.rest.apps.list_webhook_deliveries, per_page=2)]
    assert len(everything) == 3
    target = first.parsed_data[0]
    gh.rest.apps.redeliver_webhook_delivery(target.id)
    redelivered = gh.rest.apps.list_webhook_deliveries().parsed_data[0]
    assert (redelivered.guid, redelivered.redelivery) == (target.guid, True)
    original = next(
        body for head, body in receiver.received if head["X-GitHub-Delivery"] == target.guid
    )
    assert receiver.received[-1][0]["X-GitHub-Delivery"] == target.guid
    assert receiver.received[-1][1] == original


def test_failed_delivery_is_logged(repo: GitHubSim) -> None:
    repo.set_webhook(f"http://127.0.0.1:{free_port()}/")
    repo.emit("ping", {"zen": "x"})
    gh = app_client(repo)
    item = gh.rest.apps.list_webhook_deliveries().parsed_data[0]
    assert item.status_code == 0


# --- faults and the request log ------------------------------------------------------------


def test_secondary_rate_limit_fault(repo: GitHubSim) -> None:
    repo.fault("GET", r"^/repos/acme/widgets$", 403, times=1, retry_after=7)
    token = repo.installation_token(OWNER, NAME)
    with httpx.Client(base_url=repo.api_url, headers={"Authorization": f"token {token}"}) as http:
        limited = http.get(f"/repos/{OWNER}/{NAME}")
        assert limited.status_code == 403
        assert limited.headers["retry-after"] == "7"
        assert "secondary rate limit" in limited.json()["message"]
        assert http.get(f"/repos/{OWNER}/{NAME}").status_code == 200


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_status_faults(repo: GitHubSim, status: int) -> None:
    repo.fault("*", r"/pulls", status, times=2)
    token = repo.installation_token(OWNER, NAME)
    with httpx.Client(base_url=repo.api_url, headers={"Authorization": f"token {token}"}) as http:
        codes = [http.get(f"/repos/{OWNER}/{NAME}/pulls").status_code for _ in range(3)]
    assert codes == [status, status, 200]


def test_delay_fault_then_normal_answer(repo: GitHubSim) -> None:
    repo.fault("GET", r"^/app$", 0, delay_s=0.05)
    assert app_client(repo).rest.apps.get_authenticated().status_code == 200
    assert [r["status"] for r in repo.requests() if r["path"] == "/app"] == [200]


def test_githubkit_retries_through_a_5xx(repo: GitHubSim) -> None:
    repo.fault("GET", r"^/app$", 502, times=1)
    gh = GitHub(
        AppAuthStrategy(repo.app.id, repo.app.private_key_pem),
        base_url=repo.api_url,
        cache_strategy=MemCacheStrategy(),
    )
    assert gh.rest.apps.get_authenticated().parsed_data.slug == "ambient-test"
    assert [r["status"] for r in repo.requests() if r["path"] == "/app"] == [502, 200]


def test_requests_are_recorded_with_tokens_redacted(repo: GitHubSim) -> None:
    client = _installation(repo)
    inst_id = _inst_id(repo)
    repo.clear_requests()
    client.rest.issues.create(OWNER, NAME, title="T", body="B")
    log = repo.requests()
    assert [(r["method"], r["path"]) for r in log] == [
        ("POST", f"/app/installations/{inst_id}/access_tokens"),
        ("POST", f"/repos/{OWNER}/{NAME}/issues"),
    ]
    created = log[-1]
    assert created["json"] == {"title": "T", "body": "B"}
    assert created["status"] == 201
    auth = created["headers"]["authorization"]
    assert auth.startswith("token ghs_")
    assert auth.endswith("…")
    assert len(auth) < 20


def _inst_id(sim: GitHubSim) -> int:
    gh = app_client(sim)
    return gh.rest.apps.get_repo_installation(OWNER, NAME).parsed_data.id


# --- process -------------------------------------------------------------------------------


def test_runs_as_a_module(tmp_path: Path) -> None:
    port = free_port()
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.sim.github",
            "--port",
            str(port),
            "--data",
            str(tmp_path / "data"),
            "--app-slug",
            "other-app",
        ],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, timeout_s=30)
        sim = GitHubSim(f"http://127.0.0.1:{port}")
        assert sim.app.slug == "other-app"
        made = sim.create_repo("o", "r")
        assert made.full_name == "o/r"
        assert (tmp_path / "data").is_dir()
        sim.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def test_concurrent_ref_creation_has_one_winner(repo: GitHubSim) -> None:
    sha = repo.repo_state(OWNER, NAME)["branches"]["main"]
    token = repo.installation_token(OWNER, NAME)

    def create(_: int) -> int:
        with httpx.Client(base_url=repo.api_url) as http:
            return http.post(
                f"/repos/{OWNER}/{NAME}/git/refs",
                json={"ref": "refs/heads/race", "sha": sha},
                headers={"Authorization": f"token {token}"},
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(create, range(8)))
    assert codes == [201] + [422] * 7


def test_private_simulator_from_the_factory(
    github_sim_factory: Callable[..., SimServer], github_sim: GitHubSim
) -> None:
    private = github_sim_factory(app_slug="other-app").sim
    assert private.app.slug == "other-app"
    assert private.app.private_key_pem != github_sim.app.private_key_pem
    private.create_repo(OWNER, NAME)
    assert github_sim.read_file(OWNER, NAME, "main", "README.md") is None
