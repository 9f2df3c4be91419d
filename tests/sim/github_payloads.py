"""JSON shapes of GitHub's REST objects (users, repos, apps, installations, commits).

Each builder fills every field GitHub's REST description marks required, with URLs that point
back at the simulator, so githubkit's models and the published schemas both accept them.
"""

from __future__ import annotations

import base64
from typing import Any

from tests.sim.github_git import CommitInfo, Person
from tests.sim.github_state import Installation, Repo, SimState, User, iso

__all__ = [
    "app_json",
    "commit_json",
    "git_commit_json",
    "git_person",
    "installation_json",
    "node_id",
    "repo_json",
    "user_json",
]

JSON = dict[str, Any]

_REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def node_id(kind: str, number: int) -> str:
    """An opaque global node id in the style of GitHub's ("R_kgDO…")."""
    return f"{kind}_kgDO" + base64.b64encode(number.to_bytes(6, "big")).decode().rstrip("=")


def user_json(state: SimState, user: User) -> JSON:
    base = state.base_url
    url = f"{base}/users/{user.login}"
    return {
        "login": user.login,
        "id": user.id,
        "node_id": node_id("U" if user.type != "Bot" else "BOT", user.id),
        "avatar_url": f"{base}/avatars/u/{user.id}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": f"{base}/{user.login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": user.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def repo_json(state: SimState, repo: Repo, *, minimal: bool = False, pushed_at: float = 0) -> JSON:
    """full-repository (GET /repos/{o}/{r}); `minimal` for nested minimal-repository."""
    base = state.base_url
    api = f"{base}/repos/{repo.full_name}"
    html = f"{base}/{repo.full_name}"
    host = base.split("://", 1)[-1]
    data: JSON = {
        "id": repo.id,
        "node_id": node_id("R", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": user_json(state, state.user(repo.owner)),
        "html_url": html,
        "description": None,
        "fork": repo.fork_of is not None,
        "url": api,
        **{key: api + suffix for key, suffix in _REPO_URLS.items()},
        "git_url": f"git://{host}/{repo.full_name}.git",
        "ssh_url": f"git@{host.split(':')[0]}:{repo.full_name}.git",
        "clone_url": f"{base}/git/{repo.full_name}.git",
        "svn_url": html,
        "mirror_url": None,
        "homepage": None,
        "language": None,
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.created_at),
        "pushed_at": iso(pushed_at or repo.created_at),
        "size": 1,
        "stargazers_count": 0,
        "watchers_count": 0,
        "forks_count": 0,
        "open_issues_count": 0,
        "forks": 0,
        "open_issues": 0,
        "watchers": 0,
        "default_branch": repo.default_branch,
        "archived": False,
        "disabled": False,
        "visibility": "private" if repo.private else "public",
        "is_template": False,
        "topics": [],
        "license": None,
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": True,
        "has_pages": False,
        "has_discussions": False,
        "permissions": {
            "admin": False,
            "maintain": False,
            "push": True,
            "triage": True,
            "pull": True,
        },
    }
    if minimal:
        return data
    data["network_count"] = 0
    data["subscribers_count"] = 0
    return data


def app_json(state: SimState) -> JSON:
    """integration (GET /app): the one App the simulator hosts."""
    base = state.base_url
    owner = state.user("ambient-dev")
    return {
        "id": state.app_id,
        "slug": state.app_slug,
        "client_id": f"Iv1.{state.app_id:016x}",
        "node_id": node_id("A", state.app_id),
        "owner": user_json(state, owner),
        "name": state.app_slug,
        "description": "Proposes, verifies and publishes code fixes.",
        "external_url": f"{base}/apps/{state.app_slug}",
        "html_url": f"{base}/apps/{state.app_slug}",
        "created_at": iso(state.created_at),
        "updated_at": iso(state.created_at),
        "permissions": dict(state.app_permissions),
        "events": [
            "check_run",
            "check_suite",
            "issue_comment",
            "issues",
            "pull_request",
            "push",
            "workflow_run",
        ],
        "installations_count": len(state.installations),
    }


def installation_json(state: SimState, inst: Installation) -> JSON:
    base = state.base_url
    account = state.user(inst.account)
    return {
        "id": inst.id,
        "account": user_json(state, account),
        "repository_selection": "selected",
        "access_tokens_url": f"{base}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{base}/installation/repositories",
        "html_url": f"{base}/settings/installations/{inst.id}",
        "app_id": state.app_id,
        "app_slug": state.app_slug,
        "client_id": f"Iv1.{state.app_id:016x}",
        "target_id": account.id,
        "target_type": account.type if account.type != "Bot" else "User",
        "permissions": dict(inst.permissions),
        "events": [
            "check_run",
            "check_suite",
            "issue_comment",
            "issues",
            "pull_request",
            "push",
            "workflow_run",
        ],
        "created_at": iso(inst.created_at),
        "updated_at": iso(inst.created_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def git_person(person: Person) -> JSON:
    return {"name": person.name, "email": person.email, "date": iso(person.date)}


def _verification(state: SimState, info: CommitInfo) -> JSON:
    verified = info.sha in state.verified
    return {
        "verified": verified,
        "reason": "valid" if verified else "unsigned",
        "signature": "-----BEGIN PGP SIGNATURE-----\n(simulated)\n-----END PGP SIGNATURE-----\n"
        if verified
        else None,
        "payload": None,
        "verified_at": iso(info.committer.date) if verified else None,
    }


def git_commit_json(state: SimState, repo: Repo, info: CommitInfo) -> JSON:
    """git-commit (Git Data API)."""
    api = f"{state.base_url}/repos/{repo.full_name}"
    html = f"{state.base_url}/{repo.full_name}"
    return {
        "sha": info.sha,
        "node_id": node_id("C", int(info.sha[:12], 16)),
        "url": f"{api}/git/commits/{info.sha}",
        "html_url": f"{html}/commit/{info.sha}",
        "author": git_person(info.author),
        "committer": git_person(info.committer),
        "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
        "message": info.message.removesuffix("\n")
        if info.message.count("\n") == 1
        else info.message,
        "parents": [
            {"sha": p, "url": f"{api}/git/commits/{p}", "html_url": f"{html}/commit/{p}"}
            for p in info.parents
        ],
        "verification": _verification(state, info),
    }


def _login_for(state: SimState, person: Person) -> JSON | None:
    for user in state.users.values():
        if person.email.lower() in (
            f"{user.login}@example.com".lower(),
            f"{user.id}+{user.login}@users.noreply.github.com".lower(),
        ):
            return user_json(state, user)
    return None


def commit_json(state: SimState, repo: Repo, info: CommitInfo) -> JSON:
    """commit (REST commits, compare, branch heads)."""
    api = f"{state.base_url}/repos/{repo.full_name}"
    html = f"{state.base_url}/{repo.full_name}"
    git = git_commit_json(state, repo, info)
    return {
        "url": f"{api}/commits/{info.sha}",
        "sha": info.sha,
        "node_id": git["node_id"],
        "html_url": f"{html}/commit/{info.sha}",
        "comments_url": f"{api}/commits/{info.sha}/comments",
        "commit": {
            "url": git["url"],
            "author": git["author"],
            "committer": git["committer"],
            "message": git["message"],
            "comment_count": 0,
            "tree": git["tree"],
            "verification": git["verification"],
        },
        "author": _login_for(state, info.author),
        "committer": _login_for(state, info.committer),
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{html}/commit/{p}"}
            for p in info.parents
        ],
    }
