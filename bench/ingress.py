"""Webhook ingress throughput and latency: Ambient's receiver against two baselines.

Starts a redis-server, `ambient serve`, a bare starlette endpoint and the reference receiver
(bench/_reference_receiver.py: signature, parse and one pipelined write per batch, nothing
more), all on the same uvicorn settings and free ports. It drives signed `check_suite` failure
deliveries (each a new delivery for a new commit, so each one is deduped and durably enqueued)
with wrk at 8 and 64 connections, checks that every accepted delivery is in Redis, and stops
everything again.

This machine's speed drifts by a third from one minute to the next, so the three receivers
take turns: each round runs each of them for a few seconds at each concurrency, Redis is
emptied before each run that writes to it (the same deliveries are new again), and the ratios
quoted are the medians over the rounds.

Last line: ingress_ratio=<ours/bare req/s at 64> p99_ms=<ours at 64> p99_c8_ms=<ours at 8>
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests/data/webhooks/selected/check_suite.completed.success.with-pr.json"
SECRET = "bench-secret"
DURATION_S = 4
ROUNDS = 3
PER_RUN = 60_000
CONNECTIONS = (8, 64)
RECEIVERS = ("bare", "reference", "ours")

WRK_SCRIPT = r"""
local requests = {}
local index = 0
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  local path, threads = args[1], tonumber(args[2])
  local n = 0
  for line in io.lines(path) do
    if n % threads == tid then
      local delivery, signature, body = line:match("([^\t]+)\t([^\t]+)\t(.*)")
      requests[#requests + 1] = wrk.format("POST", "/webhook", {
        ["X-GitHub-Event"] = "check_suite",
        ["X-GitHub-Delivery"] = delivery,
        ["X-Hub-Signature-256"] = signature,
        ["Content-Type"] = "application/json",
      }, body)
    end
    n = n + 1
  end
end
function request()
  index = index % #requests + 1
  return requests[index]
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


def write_deliveries(path: Path, run: str, count: int) -> None:
    template = json.loads(SAMPLE.read_text())
    template["check_suite"]["conclusion"] = "failure"
    text = json.dumps(template, separators=(",", ":"))
    head = template["check_suite"]["head_sha"]
    with path.open("w") as out:
        for n in range(count):
            sha = hashlib.sha1(f"{run}-{n}".encode()).hexdigest()  # noqa: S324 - a commit id
            body = text.replace(head, sha)
            signature = "sha256=" + hmac.new(SECRET.encode(), body.encode(), "sha256").hexdigest()
            out.write(f"{run}-{n}\t{signature}\t{body}\n")


def wrk(port: int, connections: int, data: Path, script: Path) -> dict[str, float]:
    threads = 2
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{DURATION_S}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/webhook",
            "--",
            str(data),
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=DURATION_S + 120,
    )
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    latency = {}
    for pct in ("50", "99"):
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)  # type: ignore[union-attr]
        latency[pct] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    return {
        "rps": rps,
        "p50": latency["50"],
        "p99": latency["99"],
        "total": total,
        "non2xx": int(errors.group(1)) if errors else 0,
    }


def redis_cli(redis_port: int, *args: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-p", str(redis_port), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def start_receivers(redis_port: int, procs: list[subprocess.Popen[bytes]]) -> dict[str, int]:
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    ports = {name: free_port() for name in RECEIVERS}
    env = {
        **os.environ,
        "AMBIENT_WEBHOOK_SECRET": SECRET,
        "AMBIENT_LOG_LEVEL": "WARNING",
        "AMBIENT_REDIS_URL": redis_url,
    }
    commands = {
        "bare": [sys.executable, str(ROOT / "bench/_bare_receiver.py"), str(ports["bare"])],
        "reference": [
            sys.executable,
            str(ROOT / "bench/_reference_receiver.py"),
            str(ports["reference"]),
            redis_url,
            SECRET,
        ],
        "ours": [str(ROOT / ".venv/bin/ambient"), "serve", "--port", str(ports["ours"])],
    }
    for name in RECEIVERS:
        procs.append(subprocess.Popen(commands[name], env=env, stderr=subprocess.DEVNULL))
    for port in ports.values():
        wait_for_port(port)
    return ports


def run_round(
    ports: dict[str, int], redis_port: int, data: Path, script: Path
) -> dict[str, dict[str, float]]:
    """Each receiver at each concurrency, taking turns; Redis emptied before each write run."""
    figures: dict[str, dict[str, float]] = {}
    for connections in CONNECTIONS:
        for name in RECEIVERS:
            if name != "bare":
                redis_cli(redis_port, "flushall")
            run = wrk(ports[name], connections, data, script)
            if name == "ours":
                run["durable"] = int(redis_cli(redis_port, "zcard", "arq:queue"))
                accepted = min(int(run["total"]) - int(run["non2xx"]), PER_RUN)
                if run["durable"] < accepted:
                    raise SystemExit(
                        f"ours at {connections} connections answered {accepted} deliveries "
                        f"but only {int(run['durable'])} are in Redis"
                    )
            figures[f"{name}_c{connections}"] = run
    return figures


def main() -> None:
    for tool in ("wrk", "redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench/ingress.py needs {tool}: apt-get install wrk redis-server")
    work = Path(tempfile.mkdtemp(prefix="ambient-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        script = work / "deliveries.lua"
        script.write_text(WRK_SCRIPT)
        warm, data = work / "warm.tsv", work / "deliveries.tsv"
        write_deliveries(warm, "warm", 4000)
        write_deliveries(data, "run", PER_RUN)
        redis_port = free_port()
        procs.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(redis_port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(work),
                ],
                stdout=subprocess.DEVNULL,
            )
        )
        wait_for_port(redis_port)
        ports = start_receivers(redis_port, procs)
        for port in ports.values():
            wrk(port, 8, warm, script)
        rounds = [run_round(ports, redis_port, data, script) for _ in range(ROUNDS)]
        for number, figures in enumerate(rounds, 1):
            for name, run in figures.items():
                print(
                    f"round {number} {name:12s} {run['rps']:7.0f} req/s  "
                    f"p50 {run['p50']:6.2f} ms  p99 {run['p99']:6.2f} ms  "
                    f"requests {int(run['total'])}"
                    + (f"  in redis {int(run['durable'])}" if "durable" in run else "")
                    + (f"  non-2xx {int(run['non2xx'])}" if run["non2xx"] else "")
                )
                if "durable" in run and run["total"] > PER_RUN:
                    print(f"  (wrapped around its {PER_RUN} deliveries: repeats were duplicates)")

        def median(name: str, key: str) -> float:
            return statistics.median(figures[name][key] for figures in rounds)

        def ratio(name: str, connections: int) -> float:
            return statistics.median(
                figures[f"{name}_c{connections}"]["rps"] / figures[f"bare_c{connections}"]["rps"]
                for figures in rounds
            )

        for connections in CONNECTIONS:
            print(
                f"at {connections} connections, median of {ROUNDS} rounds: "
                f"ours {ratio('ours', connections):.2f}x and the reference receiver "
                f"{ratio('reference', connections):.2f}x of the bare endpoint "
                f"({median(f'bare_c{connections}', 'rps'):.0f} req/s)"
            )
        print(
            f"ingress_ratio={ratio('ours', 64):.2f} p99_ms={median('ours_c64', 'p99'):.1f} "
            f"p99_c8_ms={median('ours_c8', 'p99'):.1f}"
        )
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
