"""JSON shapes of check runs, check suites, workflow runs and jobs."""

from __future__ import annotations

from typing import Any

from tests.sim.github_git import CommitInfo
from tests.sim.github_payloads import app_json, node_id, repo_json, user_json
from tests.sim.github_state import (
    CheckRun,
    CheckSuite,
    Issue,
    Repo,
    SimState,
    WorkflowJob,
    WorkflowRun,
    iso,
)

__all__ = [
    "ACTIONS_APP_ID",
    "actions_app_json",
    "check_run_json",
    "check_suite_json",
    "job_json",
    "pull_minimal_json",
    "simple_commit_json",
    "workflow_run_json",
]

JSON = dict[str, Any]
ACTIONS_APP_ID = 15368  # the id GitHub Actions' own App has on github.com


def actions_app_json(state: SimState) -> JSON:
    """GitHub Actions, the App that owns workflow check suites."""
    data = app_json(state)
    data.update(
        {
            "id": ACTIONS_APP_ID,
            "slug": "github-actions",
            "client_id": "Iv1.github-actions",
            "node_id": node_id("A", ACTIONS_APP_ID),
            "name": "GitHub Actions",
            "owner": user_json(state, state.user("github")),
            "external_url": "https://help.github.com/en/actions",
            "html_url": f"{state.base_url}/apps/github-actions",
            "permissions": {
                "actions": "write",
                "checks": "write",
                "contents": "write",
                "metadata": "read",
            },
            "events": ["check_run", "check_suite", "push", "pull_request", "workflow_dispatch"],
        }
    )
    return data


def pull_minimal_json(
    state: SimState, repo: Repo, pull: Issue, head_sha: str, base_sha: str
) -> JSON:
    api = f"{state.base_url}/repos/{repo.full_name}"
    head_repo = state.repos.get(pull.head_repo_id or repo.id, repo)

    def side(r: Repo, ref: str, sha: str) -> JSON:
        return {
            "ref": ref,
            "sha": sha,
            "repo": {"id": r.id, "url": f"{state.base_url}/repos/{r.full_name}", "name": r.name},
        }

    return {
        "id": pull.id,
        "number": pull.number,
        "url": f"{api}/pulls/{pull.number}",
        "head": side(head_repo, pull.head_ref, head_sha),
        "base": side(repo, pull.base_ref, base_sha),
    }


def simple_commit_json(info: CommitInfo) -> JSON:
    return {
        "id": info.sha,
        "tree_id": info.tree,
        "message": info.message.rstrip("\n"),
        "timestamp": iso(info.committer.date),
        "author": {"name": info.author.name, "email": info.author.email},
        "committer": {"name": info.committer.name, "email": info.committer.email},
    }


def check_run_json(state: SimState, repo: Repo, run: CheckRun, pulls: list[JSON]) -> JSON:
    api = f"{state.base_url}/repos/{repo.full_name}"
    return {
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": node_id("CR", run.id),
        "external_id": run.external_id or "",
        "url": f"{api}/check-runs/{run.id}",
        "html_url": f"{state.base_url}/{repo.full_name}/runs/{run.id}",
        "details_url": run.details_url or f"{state.base_url}/{repo.full_name}/runs/{run.id}",
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": iso(run.started_at) if run.started_at else None,
        "completed_at": iso(run.completed_at) if run.completed_at else None,
        "output": {
            "title": run.output.get("title"),
            "summary": run.output.get("summary"),
            "text": run.output.get("text"),
            "annotations_count": len(run.output.get("annotations") or []),
            "annotations_url": f"{api}/check-runs/{run.id}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.suite_id},
        "app": app_json(state) if run.app_owned else actions_app_json(state),
        "pull_requests": pulls,
    }


def check_suite_json(
    state: SimState, repo: Repo, suite: CheckSuite, head: CommitInfo, pulls: list[JSON]
) -> JSON:
    api = f"{state.base_url}/repos/{repo.full_name}"
    runs = [r for r in state.check_runs.values() if r.suite_id == suite.id]
    return {
        "id": suite.id,
        "node_id": node_id("CS", suite.id),
        "head_branch": suite.head_branch,
        "head_sha": suite.head_sha,
        "status": suite.status,
        "conclusion": suite.conclusion,
        "url": f"{api}/check-suites/{suite.id}",
        "before": head.parents[0] if head.parents else "0" * 40,
        "after": suite.head_sha,
        "pull_requests": pulls,
        "app": app_json(state) if suite.app_owned else actions_app_json(state),
        "repository": repo_json(state, repo, minimal=True),
        "created_at": iso(suite.created_at),
        "updated_at": iso(suite.created_at),
        "head_commit": simple_commit_json(head),
        "latest_check_runs_count": len(runs),
        "check_runs_url": f"{api}/check-suites/{suite.id}/check-runs",
        "rerequestable": True,
        "runs_rerequestable": True,
    }


def workflow_run_json(
    state: SimState, repo: Repo, run: WorkflowRun, head: CommitInfo, pulls: list[JSON]
) -> JSON:
    api = f"{state.base_url}/repos/{repo.full_name}"
    url = f"{api}/actions/runs/{run.id}"
    actor = user_json(state, state.user("octocat"))
    return {
        "id": run.id,
        "name": run.name,
        "node_id": node_id("WFR", run.id),
        "check_suite_id": run.suite_id,
        "check_suite_node_id": node_id("CS", run.suite_id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": ".github/workflows/ci.yml",
        "run_number": run.id % 1000,
        "run_attempt": 1,
        "referenced_workflows": [],
        "event": run.event,
        "status": "completed" if run.conclusion is not None else "in_progress",
        "conclusion": run.conclusion,
        "workflow_id": repo.id * 7,
        "url": url,
        "html_url": f"{state.base_url}/{repo.full_name}/actions/runs/{run.id}",
        "pull_requests": pulls,
        "created_at": iso(run.created_at),
        "updated_at": iso(run.created_at),
        "actor": actor,
        "triggering_actor": actor,
        "run_started_at": iso(run.created_at),
        "jobs_url": f"{url}/jobs",
        "logs_url": f"{url}/logs",
        "check_suite_url": f"{api}/check-suites/{run.suite_id}",
        "artifacts_url": f"{url}/artifacts",
        "cancel_url": f"{url}/cancel",
        "rerun_url": f"{url}/rerun",
        "previous_attempt_url": None,
        "workflow_url": f"{api}/actions/workflows/{repo.id * 7}",
        "head_commit": simple_commit_json(head),
        "repository": repo_json(state, repo, minimal=True),
        "head_repository": repo_json(state, repo, minimal=True),
        "head_repository_id": repo.id,
        "display_title": head.message.splitlines()[0] if head.message else run.name,
    }


def job_json(state: SimState, repo: Repo, run: WorkflowRun, job: WorkflowJob) -> JSON:
    api = f"{state.base_url}/repos/{repo.full_name}"
    completed = job.conclusion is not None
    return {
        "id": job.id,
        "run_id": run.id,
        "run_url": f"{api}/actions/runs/{run.id}",
        "run_attempt": 1,
        "node_id": node_id("CR", job.id),
        "head_sha": run.head_sha,
        "url": f"{api}/actions/jobs/{job.id}",
        "html_url": f"{state.base_url}/{repo.full_name}/actions/runs/{run.id}/job/{job.id}",
        "status": "completed" if completed else "in_progress",
        "conclusion": job.conclusion,
        "created_at": iso(job.started_at),
        "started_at": iso(job.started_at),
        "completed_at": iso(job.started_at) if completed else None,
        "name": job.name,
        "steps": [
            {
                "name": "Run tests",
                "status": "completed" if completed else "in_progress",
                "conclusion": job.conclusion,
                "number": 1,
                "started_at": iso(job.started_at),
                "completed_at": iso(job.started_at) if completed else None,
            }
        ],
        "check_run_url": f"{api}/check-runs/{job.id}",
        "labels": ["ubuntu-latest"],
        "runner_id": 1,
        "runner_name": "GitHub Actions 1",
        "runner_group_id": 1,
        "runner_group_name": "GitHub Actions",
        "workflow_name": run.name,
        "head_branch": run.head_branch,
    }
