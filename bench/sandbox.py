"""Sandbox overhead: each backend against a bare subprocess running the same command.

Run from the project root with no arguments: `.venv/bin/python bench/sandbox.py`. It opens a
bwrap and a Docker sandbox over a scratch workspace (the Docker engine found via DOCKER_HOST,
the image built by sandbox/image/build.sh), runs `true` N times in each, and times opening and
removing Docker sandboxes. Baselines, run round-robin with what they are compared to so that
both meet the same load: a bare exec, a bare `bwrap --unshare-all`, a raw `docker exec` into
the same container, and a hardened `docker run --rm`. Figures are medians. The last line is
`sandbox_overhead_ms bwrap=<x> docker=<y> docker_start=<z>` (overheads over a bare exec, and the
median start of a Docker sandbox).
"""

from __future__ import annotations

import asyncio
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

# This file is itself named sandbox.py and Python puts its folder first on sys.path: put the
# project root before it, so `import sandbox` finds the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.errors import SandboxError
from sandbox.base import Command
from sandbox.bwrap import BwrapSandbox
from sandbox.docker import DEFAULT_IMAGE, DockerSandbox
from sandbox.dockercli import docker
from sandbox.policy import CommandPolicy

N = 30
N_START = 10
BUDGET_MS = {"bwrap": 20.0, "docker": 250.0, "docker_start": 1000.0}
TRUE = Command(("true",), timeout_s=30)
POLICY = CommandPolicy((r"true",), "bench")
Action = Callable[[], Awaitable[object]]


async def medians_ms(actions: dict[str, Action], n: int) -> dict[str, float]:
    """Median milliseconds of each action, run round-robin so that all share the same load."""
    for action in actions.values():
        await action()  # warm-up: page cache, docker's first exec
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(n):
        for name, action in actions.items():
            started = time.perf_counter()
            await action()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


async def bare_true() -> None:
    proc = await asyncio.create_subprocess_exec(
        "true", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    await proc.communicate()


async def bare_bwrap() -> None:
    # The floor: bubblewrap with every namespace and the system directories, nothing else.
    args = ["bwrap", "--unshare-all", "--ro-bind", "/usr", "/usr", "--proc", "/proc"]
    for link in ("bin", "lib", "lib64", "sbin"):
        if Path("/", link).is_symlink():
            args += ["--symlink", f"usr/{link}", f"/{link}"]
    proc = await asyncio.create_subprocess_exec(
        *args, "--dev", "/dev", "true", stdout=asyncio.subprocess.PIPE
    )
    await proc.communicate()


async def bench_bwrap(workspace: Path) -> dict[str, float]:
    sandbox = await BwrapSandbox.open(workspace, policy=POLICY)
    try:
        actions: dict[str, Action] = {
            "bare": bare_true,
            "floor": bare_bwrap,
            "run": lambda: sandbox.run(TRUE),
        }
        return await medians_ms(actions, N)
    finally:
        await sandbox.close()


async def bench_docker(workspace: Path) -> dict[str, float]:
    sandbox = await DockerSandbox.open(workspace, policy=POLICY)
    try:
        actions: dict[str, Action] = {
            "bare": bare_true,
            "raw_exec": lambda: docker("exec", "--user", "1000:1000", sandbox.container, "true"),
            "run": lambda: sandbox.run(TRUE),
        }
        figures = await medians_ms(actions, N)
    finally:
        await sandbox.close()
    hardened = ["run", "--rm", "--network=none", "--read-only", "--cap-drop=ALL"]
    hardened += ["--security-opt=no-new-privileges", "--pids-limit=256", "--memory=1g"]
    hardened += ["--memory-swap=1g", "--user=1000:1000", DEFAULT_IMAGE, "true"]
    opens: list[float] = []
    closes: list[float] = []

    async def start_and_remove() -> None:
        started = time.perf_counter()
        opened = await DockerSandbox.open(workspace, policy=POLICY)
        middle = time.perf_counter()
        await opened.close()
        opens.append((middle - started) * 1000)
        closes.append((time.perf_counter() - middle) * 1000)

    both: dict[str, Action] = {
        "start_remove": start_and_remove,
        "run_rm": lambda: docker(*hardened),
    }
    figures["run_rm"] = (await medians_ms(both, N_START))["run_rm"]
    figures["start"], figures["remove"] = statistics.median(opens), statistics.median(closes)
    return figures


def verdict(name: str, value: float) -> str:
    if math.isnan(value):
        return "not measured"
    return "within budget" if value <= BUDGET_MS[name] else "OVER BUDGET"


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ambient-bench-") as scratch:
        workspace = Path(scratch)
        (workspace / "module.py").write_text("VALUE = 1\n")
        try:
            b = await bench_bwrap(workspace)
        except SandboxError as exc:
            print(f"bwrap: not measured ({exc})")
            b = dict.fromkeys(("bare", "floor", "run"), math.nan)
        else:
            print(
                f"bwrap run: {b['run']:.1f} ms = {b['run'] / b['bare']:.1f}x a bare exec"
                f" ({b['bare']:.1f} ms), {b['run'] / b['floor']:.2f}x a bare"
                f" `bwrap --unshare-all` ({b['floor']:.1f} ms); medians of {N}, interleaved"
            )
        try:
            d = await bench_docker(workspace)
        except SandboxError as exc:
            print(f"docker: not measured ({exc})")
            d = dict.fromkeys(("bare", "run", "raw_exec", "start", "remove", "run_rm"), math.nan)
        else:
            print(
                f"docker run (container reused): {d['run']:.1f} ms = {d['run'] / d['bare']:.1f}x a"
                f" bare exec, {d['run'] / d['raw_exec']:.2f}x a raw docker exec"
                f" ({d['raw_exec']:.1f} ms); medians of {N}, interleaved"
            )
            print(
                f"docker sandbox start: {d['start']:.0f} ms, remove: {d['remove']:.0f} ms"
                f" (median of {N_START}); start = {d['start'] / d['run_rm']:.2f}x a hardened"
                f" docker run --rm ({d['run_rm']:.0f} ms)"
            )
    overhead = {
        "bwrap": b["run"] - b["bare"],
        "docker": d["run"] - d["bare"],
        "docker_start": d["start"],
    }
    for name, value in overhead.items():
        print(f"{name}: {value:.1f} ms, budget {BUDGET_MS[name]:.0f} ms: {verdict(name, value)}")
    print(
        f"sandbox_overhead_ms bwrap={overhead['bwrap']:.1f} docker={overhead['docker']:.1f}"
        f" docker_start={overhead['docker_start']:.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
