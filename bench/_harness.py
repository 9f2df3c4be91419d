"""What the end-to-end benchmarks share: the running processes, the seeded repositories, the
scripted fix, reading the simulator's state and the worker's JSON log, and the memory and CPU
time of processes from /proc.

`running_app` starts redis-server, the GitHub simulator, the scripted model, `ambient serve` and
a worker in a scratch directory and stops them all when its block ends, however it ends (a
failure prints the worker's log tail first, since the scratch directory goes with them).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, Final

import httpx

ROOT: Final = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.sim.github_client import GitHubSim  # noqa: E402
from tests.sim.processes import AppUrls, ProcessGroup, ambient_env  # noqa: E402

__all__ = [
    "OWNER",
    "Running",
    "bot_replies",
    "choose_sandbox",
    "close_pull",
    "cpu_s",
    "fresh_pull",
    "job_lines",
    "machine_ticks",
    "reply_posts",
    "rss_kb",
    "running_app",
    "stamp",
    "tree_rss_kb",
    "wait_for",
]

OWNER: Final = "octo"
EXAMPLE: Final = ROOT / "examples" / "python-demo"
POLL_S: Final = 0.05
# A dockerd run for Ambient alone may listen here instead of the default socket; a DOCKER_HOST
# that is set always wins.
DOCKER_SOCKET: Final = Path("/run/ambient-docker.sock")
IMAGE: Final = "ambient-sandbox:latest"
# The benchmarks start many jobs a day as one person; the default daily limit (10) would answer
# the eleventh with a refusal instead of a fix.
REPO_CONFIG: Final = "limits:\n  jobs_per_user_per_day: 1000\n"


def choose_sandbox() -> tuple[str, str]:
    """("docker", note) when an engine answers and the image exists, else ("bwrap", why)."""
    if "DOCKER_HOST" not in os.environ and DOCKER_SOCKET.exists():
        os.environ["DOCKER_HOST"] = f"unix://{DOCKER_SOCKET}"
    if shutil.which("docker") is None:
        return "bwrap", "no docker binary: fell back to bwrap"
    info = subprocess.run(["docker", "info"], capture_output=True, timeout=60, check=False)
    if info.returncode != 0:
        return "bwrap", "no Docker engine answers: fell back to bwrap"
    image = subprocess.run(
        ["docker", "image", "inspect", IMAGE], capture_output=True, timeout=60, check=False
    )
    if image.returncode != 0:
        return "bwrap", f"the image {IMAGE} is missing: fell back to bwrap"
    return "docker", f"docker at {os.environ.get('DOCKER_HOST', 'the default socket')}"


def _write_script(path: Path) -> None:
    """An instant model: the fixer's one proposal guards the empty case; the reviewer approves."""
    old = (EXAMPLE / "inventory.py").read_text()
    new = old.replace("/ len(items)", "/ len(items) if items else 0.0")
    diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            "a/inventory.py",
            "b/inventory.py",
        )
    )
    title = "Guard the empty case"
    answer = [{"title": title, "description": title, "diff": diff, "risk_level": "low"}]
    steps = [
        {"match": {"agent": "fixer"}, "content": json.dumps(answer), "repeat": True},
        {"match": {"agent": "reviewer"}, "content": '{"verdict": "approve"}', "repeat": True},
    ]
    path.write_text(json.dumps(steps))


def _seed(sim: GitHubSim, scratch: Path, name: str) -> None:
    """examples/python-demo as OWNER/`name`, with CODEOWNERS, collaborators and the config."""
    source = scratch / "source"
    if not source.exists():
        shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", ".*cache"))
        (source / ".github").mkdir()
        (source / ".github" / "CODEOWNERS").write_text("*.py @carol\n")
        (source / ".github" / "ambient.yml").write_text(REPO_CONFIG)
    sim.create_repo(OWNER, name, source_dir=source)
    for user, role in (("maint", "maintain"), ("alice", "write"), ("carol", "write")):
        sim.set_permission(OWNER, name, user, role)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Running:
    """The started processes, the simulator's client, and where the receiver and log are."""

    group: ProcessGroup
    sim: GitHubSim
    app: AppUrls
    env: dict[str, str]
    redis_url: str
    scratch: Path

    @property
    def tmp(self) -> Path:
        """The TMPDIR of Ambient's processes."""
        return self.scratch / "tmp"


@contextlib.contextmanager
def _interruptible(group: ProcessGroup) -> Iterator[None]:
    """Ctrl-C or SIGTERM terminates the children first, then unwinds (SIGTERM as SystemExit).

    Seen once: a SIGINT sent to this process alone was lost on its way up and the run went on;
    with the children gone, the next step fails and the run ends with its cleanup.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        for _, process in group.children:
            if process.poll() is None:
                process.terminate()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def running_app(
    prefix: str,
    sandbox: str,
    repos: Sequence[str],
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Running]:
    """Everything started in a fresh scratch directory, `repos` seeded, webhooks wired;
    `extra_env` is added to the environment of `ambient serve` and `ambient worker`.

    Ambient's processes get `<scratch>/tmp` as TMPDIR, so what they leave there is theirs
    (`Running.tmp`) and goes with the scratch directory.

    On a TimeoutError or RuntimeError inside the block, exits with the worker's log tail.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        scratch = Path(name)
        _write_script(scratch / "script.json")
        (scratch / "tmp").mkdir()
        with ProcessGroup(scratch) as group, _interruptible(group):
            redis_url = group.redis()
            sim = group.github_sim()
            try:
                llm_url = group.llm_sim(scratch / "script.json")
                _seed(sim, scratch, repos[0])
                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(lambda repo: _seed(sim, scratch, repo), repos[1:]))
                env = ambient_env(sim, llm_url, redis_url, sandbox, scratch / "workspaces")
                env.update(extra_env or {})
                env["TMPDIR"] = str(scratch / "tmp")
                app = group.ambient(env)
                sim.set_webhook(f"{app.receiver}/webhook")
                yield Running(group, sim, app, env, redis_url, scratch)
            except (TimeoutError, RuntimeError) as exc:
                tail = group.log_path("worker").read_text(errors="replace")[-3000:]
                sys.exit(f"{prefix.strip('-')}: {exc}\nthe worker's log ends:\n{tail}")
            finally:
                sim.close()


def fresh_pull(sim: GitHubSim, name: str, run: int | str) -> tuple[int, str]:
    """A new PR on OWNER/`name` whose head fails its tests (the log is what the model reads)."""
    branch = f"feature-{run}"
    head = sim.commit(OWNER, name, branch, {"README.md": f"# demo\n\nChange {run}.\n"})
    number = sim.open_pr(OWNER, name, branch, "main", title=f"Tweak {run}", user="alice")
    failed = {"name": "tests", "conclusion": "failure", "log": "FAILED assert None == 0.0\n"}
    sim.add_workflow_run(OWNER, name, head, branch, jobs=[failed])
    return number, head


def close_pull(sim: GitHubSim, token: str, name: str, number: int) -> None:
    """Close a measured PR: the simulator's check-run answers run git for every open PR, which
    would make later runs slower for a reason GitHub does not have."""
    url = f"{sim.api_url}/repos/{OWNER}/{name}/pulls/{number}"
    auth = {"Authorization": f"token {token}"}
    httpx.patch(url, json={"state": "closed"}, headers=auth, timeout=30).raise_for_status()


def reply_posts(requests: list[dict[str, Any]], name: str, number: int) -> list[float]:
    """When the App POSTed comments on OWNER/`name`#`number`, from the simulator's request log."""
    path = f"/repos/{OWNER}/{name}/issues/{number}/comments"
    return [r["time"] for r in requests if r["method"] == "POST" and r["path"] == path]


def bot_replies(sim: GitHubSim, name: str, number: int) -> list[dict[str, Any]]:
    comments = sim.repo_state(OWNER, name)["comments"]
    return [c for c in comments if c["issue_number"] == number and c["user"] == sim.app.bot_login]


def wait_for(
    condition: Callable[[], Any], what: str, group: ProcessGroup, wait_s: float = 120.0
) -> Any:
    """Poll `condition` until it is truthy; TimeoutError after `wait_s`, RuntimeError when a
    child process died meanwhile."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        group.check_alive()
        time.sleep(POLL_S)
    raise TimeoutError(f"{what} did not happen in {wait_s:.0f}s")


def job_lines(log: Path, guid: str) -> list[dict[str, Any]]:
    """The worker's JSON log lines that mention delivery `guid`."""
    lines = []
    for raw in log.read_text(errors="replace").splitlines():
        if guid in raw and raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def stamp(line: dict[str, Any]) -> float:
    """A log line's time as a Unix timestamp."""
    return datetime.fromisoformat(line["ts"]).timestamp()


def rss_kb(pid: int) -> int:
    """VmRSS of one process in kB (0 when it has none or is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _stat(pid: int) -> list[str]:
    # The fields after the command name, which may itself hold spaces and parentheses.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_rss_kb(root: int) -> int:
    """The sum of VmRSS over `root` and all its descendants (shared pages count each time)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(_stat(int(entry.name))[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss_kb(pid)
        todo.extend(children.get(pid, ()))
    return total


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of `pid` and of its descendants that have exited."""
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    # utime, stime, cutime, cstime: fields 14-17 of /proc/<pid>/stat
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, all) clock ticks of every CPU since boot, from /proc/stat (iowait counts idle)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)
