"""A worker killed with SIGKILL in the middle of a `fix this` job, and another started: the job
runs again once arq's in-progress lock of the dead worker expires (the job timeout + 10 s), and
the pull request still gets exactly one fix commit, one check run and one reply."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_processes import AppProcesses, wait_until
from tests.fixtures.llm_sim import LLMSim
from tests.sim.github_client import GitHubSim
from tests.test_e2e_fix_comment import (
    INVENTORY,
    NAME,
    OWNER,
    RIGHT,
    _answer,
    _comment,
    _edit,
    _pull,
    _replies,
    _repo,
)

pytestmark = [pytest.mark.slow, pytest.mark.bwrap, pytest.mark.timeout(240)]

#: The shortest job timeout the settings allow keeps the wait for the dead worker's lock short.
JOB_TIMEOUT_S = "20"


def _fixer_requests(llm_sim: LLMSim) -> list[dict[str, Any]]:
    return [r for r in llm_sim.requests() if r["agent"] == "fixer"]


def _ours(sim: GitHubSim) -> list[dict[str, Any]]:
    return [r for r in sim.repo_state(OWNER, NAME)["check_runs"] if r["name"] == "Ambient fix"]


def _fix_commits(sim: GitHubSim, tmp_path: Path, head: str) -> list[str]:
    """The commits on the PR branch after `head`, read from a real clone."""
    token = sim.installation_token(OWNER, NAME)
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }
    work = tmp_path / "check-clone"
    clone = ["git", "clone", "--quiet", sim.git_url(OWNER, NAME), str(work)]
    subprocess.run(clone, env=env, check=True, capture_output=True, timeout=60)
    listed = subprocess.run(
        ["git", "rev-list", f"{head}..origin/feature"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return listed.stdout.split()


def test_a_worker_killed_mid_fix_and_a_new_one_give_exactly_one_fix(
    github_sim: GitHubSim,
    llm_sim: LLMSim,
    app_factory: Callable[..., AppProcesses],
    tmp_path: Path,
) -> None:
    app = app_factory("bwrap", {"AMBIENT_JOB_TIMEOUT_S": JOB_TIMEOUT_S})
    assert app.worker is not None
    assert app.start_worker is not None
    _repo(github_sim, tmp_path)
    number, head, _ = _pull(github_sim)
    answer = _answer("Guard the empty case", _edit("inventory.py", INVENTORY, RIGHT))
    llm_sim.set_script(
        [
            # The first worker's model call hangs, so the kill lands in the middle of the job.
            {"match": {"agent": "fixer"}, "content": answer, "latency_s": 120, "times": 1},
            {"match": {"agent": "fixer"}, "content": answer},
            {"match": {"agent": "reviewer"}, "content": '{"verdict": "approve", "comments": "ok"}'},
        ]
    )
    _comment(github_sim, number)
    wait_until(lambda: _fixer_requests(llm_sim), "the first worker's model call", app)
    assert _ours(github_sim), app.log()
    os.kill(app.worker.pid, signal.SIGKILL)
    assert app.worker.wait(timeout=30) == -signal.SIGKILL
    second: subprocess.Popen[bytes] = app.start_worker()
    runs = wait_until(
        lambda: (
            [r for r in _ours(github_sim) if r["status"] == "completed"] and _replies(github_sim)
        ),
        "the re-run job's check run and reply",
        app,
        limit_s=150,
    )
    assert runs
    assert second.poll() is None, app.log()
    state = github_sim.repo_state(OWNER, NAME)
    # One run on the PR's old head (pointing at the fix) and one holding the evidence on it.
    tip = state["branches"]["feature"]
    working, check = _ours(github_sim)
    assert (working["head_sha"], working["conclusion"]) == (head, "neutral")
    assert (check["head_sha"], check["conclusion"]) == (tip, "success"), check["output"]
    (reply,) = _replies(github_sim)
    assert "Pushed" in reply["body"]
    assert len(_fix_commits(github_sim, tmp_path, head)) == 1
    (pull,) = state["pulls"]
    assert pull["number"] == number
    assert len(_fixer_requests(llm_sim)) == 2
