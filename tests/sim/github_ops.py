"""What the /_sim/ controls do to the world: repos, user pushes, forks, pulls, workflow runs."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path

from tests.sim.github_auth import Refused
from tests.sim.github_context import Sim
from tests.sim.github_git import Git, Person
from tests.sim.github_state import (
    CheckRun,
    CheckSuite,
    Issue,
    Repo,
    WorkflowJob,
    WorkflowRun,
)

__all__ = [
    "add_workflow_run",
    "create_repo",
    "fork_repo",
    "open_pull",
    "read_dir",
    "user_commit",
]

OCTOCAT = "Octo Cat"


def read_dir(source: Path) -> tuple[dict[str, bytes | None], set[str]]:
    """Every file under `source` (not .git), and which of them are executable."""
    files: dict[str, bytes | None] = {}
    executable: set[str] = set()
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if rel.parts[0] == ".git" or path.is_dir():
            continue
        files[rel.as_posix()] = path.read_bytes()
        if path.stat().st_mode & 0o100:
            executable.add(rel.as_posix())
    return files, executable


def _person(login: str) -> Person:
    name = OCTOCAT if login == "octocat" else login
    return Person(name=name, email=f"{login}@example.com", date=int(time.time()))


async def create_repo(
    sim: Sim,
    owner: str,
    name: str,
    files: Mapping[str, bytes | None],
    *,
    default_branch: str = "main",
    private: bool = False,
    executable: set[str] | None = None,
    install: bool = True,
) -> Repo:
    """A bare repository with one commit by Octo Cat, installed for the App unless told not."""
    state = sim.state
    if state.find_repo(owner, name) is not None:
        raise Refused(422, f"Repository creation failed: {owner}/{name} already exists")
    state.user(owner)
    repo = Repo(
        owner=owner,
        name=name,
        id=state.next_id(),
        path=state.data_dir / owner / f"{name}.git",
        default_branch=default_branch,
        private=private,
        created_at=time.time(),
    )
    git = Git(repo.path)
    await git.init_bare(default_branch)
    await git.import_commit(
        f"refs/heads/{default_branch}",
        None,
        files,
        executable or set(),
        "Initial commit\n",
        _person("octocat"),
    )
    state.repos[repo.id] = repo
    if install:
        state.install(repo)
    sim.write_policy(repo)
    return repo


async def user_commit(
    sim: Sim,
    repo: Repo,
    branch: str,
    files: Mapping[str, bytes | None],
    message: str,
    author_login: str,
    executable: set[str] | None = None,
) -> str:
    """A commit pushed by a person (no rules apply, as for an admin's push); returns its sha."""
    git = sim.git(repo)
    parent = await git.ref_sha(f"refs/heads/{branch}")
    base = parent or await git.ref_sha(f"refs/heads/{repo.default_branch}")
    return await git.import_commit(
        f"refs/heads/{branch}",
        base,
        files,
        executable or set(),
        message + "\n",
        _person(author_login),
    )


async def fork_repo(sim: Sim, repo: Repo, new_owner: str) -> Repo:
    """A copy of `repo` under `new_owner`, outside the App's installation."""
    state = sim.state
    if state.find_repo(new_owner, repo.name) is not None:
        raise Refused(422, f"{new_owner}/{repo.name} already exists")
    state.user(new_owner)
    fork = Repo(
        owner=new_owner,
        name=repo.name,
        id=state.next_id(),
        path=state.data_dir / new_owner / f"{repo.name}.git",
        default_branch=repo.default_branch,
        private=repo.private,
        created_at=time.time(),
        fork_of=repo.id,
    )
    fork.path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(repo.path, fork.path, symlinks=True)
    (fork.path / "sim-policy.json").unlink(missing_ok=True)
    state.repos[fork.id] = fork
    sim.write_policy(fork)
    return fork


async def open_pull(
    sim: Sim,
    repo: Repo,
    head: str,
    base: str,
    title: str,
    body: str | None,
    user: str,
    head_owner: str | None = None,
) -> Issue:
    """Open a pull request from `head` (in `head_owner`'s fork when given) into `base`."""
    state = sim.state
    head_repo = repo if head_owner is None else state.find_repo(head_owner, repo.name)
    if head_repo is None:
        raise Refused(422, f"No fork of {repo.full_name} owned by {head_owner}")
    if await sim.git(head_repo).ref_sha(f"refs/heads/{head}") is None:
        raise Refused(
            422,
            "Validation Failed",
            [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
        )
    if await sim.git(repo).ref_sha(f"refs/heads/{base}") is None:
        raise Refused(
            422,
            "Validation Failed",
            [{"resource": "PullRequest", "field": "base", "code": "invalid"}],
        )
    for issue in state.issues.values():
        if (
            issue.repo_id == repo.id
            and issue.is_pull
            and issue.state == "open"
            and issue.head_repo_id == head_repo.id
            and issue.head_ref == head
            and issue.base_ref == base
        ):
            raise Refused(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {head_repo.owner}:{head}.",
                    }
                ],
            )
    if head_repo is not repo:
        await _fetch_into(sim, repo, head_repo, head)
    now = time.time()
    state.user(user)
    pull = Issue(
        repo_id=repo.id,
        number=state.next_issue_number(repo.id),
        id=state.next_id(),
        title=title,
        body=body,
        user=user,
        created_at=now,
        updated_at=now,
        is_pull=True,
        head_repo_id=head_repo.id,
        head_ref=head,
        base_ref=base,
    )
    state.issues[(repo.id, pull.number)] = pull
    return pull


async def _fetch_into(sim: Sim, repo: Repo, head_repo: Repo, branch: str) -> None:
    """Copy a fork's branch objects into the base repo, as GitHub shares one object network."""
    git = sim.git(repo)
    await git.run(
        "fetch",
        "--quiet",
        "--no-tags",
        str(head_repo.path),
        f"+refs/heads/{branch}:refs/sim/forks/{head_repo.owner}/{branch}",
    )


async def add_workflow_run(
    sim: Sim,
    repo: Repo,
    head_sha: str,
    head_branch: str | None,
    conclusion: str | None,
    jobs: list[dict[str, object]],
    event: str,
    pull_requests: list[int],
) -> WorkflowRun:
    """A finished Actions run with its jobs and logs, and the check suite that carries it."""
    state = sim.state
    now = time.time()
    suite = CheckSuite(
        id=state.next_id(),
        repo_id=repo.id,
        head_sha=head_sha,
        head_branch=head_branch,
        status="completed",
        conclusion=conclusion,
        created_at=now,
    )
    state.check_suites[suite.id] = suite
    run_id = state.next_id()
    run_jobs = [
        WorkflowJob(
            id=state.next_id(),
            run_id=run_id,
            name=str(job.get("name", "build")),
            conclusion=str(job.get("conclusion", conclusion))
            if job.get("conclusion", conclusion) is not None
            else None,
            log=str(job.get("log", "")),
            started_at=now,
        )
        for job in jobs
    ]
    run = WorkflowRun(
        id=run_id,
        repo_id=repo.id,
        head_sha=head_sha,
        head_branch=head_branch,
        conclusion=conclusion,
        event=event,
        suite_id=suite.id,
        created_at=now,
        pull_requests=list(pull_requests),
        jobs=run_jobs,
    )
    state.workflow_runs[run.id] = run
    for job in run_jobs:
        # each Actions job is also a check run (same id), as on GitHub
        state.check_runs[job.id] = CheckRun(
            id=job.id,
            repo_id=repo.id,
            suite_id=suite.id,
            head_sha=head_sha,
            name=job.name,
            status="completed" if job.conclusion else "in_progress",
            conclusion=job.conclusion,
            started_at=now,
            completed_at=now if job.conclusion else None,
            app_owned=False,
        )
    sim.write_policy(repo)
    return run
