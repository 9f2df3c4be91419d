"""Repository routes: repo, branches, protection, rules, contents, permissions, compare."""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.github_auth import NOT_ACCESSIBLE, Refused, allows, need_repo
from tests.sim.github_context import Sim, caller_repo, sim_of
from tests.sim.github_git import DiffFile, Git
from tests.sim.github_payloads import commit_json, repo_json, user_json
from tests.sim.github_state import Repo

__all__ = ["ROUTES", "branch_protection_json", "diff_entry_json", "rules_json"]

JSON = dict[str, Any]
_LEGACY = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


async def get_repo(request: Request) -> Response:
    repo = caller_repo(request, "metadata")[1]
    return JSONResponse(repo_json(sim_of(request).state, repo))


def branch_protection_json(sim: Sim, repo: Repo, branch: str) -> JSON:
    """branch-protection, from the sim's compact record set by `protect()`."""
    prot = repo.protection[branch]
    url = f"{sim.state.base_url}/repos/{repo.full_name}/branches/{branch}/protection"
    checks = list(prot.get("required_checks", []))
    data: JSON = {
        "url": url,
        "required_status_checks": {
            "url": f"{url}/required_status_checks",
            "strict": False,
            "contexts": checks,
            "contexts_url": f"{url}/required_status_checks/contexts",
            "checks": [{"context": c, "app_id": None} for c in checks],
        },
        "required_signatures": {
            "url": f"{url}/required_signatures",
            "enabled": bool(prot.get("required_signatures")),
        },
        "enforce_admins": {
            "url": f"{url}/enforce_admins",
            "enabled": bool(prot.get("enforce_admins")),
        },
        "required_linear_history": {"enabled": bool(prot.get("linear_history"))},
        "allow_force_pushes": {"enabled": bool(prot.get("allow_force_pushes"))},
        "allow_deletions": {"enabled": False},
        "block_creations": {"enabled": False},
        "required_conversation_resolution": {"enabled": False},
        "lock_branch": {"enabled": False},
        "allow_fork_syncing": {"enabled": False},
    }
    if prot.get("require_pr"):
        data["required_pull_request_reviews"] = {
            "url": f"{url}/required_pull_request_reviews",
            "dismiss_stale_reviews": False,
            "require_code_owner_reviews": bool(prot.get("require_code_owner_reviews")),
            "required_approving_review_count": int(prot.get("required_approving_review_count", 1)),
            "require_last_push_approval": False,
        }
    return data


async def get_branch(request: Request) -> Response:
    sim = sim_of(request)
    repo = caller_repo(request, "metadata")[1]
    branch = request.path_params["branch"]
    git = sim.git(repo)
    sha = await git.ref_sha(f"refs/heads/{branch}")
    if sha is None:
        raise Refused(404, "Branch not found")
    api = f"{sim.state.base_url}/repos/{repo.full_name}"
    prot = repo.protection.get(branch)
    checks = list(prot.get("required_checks", [])) if prot else []
    return JSONResponse(
        {
            "name": branch,
            "commit": commit_json(sim.state, repo, await git.read_commit(sha)),
            "_links": {
                "self": f"{api}/branches/{branch}",
                "html": f"{sim.state.base_url}/{repo.full_name}/tree/{branch}",
            },
            "protected": prot is not None,
            "protection": {
                "enabled": prot is not None,
                "required_status_checks": {
                    "enforcement_level": "non_admins" if checks else "off",
                    "contexts": checks,
                    "checks": [{"context": c, "app_id": None} for c in checks],
                },
            },
            "protection_url": f"{api}/branches/{branch}/protection",
        }
    )


async def get_protection(request: Request) -> Response:
    sim = sim_of(request)
    repo, token = need_repo(
        request, sim.state, request.path_params["owner"], request.path_params["repo"]
    )
    # GitHub hides protection from integrations without the administration permission
    if not allows(token, "administration", "read"):
        raise Refused(403, NOT_ACCESSIBLE)
    branch = request.path_params["branch"]
    if branch not in repo.protection:
        raise Refused(404, "Branch not protected")
    return JSONResponse(branch_protection_json(sim, repo, branch))


def rules_json(repo: Repo, branch: str) -> list[JSON]:
    """repository-rule-detailed entries for one branch."""
    return [
        {
            **rule,
            "ruleset_source_type": "Repository",
            "ruleset_source": repo.full_name,
            "ruleset_id": repo.id * 10 + 1,
        }
        for rule in repo.rules.get(branch, [])
    ]


async def get_rules(request: Request) -> Response:
    repo = caller_repo(request, "metadata")[1]
    return JSONResponse(rules_json(repo, request.path_params["branch"]))


def _content_entry(
    sim: Sim, repo: Repo, ref: str, path: str, kind: str, sha: str, size: int
) -> JSON:
    api = f"{sim.state.base_url}/repos/{repo.full_name}"
    html_kind = "tree" if kind == "dir" else "blob"
    html = f"{sim.state.base_url}/{repo.full_name}/{html_kind}/{ref}/{path}"
    git_url = f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{sha}"
    return {
        "type": kind,
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": f"{api}/contents/{path}?ref={ref}",
        "git_url": git_url,
        "html_url": html,
        "download_url": f"{sim.state.base_url}/_sim/raw/{repo.full_name}/{ref}/{path}"
        if kind == "file"
        else None,
        "_links": {"self": f"{api}/contents/{path}?ref={ref}", "git": git_url, "html": html},
    }


async def get_contents(request: Request) -> Response:
    sim = sim_of(request)
    repo = caller_repo(request, "contents")[1]
    git = sim.git(repo)
    ref = request.query_params.get("ref") or repo.default_branch
    path = request.path_params.get("path", "").strip("/")
    commit = await git.resolve(ref)
    if commit is None:
        raise Refused(404, f"No commit found for the ref {ref}")
    tree = (await git.read_commit(commit)).tree
    if not path:
        return await _dir_listing(sim, repo, git, ref, tree, "")
    parent, _, leaf = path.rpartition("/")
    # A missing parent directory is a 404 on GitHub, as a missing file is.
    if parent and await git.object_type(f"{tree}:{parent}") != "tree":
        raise Refused(404, "Not Found")
    listing = await git.ls_tree(f"{tree}:{parent}" if parent else tree)
    entry = next((e for e in listing if e.path == leaf), None)
    if entry is None:
        raise Refused(404, "Not Found")
    if entry.type == "tree":
        return await _dir_listing(sim, repo, git, ref, entry.sha, path)
    data = await git.read_blob(entry.sha)
    body = _content_entry(sim, repo, ref, path, "file", entry.sha, len(data))
    encoded = base64.encodebytes(data).decode()
    body.update({"content": encoded, "encoding": "base64"})
    return JSONResponse(body)


async def _dir_listing(sim: Sim, repo: Repo, git: Git, ref: str, tree: str, path: str) -> Response:
    items = []
    for e in await git.ls_tree(tree):
        kind = {"tree": "dir", "commit": "submodule"}.get(e.type, "file")
        if e.mode == "120000":
            kind = "symlink"
        full = f"{path}/{e.path}" if path else e.path
        items.append(_content_entry(sim, repo, ref, full, kind, e.sha, e.size or 0))
    return JSONResponse(items)


async def get_permission(request: Request) -> Response:
    sim = sim_of(request)
    repo = caller_repo(request, "metadata")[1]
    login = request.path_params["username"]
    role = sim.state.permission_of(repo, login)
    user = user_json(sim.state, sim.state.user(login))
    level = _LEGACY[role]
    user["permissions"] = {
        "admin": role == "admin",
        "maintain": role in ("admin", "maintain"),
        "push": level in ("admin", "write"),
        "triage": role not in ("read", "none"),
        "pull": role != "none",
    }
    user["role_name"] = role
    return JSONResponse({"permission": level, "role_name": role, "user": user})


def diff_entry_json(sim: Sim, repo: Repo, head: str, f: DiffFile) -> JSON:
    base = sim.state.base_url
    entry: JSON = {
        "sha": f.sha,
        "filename": f.filename,
        "status": f.status,
        "additions": f.additions,
        "deletions": f.deletions,
        "changes": f.additions + f.deletions,
        "blob_url": f"{base}/{repo.full_name}/blob/{head}/{f.filename}",
        "raw_url": f"{base}/_sim/raw/{repo.full_name}/{head}/{f.filename}",
        "contents_url": f"{base}/repos/{repo.full_name}/contents/{f.filename}?ref={head}",
    }
    if f.patch is not None:
        entry["patch"] = f.patch
    if f.previous_filename is not None:
        entry["previous_filename"] = f.previous_filename
    return entry


async def compare(request: Request) -> Response:
    sim = sim_of(request)
    repo = caller_repo(request, "contents")[1]
    git = sim.git(repo)
    base_name, sep, head_name = request.path_params["basehead"].partition("...")
    base_sha = await git.resolve(base_name) if sep else None
    head_sha = await git.resolve(head_name) if sep else None
    if base_sha is None or head_sha is None:
        raise Refused(404, "Not Found")
    merge_base = await git.merge_base(base_sha, head_sha)
    if merge_base is None:
        raise Refused(404, f"No common ancestor between {base_name} and {head_name}.")
    ahead = await git.rev_list("--reverse", f"{base_sha}..{head_sha}")
    behind = await git.rev_list(f"{head_sha}..{base_sha}")
    status = (
        "identical"
        if not ahead and not behind
        else "ahead"
        if not behind
        else "behind"
        if not ahead
        else "diverged"
    )
    state = sim.state
    api = f"{state.base_url}/repos/{repo.full_name}"
    html = f"{state.base_url}/{repo.full_name}/compare/{base_name}...{head_name}"
    files = await git.diff(merge_base, head_sha)
    return JSONResponse(
        {
            "url": f"{api}/compare/{base_name}...{head_name}",
            "html_url": html,
            "permalink_url": f"{state.base_url}/{repo.full_name}/compare/{base_sha}...{head_sha}",
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "base_commit": commit_json(state, repo, await git.read_commit(base_sha)),
            "merge_base_commit": commit_json(state, repo, await git.read_commit(merge_base)),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "commits": [commit_json(state, repo, await git.read_commit(s)) for s in ahead],
            "files": [diff_entry_json(sim, repo, head_sha, f) for f in files],
        }
    )


ROUTES = [
    Route("/repos/{owner}/{repo}", get_repo, methods=["GET"]),
    Route(
        "/repos/{owner}/{repo}/branches/{branch:path}/protection", get_protection, methods=["GET"]
    ),
    Route("/repos/{owner}/{repo}/branches/{branch:path}", get_branch, methods=["GET"]),
    Route("/repos/{owner}/{repo}/rules/branches/{branch:path}", get_rules, methods=["GET"]),
    Route("/repos/{owner}/{repo}/contents/{path:path}", get_contents, methods=["GET"]),
    Route(
        "/repos/{owner}/{repo}/collaborators/{username}/permission", get_permission, methods=["GET"]
    ),
    Route("/repos/{owner}/{repo}/compare/{basehead:path}", compare, methods=["GET"]),
]
