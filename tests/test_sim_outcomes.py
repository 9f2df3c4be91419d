"""What the outcome flows need of the simulator, held to GitHub's REST description and parsed
with githubkit's models: PRs listed by state, a merged PR, a PR GitHub closed because its
branch was deleted, and the labels on it."""

from __future__ import annotations

from typing import Any

from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy

from tests.sim.github_client import GitHubSim
from tests.test_sim_faithfulness import Exchange, RecordingTransport, check_exchange

OWNER, NAME = "octo", "outcomes"


def _client(sim: GitHubSim, log: list[Exchange], installation: int) -> GitHub[Any]:
    app = sim.app
    gh = GitHub(
        AppAuthStrategy(app.id, app.private_key_pem),
        base_url=sim.api_url,
        transport=RecordingTransport(log),
        auto_retry=False,
        cache_strategy=MemCacheStrategy(),
    )
    return gh.with_auth(gh.auth.as_installation(installation))


def test_merged_closed_and_listed_pulls_answer_as_github_describes(github_sim: GitHubSim) -> None:
    repo = github_sim.create_repo(OWNER, NAME, files={"a.py": "x = 1\n"})
    assert repo.installation_id is not None
    for branch in ("one", "two"):
        github_sim.commit(OWNER, NAME, branch, {f"{branch}.py": "y = 2\n"})
    merged = github_sim.open_pr(OWNER, NAME, "one", "main", "One", user="alice")
    dropped = github_sim.open_pr(OWNER, NAME, "two", "main", "Two", user="alice")
    merge_sha = github_sim.merge_pr(OWNER, NAME, merged, user="maint")
    log: list[Exchange] = []
    client = _client(github_sim, log, repo.installation_id)
    gh = client.rest
    # Deleting a PR's head branch closes the PR, as on GitHub; its head stays readable.
    gh.git.delete_ref(OWNER, NAME, "heads/two")
    gh.issues.add_labels(OWNER, NAME, merged, labels=["ambient-reverted"])

    answer = gh.pulls.get(OWNER, NAME, merged)
    one = answer.parsed_data
    assert (one.state, one.merged) == ("closed", True)
    assert one.merged_at is not None
    assert one.merged_by is not None
    assert one.merged_by.login == "maint"
    # githubkit's newer model leaves out merge_commit_sha, which GitHub (2022-11-28) sends.
    assert answer.json()["merge_commit_sha"] == merge_sha
    two = gh.pulls.get(OWNER, NAME, dropped).parsed_data
    assert (two.state, two.merged, two.merged_at) == ("closed", False, None)
    closed = gh.pulls.list(OWNER, NAME, state="closed").parsed_data
    assert [p.number for p in closed] == [dropped, merged]
    assert [label.name for label in closed[1].labels] == ["ambient-reverted"]
    assert gh.pulls.list(OWNER, NAME, state="open").parsed_data == []
    assert len(gh.pulls.list(OWNER, NAME, state="all").parsed_data) == 2
    # The merge commit is on main, with both parents.
    main = gh.repos.get_branch(OWNER, NAME, "main").parsed_data
    assert main.commit.sha == merge_sha
    assert len(gh.git.get_commit(OWNER, NAME, merge_sha).parsed_data.parents) == 2
    problems = [p for ex in log for p in check_exchange(ex)]
    assert problems == []
