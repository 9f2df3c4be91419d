"""Parallel swarm: wall time of N proposals at concurrency C against a model of latency L.

The scripted OpenAI-compatible server (tests/sim/llm.py) runs as its own process on a free
port and answers every call after a fixed latency L. The swarm runs N specialists (copies of one
specialist, each answering one proposal for its own file) under a semaphore of C, through the
real client over real HTTP. The ideal wall time is ceil(N/C)·L; efficiency is ideal / actual
(1.0 is perfect; the budget is 0.87, i.e. within 1.15 times the ideal). Also measured in the
same run: one call alone (the per-call floor), propose + refine (ideal 2·ceil(N/C)·L), and the
per-file dispatcher of `ambient swarm` over N files.

Run from the repository root: `.venv/bin/python bench/swarm.py`. The last line is
`swarm_efficiency=<ideal/actual> refine_efficiency=… dispatch_efficiency=… …`.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agents.dispatch import dispatch  # noqa: E402
from agents.llm import Message, OpenAIModel  # noqa: E402
from agents.specialists import SPECIALISTS, read_config  # noqa: E402
from agents.specialists.base import Specialist  # noqa: E402
from agents.swarm import SwarmOptions, run_swarm  # noqa: E402
from tests.support import free_port, wait_for_port  # noqa: E402

N = 24
C = 4
L = 0.2
REPEATS = 3


def diff_for(number: int) -> str:
    path = f"src/m{number:02d}.py"
    old, new = f"def f():\n    return {number}\n", f"def f():\n    return {number} + 0\n"
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(lines)


def specialists() -> list[Specialist]:
    # Copies of one specialist whose filter keeps everything, so all N proposals survive.
    base = SPECIALISTS["refactor"]
    return [replace(base, name=f"s{n:02d}", agent=f"Agent{n:02d}", priority=n) for n in range(N)]


def script(latency: float) -> list[dict[str, object]]:
    steps: list[dict[str, object]] = []
    for n in range(N):
        item = {"title": f"Change {n}", "diff": diff_for(n), "risk_level": "low"}
        decision = {"decisions": [{"id": f"P{n + 1}", "action": "keep"}]}
        agent = f"Agent{n:02d}"
        steps.append(
            {"match": {"agent": agent, "user": "Refine round"}, "content": json.dumps(decision)}
        )
        steps.append({"match": {"agent": agent}, "content": json.dumps([item])})
    steps.append({"match": {"agent": "SwarmWorker"}, "content": json.dumps([])})
    return [{**step, "latency_s": latency, "repeat": True} for step in steps]


class Server:
    """The scripted server as its own process, so it shares no interpreter lock with the client
    (a real model endpoint is another machine)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.sim.llm", "--port", str(self.port)], cwd=ROOT
        )
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)

    def set_script(self, steps: list[dict[str, object]]) -> None:
        httpx.post(f"{self.base}/_sim/script", json=steps).raise_for_status()

    def reset(self) -> None:
        httpx.post(f"{self.base}/_sim/reset").raise_for_status()

    def max_in_flight(self) -> int:
        stats = httpx.get(f"{self.base}/_sim/stats").raise_for_status().json()
        return int(stats["max_in_flight"])


async def timed_swarm(model: OpenAIModel, refine: bool) -> float:
    started = time.perf_counter()
    result = await run_swarm(
        model,
        specialists(),
        "(a small repository)",
        config=read_config(None),
        limiter=asyncio.Semaphore(C),
        options=SwarmOptions(refine=refine),
    )
    wall = time.perf_counter() - started
    assert not result.failures, result.failures
    assert len(result.selected) == N, result.summary()
    return wall


async def timed_dispatch(model: OpenAIModel, root: Path) -> float:
    started = time.perf_counter()
    report = await dispatch(model, root, "Add docstrings", "*.py", concurrency=C)
    wall = time.perf_counter() - started
    assert not report.failures, report.failures
    assert report.usage.calls == N
    return wall


async def one_call(model: OpenAIModel) -> float:
    started = time.perf_counter()
    await model.complete([Message("user", "x")], agent="Agent00")
    return time.perf_counter() - started


async def measure(server: Server, root: Path) -> dict[str, float]:
    # The client's own limit is N, so only the swarm's semaphore of C bounds the calls.
    base_url = f"{server.base}/v1"
    model = OpenAIModel(base_url=base_url, model="sim-model", max_concurrency=N, max_retries=0)
    try:
        server.set_script(script(0.0))
        await timed_swarm(model, refine=True)  # warm-up: connections, imports, caches
        server.set_script(script(L))
        server.reset()
        figures: dict[str, list[float]] = {"single": [], "swarm": [], "refine": [], "dispatch": []}
        for _ in range(REPEATS):
            figures["single"].append(await one_call(model))
            figures["swarm"].append(await timed_swarm(model, refine=False))
            figures["refine"].append(await timed_swarm(model, refine=True))
            figures["dispatch"].append(await timed_dispatch(model, root))
        figures["max_in_flight"] = [float(server.max_in_flight())]
        return {name: statistics.median(values) for name, values in figures.items()}
    finally:
        await model.aclose()


def main() -> None:
    logging.disable(logging.WARNING)
    ideal = math.ceil(N / C) * L
    with tempfile.TemporaryDirectory() as scratch, Server() as server:
        root = Path(scratch)
        for n in range(N):
            (root / f"m{n:02d}.py").write_text(f"def f():\n    return {n}\n")
        got = asyncio.run(measure(server, root))
    swarm_eff = ideal / got["swarm"]
    refine_eff = 2 * ideal / got["refine"]
    dispatch_eff = ideal / got["dispatch"]
    floor = math.ceil(N / C) * got["single"]
    print(f"N={N} proposals, concurrency C={C}, model latency L={L:g}s, median of {REPEATS} runs")
    print(f"ideal ceil(N/C)*L                 {ideal:7.3f} s")
    print(f"one call alone (L + overhead)     {got['single']:7.3f} s  ({got['single'] / L:.3f}x L)")
    print(f"swarm, propose only               {got['swarm']:7.3f} s  efficiency {swarm_eff:.3f}")
    print(f"  against ceil(N/C) single calls  {floor:7.3f} s  ({got['swarm'] / floor:.3f}x)")
    print(f"swarm, propose + refine           {got['refine']:7.3f} s  efficiency {refine_eff:.3f}")
    dispatched = got["dispatch"]
    print(f"dispatcher, {N} files              {dispatched:7.3f} s  efficiency {dispatch_eff:.3f}")
    print(f"most calls in flight at once      {int(got['max_in_flight'])} (limit {C})")
    print(
        f"swarm_efficiency={swarm_eff:.3f} refine_efficiency={refine_eff:.3f} "
        f"dispatch_efficiency={dispatch_eff:.3f} swarm_wall_s={got['swarm']:.3f} "
        f"ideal_s={ideal:.3f} max_in_flight={int(got['max_in_flight'])}"
    )


if __name__ == "__main__":
    main()
