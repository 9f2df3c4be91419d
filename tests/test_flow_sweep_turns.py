"""Successive sweeps on GitHub show the specialists files the earlier ones did not, from a cursor
kept in Redis and rebuilt from the dashboard on GitHub when Redis lost it: the GitHub
simulator, a real Redis, the scripted model (whose recorded prompts say what was shown) and the
bubblewrap sandbox."""

from __future__ import annotations

import re
from datetime import date

import pytest

from agents.rotation import cursor_from_json
from bot.deps import Deps
from bot.flows.sweep import SweepRequest, sweep_repository
from bot.flows.sweep_cursor import cursor_key
from bot.publish.dashboard import status_of
from bot.publish.sweep import DASHBOARD_TITLE
from tests.fixtures.llm_sim import LLMSim
from tests.fixtures.redis import RedisServer
from tests.sim.github_client import GitHubSim

OWNER, NAME = "octo", "turns"
MODULES = 150
_TURN = re.compile(r"^### (\S+) \(its turn", re.M)


def _module(number: int) -> str:
    body = "".join(f"    total += {step} * value  # step {step} of the sum\n" for step in range(60))
    return f"def compute_{number}(value: int) -> int:\n    total = 0\n{body}    return total\n"


def _request(installation: int, day: date) -> SweepRequest:
    return SweepRequest(f"sweep:{OWNER}/{NAME}:{day}", installation, OWNER, NAME, day=day)


def _turns(llm: LLMSim, since: int) -> list[str]:
    """The files the propose prompts showed for their turn, in the requests after `since`."""
    shown: list[str] = []
    for request in llm.requests()[since:]:
        shown += _TURN.findall(request["user"])
    return sorted(shown)


def _dashboard_body(sim: GitHubSim) -> str:
    issues = sim.repo_state(OWNER, NAME)["issues"]
    (dashboard,) = [i for i in issues if i["title"] == DASHBOARD_TITLE]
    body: str = dashboard["body"]
    return body


@pytest.mark.bwrap
@pytest.mark.slow
async def test_each_sweep_shows_the_next_files_and_a_lost_cursor_is_rebuilt_from_github(
    flow_deps: Deps, github_sim: GitHubSim, llm_sim: LLMSim, redis_server: RedisServer
) -> None:
    files = {f"src/mod{n:03}.py": _module(n) for n in range(MODULES)}
    repo = github_sim.create_repo(OWNER, NAME, files={"README.md": "# Turns\n", **files})
    assert repo.installation_id is not None
    llm_sim.set_script([{"content": "[]", "repeat": True}])

    first = await sweep_repository(flow_deps, _request(repo.installation_id, date(2026, 11, 16)))
    assert first["status"] == "done", first
    one = _turns(llm_sim, 0)
    assert one[0] == "src/mod000.py"
    assert len(one) == len(set(one)) >= 15
    stored = await flow_deps.redis.get(cursor_key(f"{OWNER}/{NAME}"))
    assert stored is not None
    cursor = cursor_from_json(stored.decode())
    assert cursor is not None
    assert cursor.after == one[-1]
    body = _dashboard_body(github_sim)
    assert f"Coverage: {len(one)} of {MODULES} source files shown in the last 1 sweep" in body
    recorded = status_of(body)
    assert recorded is not None
    assert cursor_from_json(recorded.cursor) == cursor

    # Redis loses everything; the next week's sweep rebuilds the cursor from the dashboard.
    redis_server.flush()
    seen = len(llm_sim.requests())
    second = await sweep_repository(flow_deps, _request(repo.installation_id, date(2026, 11, 23)))
    assert second["status"] == "done", second
    two = _turns(llm_sim, seen)
    assert two, "the second sweep showed no file for its turn"
    assert min(two) > max(one), "the second sweep started over instead of going on"
    shown = len(one) + len(two)
    assert second["coverage"] == (
        f"Coverage: {shown} of {MODULES} source files shown in the last 2 sweeps "
        f"({round(100 * shown / MODULES)}%)"
    )
    assert second["coverage"] in _dashboard_body(github_sim)
    assert len([i for i in github_sim.repo_state(OWNER, NAME)["issues"]]) == 1
