"""Webhook ingress throughput and latency: Ambient's receiver against a bare starlette endpoint.

Starts a redis-server, `ambient serve`, and the bare endpoint (same uvicorn settings) on free
ports, drives signed `check_suite` failure deliveries (each a new delivery for a new commit, so
each one is deduped and durably enqueued) with wrk at 8 and 64 connections, checks that every
accepted delivery is in Redis, and stops everything again.

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests/data/webhooks/selected/check_suite.completed.success.with-pr.json"
SECRET = "bench-secret"
DURATION_S = 6
PER_RUN = 60_000

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


def queued(redis_port: int) -> int:
    done = subprocess.run(
        ["redis-cli", "-p", str(redis_port), "zcard", "arq:queue"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())


def main() -> None:
    for tool in ("wrk", "redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench/ingress.py needs {tool}: apt-get install wrk redis-server")
    work = Path(tempfile.mkdtemp(prefix="ambient-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        script = work / "deliveries.lua"
        script.write_text(WRK_SCRIPT)
        runs = {name: work / f"{name}.tsv" for name in ("warm", "c8", "c64")}
        for name, path in runs.items():
            write_deliveries(path, name, 4000 if name == "warm" else PER_RUN)
        redis_port, ours_port, bare_port = free_port(), free_port(), free_port()
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
        env = {
            **os.environ,
            "AMBIENT_WEBHOOK_SECRET": SECRET,
            "AMBIENT_LOG_LEVEL": "WARNING",
            "AMBIENT_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        }
        procs.append(
            subprocess.Popen(
                [str(ROOT / ".venv/bin/ambient"), "serve", "--port", str(ours_port)],
                env=env,
                stderr=subprocess.DEVNULL,
            )
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "bench/_bare_receiver.py"), str(bare_port)]
            )
        )
        wait_for_port(ours_port)
        wait_for_port(bare_port)
        wrk(bare_port, 8, runs["warm"], script)
        wrk(ours_port, 8, runs["warm"], script)
        results: dict[str, dict[str, float]] = {}
        for connections in (8, 64):
            data = runs[f"c{connections}"]
            results[f"bare_c{connections}"] = wrk(bare_port, connections, data, script)
            before = queued(redis_port)
            ours = wrk(ours_port, connections, data, script)
            ours["durable"] = queued(redis_port) - before
            results[f"ours_c{connections}"] = ours
        for name, figures in results.items():
            print(
                f"{name:9s} {figures['rps']:9.0f} req/s  p50 {figures['p50']:6.2f} ms  "
                f"p99 {figures['p99']:6.2f} ms  requests {int(figures['total'])}"
                + (f"  in redis {int(figures['durable'])}" if "durable" in figures else "")
                + (f"  non-2xx {int(figures['non2xx'])}" if figures["non2xx"] else "")
            )
        for connections in (8, 64):
            ours = results[f"ours_c{connections}"]
            if ours["total"] > PER_RUN:
                print(
                    f"note: c{connections} wrapped around its {PER_RUN} deliveries; "
                    "repeats were answered as duplicates"
                )
            ratio = ours["rps"] / results[f"bare_c{connections}"]["rps"]
            print(f"ratio at {connections} connections: {ratio:.2f}x of the bare endpoint")
        ratio64 = results["ours_c64"]["rps"] / results["bare_c64"]["rps"]
        print(
            f"ingress_ratio={ratio64:.2f} p99_ms={results['ours_c64']['p99']:.1f} "
            f"p99_c8_ms={results['ours_c8']['p99']:.1f}"
        )
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
