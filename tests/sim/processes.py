"""Ambient and its stand-ins as plain child processes, for benchmarks and manual runs.

`ProcessGroup` starts redis-server, the GitHub simulator, the scripted model server,
`ambient serve` and `ambient worker` on free ports, each writing to its own log file, and stops
them all (in reverse order) when its `with` block ends. Nothing here needs pytest: the pytest
fixtures in tests/fixtures/ keep their own in-process servers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from tests.sim.github_client import GitHubSim

__all__ = ["AppUrls", "ProcessGroup", "ambient_env", "free_port", "wait_for_port"]

ROOT = Path(__file__).resolve().parent.parent.parent
STOP_WAIT_S = 15.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float = 30.0) -> None:
    """Block until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s:.0f}s")


@dataclass(frozen=True, slots=True)
class AppUrls:
    """Where the running receiver listens, and the file the worker writes its JSON log to."""

    receiver: str
    worker_log: Path


@dataclass
class ProcessGroup:
    """Child processes started in `directory` (their logs are `<name>.log` there)."""

    directory: Path
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def log_path(self, name: str) -> Path:
        return self.directory / f"{name}.log"

    def spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        """Start `argv` from the repository root, stdout and stderr into `<name>.log`."""
        with self.log_path(name).open("ab") as log:
            process = subprocess.Popen(
                argv, cwd=ROOT, env=dict(env or os.environ), stdout=log, stderr=log
            )
        self.children.append((name, process))

    def process(self, name: str) -> subprocess.Popen[bytes]:
        """The running child started as `name` (KeyError when there is none)."""
        for started, process in self.children:
            if started == name:
                return process
        raise KeyError(name)

    def check_alive(self) -> None:
        """Raise, naming the process and its last log lines, if a child has exited."""
        for name, process in self.children:
            if process.poll() is not None:
                tail = self.log_path(name).read_text(errors="replace")[-2000:]
                raise RuntimeError(
                    f"{name} exited with {process.returncode}; its log ends:\n{tail}"
                )

    def stop(self) -> None:
        """Terminate every child, newest first; kill those that do not stop in time."""
        for _, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self.children):
            try:
                process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.children.clear()

    def redis(self) -> str:
        """A throwaway redis-server (no persistence); returns its URL."""
        port = free_port()
        data = self.directory / "redis"
        data.mkdir(exist_ok=True)
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        self.spawn("redis", [*argv, "--save", "", "--appendonly", "no", "--dir", str(data)])
        wait_for_port(port)
        return f"redis://127.0.0.1:{port}/0"

    def github_sim(self) -> GitHubSim:
        """`python -m tests.sim.github`; the returned client must be closed by the caller."""
        port = free_port()
        data = self.directory / "github-sim"
        argv = ["-m", "tests.sim.github", "--port", str(port), "--data", str(data)]
        self.spawn("github-sim", [sys.executable, *argv])
        wait_for_port(port)
        return GitHubSim(f"http://127.0.0.1:{port}")

    def llm_sim(self, script: Path) -> str:
        """`python -m tests.sim.llm` answering from `script`; returns its base URL (…/v1)."""
        port = free_port()
        argv = ["-m", "tests.sim.llm", "--port", str(port), "--script", str(script)]
        self.spawn("llm-sim", [sys.executable, *argv])
        wait_for_port(port)
        return f"http://127.0.0.1:{port}/v1"

    def ambient(self, env: Mapping[str, str], ready_timeout_s: float = 60.0) -> AppUrls:
        """`ambient serve` and `ambient worker` with `env`; returns once both are ready."""
        port = free_port()
        self.spawn("serve", [sys.executable, "-m", "bot", "serve", "--port", str(port)], env)
        self.spawn("worker", [sys.executable, "-m", "bot", "worker"], env)
        wait_for_port(port, ready_timeout_s)
        worker_log = self.log_path("worker")
        deadline = time.monotonic() + ready_timeout_s
        while '"worker started"' not in worker_log.read_text(errors="replace"):
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker did not start in {ready_timeout_s:.0f}s")
            time.sleep(0.05)
        return AppUrls(f"http://127.0.0.1:{port}", worker_log)


def ambient_env(
    sim: GitHubSim, llm_url: str, redis_url: str, sandbox: str, workspaces: Path
) -> dict[str, str]:
    """The environment that points Ambient at the simulators (inherited AMBIENT_* dropped)."""
    app = sim.app
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("AMBIENT_")},
        "AMBIENT_GITHUB_API_URL": sim.api_url,
        "AMBIENT_GITHUB_APP_ID": str(app.id),
        "AMBIENT_GITHUB_PRIVATE_KEY": app.private_key_pem,
        "AMBIENT_WEBHOOK_SECRET": app.webhook_secret,
        "AMBIENT_APP_SLUG": app.slug,
        "AMBIENT_LLM_BASE_URL": llm_url,
        "AMBIENT_LLM_MODEL": "scripted",
        "AMBIENT_SANDBOX": sandbox,
        "AMBIENT_REDIS_URL": redis_url,
        "AMBIENT_WORKSPACE_ROOT": str(workspaces),
        # The flows' end-to-end tests reach no package index; setup has its own tests.
        "AMBIENT_SETUP": "off",
    }
