"""GitHubSim: a small synchronous client for the simulator's /_sim/ controls.

`tests.sim.github_server.SimServer` starts a simulator and hands out one of these.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

__all__ = ["GitHubSim", "SimApp", "SimRepo"]

Permission = Literal["admin", "maintain", "write", "triage", "read", "none"]


@dataclass(frozen=True, slots=True)
class SimApp:
    id: int
    slug: str
    private_key_pem: str
    webhook_secret: str = field(repr=False)

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass(frozen=True, slots=True)
class SimRepo:
    owner: str
    name: str
    id: int
    installation_id: int | None
    full_name: str


def _files(files: Mapping[str, str | bytes | None] | None) -> dict[str, Any]:
    encoded: dict[str, Any] = {}
    for path, content in (files or {}).items():
        if isinstance(content, bytes):
            encoded[path] = {"b64": base64.b64encode(content).decode()}
        else:
            encoded[path] = content
    return encoded


class GitHubSim:
    """Controls for one running simulator; every call is one HTTP request to /_sim/."""

    def __init__(self, api_url: str, timeout_s: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self._http = httpx.Client(base_url=self.api_url, timeout=timeout_s)
        self._app: SimApp | None = None

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        resp = self._http.request(method, path, json=body)
        if resp.status_code >= 400:
            raise RuntimeError(f"simulator {method} {path}: {resp.status_code} {resp.text}")
        return resp.json()

    @property
    def app(self) -> SimApp:
        """The one GitHub App (id, slug, private key, webhook secret)."""
        if self._app is None:
            data = self._call("GET", "/_sim/app")
            self._app = SimApp(
                data["id"], data["slug"], data["private_key_pem"], data["webhook_secret"]
            )
        return self._app

    def git_url(self, owner: str, name: str) -> str:
        """Where git clones this repository over smart HTTP."""
        return f"{self.api_url}/git/{owner}/{name}.git"

    def reset(self) -> None:
        """Forget all repos, tokens, issues and deliveries (the App and its key stay)."""
        self._call("POST", "/_sim/reset")

    def create_repo(
        self,
        owner: str,
        name: str,
        files: Mapping[str, str | bytes] | None = None,
        source_dir: Path | None = None,
        default_branch: str = "main",
        private: bool = False,
        executable: Iterable[str] = (),
        install: bool = True,
    ) -> SimRepo:
        """A bare repo with one commit by Octo Cat, installed for the App on `owner`."""
        data = self._call(
            "POST",
            "/_sim/repos",
            {
                "owner": owner,
                "name": name,
                "files": _files(files),
                "source_dir": str(source_dir) if source_dir else None,
                "default_branch": default_branch,
                "private": private,
                "executable": sorted(executable),
                "install": install,
            },
        )
        return SimRepo(**data)

    def commit(
        self,
        owner: str,
        name: str,
        branch: str,
        files: Mapping[str, str | bytes | None],
        message: str = "Update files",
        author_login: str = "octocat",
        executable: Iterable[str] = (),
    ) -> str:
        """A user's push (not through the API, no rules apply); None deletes a file."""
        return str(
            self._call(
                "POST",
                f"/_sim/repos/{owner}/{name}/commits",
                {
                    "branch": branch,
                    "files": _files(files),
                    "message": message,
                    "author_login": author_login,
                    "executable": sorted(executable),
                },
            )["sha"]
        )

    def set_codeowners(
        self,
        owner: str,
        name: str,
        content: str,
        branch: str | None = None,
        path: str = ".github/CODEOWNERS",
    ) -> str:
        """Commit a CODEOWNERS file (to the default branch unless told)."""
        target = branch or self.repo_state(owner, name)["default_branch"]
        return self.commit(owner, name, target, {path: content}, message="Set CODEOWNERS")

    def fork(self, owner: str, name: str, new_owner: str) -> SimRepo:
        """A fork under `new_owner`; it is not in the App's installation until `install`."""
        return SimRepo(
            **self._call("POST", f"/_sim/repos/{owner}/{name}/forks", {"new_owner": new_owner})
        )

    def install(self, owner: str, name: str) -> SimRepo:
        return SimRepo(**self._call("PUT", f"/_sim/repos/{owner}/{name}/installation"))

    def uninstall(self, owner: str, name: str) -> SimRepo:
        return SimRepo(**self._call("DELETE", f"/_sim/repos/{owner}/{name}/installation"))

    def open_pr(
        self,
        owner: str,
        name: str,
        head: str,
        base: str,
        title: str = "Change",
        body: str = "",
        user: str = "octocat",
        head_owner: str | None = None,
    ) -> int:
        """Open a PR as `user`; `head_owner` makes it a fork PR ("<head_owner>:<head>")."""
        return int(
            self._call(
                "POST",
                f"/_sim/repos/{owner}/{name}/pulls",
                {
                    "head": head,
                    "base": base,
                    "title": title,
                    "body": body,
                    "user": user,
                    "head_owner": head_owner,
                },
            )["number"]
        )

    def merge_pr(self, owner: str, name: str, number: int, user: str = "octocat") -> str:
        """`user` merges PR `number` with a merge commit; returns that commit's sha."""
        path = f"/_sim/repos/{owner}/{name}/pulls/{number}/merge"
        return str(self._call("POST", path, {"user": user})["sha"])

    def create_issue(
        self, owner: str, name: str, title: str = "Issue", body: str = "", user: str = "octocat"
    ) -> int:
        """An issue opened by `user` (no event is sent; use `emit("issues", …)`)."""
        return int(
            self._call(
                "POST",
                f"/_sim/repos/{owner}/{name}/issues",
                {"title": title, "body": body, "user": user},
            )["number"]
        )

    def set_permission(self, owner: str, name: str, user: str, permission: Permission) -> None:
        self._call(
            "PUT", f"/_sim/repos/{owner}/{name}/collaborators/{user}", {"permission": permission}
        )

    def protect(
        self,
        owner: str,
        name: str,
        branch: str,
        *,
        required_checks: Iterable[str] = (),
        require_pr: bool = True,
        required_signatures: bool = False,
        linear_history: bool = False,
        enforce_admins: bool = False,
        allow_force_pushes: bool = False,
        require_code_owner_reviews: bool = False,
    ) -> None:
        """Classic branch protection: the branch then reports `protected: true`."""
        self._call(
            "PUT",
            f"/_sim/repos/{owner}/{name}/protection/{branch}",
            {
                "required_checks": list(required_checks),
                "require_pr": require_pr,
                "required_signatures": required_signatures,
                "linear_history": linear_history,
                "enforce_admins": enforce_admins,
                "allow_force_pushes": allow_force_pushes,
                "require_code_owner_reviews": require_code_owner_reviews,
            },
        )

    def unprotect(self, owner: str, name: str, branch: str) -> None:
        self._call("DELETE", f"/_sim/repos/{owner}/{name}/protection/{branch}")

    def set_rules(self, owner: str, name: str, branch: str, rules: list[dict[str, Any]]) -> None:
        """Ruleset rules for one branch, as GET /rules/branches/{b} returns them."""
        self._call("PUT", f"/_sim/repos/{owner}/{name}/rules/{branch}", {"rules": rules})

    def set_app_permissions(self, permissions: Mapping[str, str]) -> None:
        """Change what the App (and so each installation) may be granted."""
        self._call("PUT", "/_sim/app/permissions", dict(permissions))

    def installation_token(
        self, owner: str, name: str, permissions: Mapping[str, str] | None = None
    ) -> str:
        """A token scoped to one repository, minted without the App JWT dance."""
        return str(
            self._call(
                "POST",
                f"/_sim/repos/{owner}/{name}/tokens",
                {"permissions": dict(permissions) if permissions else None},
            )["token"]
        )

    def add_workflow_run(
        self,
        owner: str,
        name: str,
        head_sha: str,
        head_branch: str | None,
        conclusion: str | None = "failure",
        jobs: Iterable[Mapping[str, Any]] = (
            {"name": "tests", "conclusion": "failure", "log": "tests failed\n"},
        ),
        event: str = "push",
        pull_requests: Iterable[int] = (),
    ) -> int:
        """A completed Actions run (and its check suite) with jobs and their logs."""
        return int(
            self._call(
                "POST",
                f"/_sim/repos/{owner}/{name}/workflow-runs",
                {
                    "head_sha": head_sha,
                    "head_branch": head_branch,
                    "conclusion": conclusion,
                    "jobs": [dict(j) for j in jobs],
                    "event": event,
                    "pull_requests": list(pull_requests),
                },
            )["run_id"]
        )

    def repo_state(self, owner: str, name: str) -> dict[str, Any]:
        """Branches, pulls, issues, comments, check runs and labels of one repo, for asserts."""
        result: dict[str, Any] = self._call("GET", f"/_sim/repos/{owner}/{name}/state")
        return result

    def read_file(self, owner: str, name: str, ref: str, path: str) -> bytes | None:
        resp = self._http.get(f"/_sim/raw/{owner}/{name}/{ref}/{path}")
        return resp.content if resp.status_code == 200 else None

    def requests(self) -> list[dict[str, Any]]:
        """Every request made to the API and git, oldest first (Authorization redacted)."""
        result: list[dict[str, Any]] = self._call("GET", "/_sim/requests")
        return result

    def clear_requests(self) -> None:
        self._call("DELETE", "/_sim/requests")

    def fault(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        retry_after: float | None = None,
        delay_s: float = 0.0,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `times` matching requests get `status` (0: only `delay_s`, then normal)."""
        self._call(
            "POST",
            "/_sim/faults",
            {
                "method": method,
                "path_regex": path_regex,
                "status": status,
                "times": times,
                "retry_after": retry_after,
                "delay_s": delay_s,
                "body": body,
                "headers": headers,
            },
        )

    def clear_faults(self) -> None:
        self._call("DELETE", "/_sim/faults")

    def set_webhook(self, url: str | None, secret: str | None = None) -> None:
        """Where events go (the default secret is the App's webhook secret)."""
        self._call("PUT", "/_sim/webhook", {"url": url, "secret": secret})

    def emit(self, event: str, payload: dict[str, Any] | None = None, **kwargs: Any) -> str:
        """Deliver a signed webhook and wait for the receiver's answer; returns the GUID.

        Without `payload` the simulator builds one from its state (see docs/simulator.md).
        The call blocks until the receiver answers: a receiver on the caller's own event
        loop must be driven from another thread (`asyncio.to_thread(sim.emit, …)`).
        """
        data = self._call(
            "POST", "/_sim/emit", {"event": event, "payload": payload, "kwargs": kwargs}
        )
        return str(data["guid"])

    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery made, newest first, with its status code and body."""
        result: list[dict[str, Any]] = self._call("GET", "/_sim/deliveries")
        return result
