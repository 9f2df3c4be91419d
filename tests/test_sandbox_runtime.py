"""AMBIENT_SANDBOX_RUNTIME: "runsc" refuses to open a sandbox without gVisor (one line, no
container), "runc" asks for runc by name, and every place that opens a sandbox from the
settings passes the choice on."""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.config import load_settings
from bot.deps import Deps
from bot.errors import Permanent
from bot.flows.ci import CHECK_NAME, CiRequest, fix_ci_failure
from bot.flows.sweep import SweepRequest, sweep_repository
from bot.jobs.worker import on_shutdown, on_startup
from bot.pipeline.process import PipelineConfig
from sandbox import Command, SandboxUnavailable, open_sandbox
from sandbox.docker import NO_RUNSC, DockerSandbox, engine_runtimes
from sandbox.reaper import LABEL
from tests.fixtures.redis import RedisServer
from tests.fixtures.sandbox import ANYTHING, require_backend
from tests.sim.github_client import GitHubSim

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "python-demo"
OWNER = "octo"
#: Where sandboxes are opened from the settings; each call must say which runtime.
OPENERS = ("open_sandbox", "start_sandbox", "DockerSandbox.open")
SOURCES = [
    *(ROOT / "bot").rglob("*.py"),
    *(ROOT / "handlers").rglob("*.py"),
    *(ROOT / "agents").rglob("*.py"),
]


def _calls(name: str) -> list[tuple[str, ast.Call]]:
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(name):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return found


def test_every_sandbox_opened_from_the_settings_names_its_runtime() -> None:
    calls = [c for name in OPENERS for c in _calls(name)]
    assert calls
    missing = [where for where, call in calls if "runtime" not in {k.arg for k in call.keywords}]
    assert not missing, f"open_sandbox without runtime= at {missing}"


def test_every_pipeline_config_comes_from_the_settings() -> None:
    # PipelineConfig(...) by hand would drop AMBIENT_SANDBOX_RUNTIME; from_settings keeps it.
    direct = [
        where for where, _ in _calls("PipelineConfig") if not where.startswith("bot/pipeline/")
    ]
    assert not direct, f"build it with PipelineConfig.from_settings at {direct}"


def test_the_setting_reaches_the_pipeline_config() -> None:
    for runtime in ("auto", "runc", "runsc"):
        settings = load_settings({"AMBIENT_SANDBOX_RUNTIME": runtime})
        config = PipelineConfig.from_settings(settings, sandbox="bwrap")
        assert (config.runtime, config.sandbox) == (runtime, "bwrap")
    assert load_settings({}).sandbox_runtime == "auto"


async def _without_runsc() -> None:
    require_backend("docker")
    if "runsc" in await engine_runtimes(fresh=True):
        pytest.skip("this engine has runsc: the refusal cannot be seen here")


def _containers_of(pid: int) -> list[str]:
    """Sandbox containers, running or not, that process `pid` of this host started."""
    listed = subprocess.run(
        ["docker", "ps", "--all", "--filter", f"label={LABEL}", "--format", "{{.Labels}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    prefix = f"{LABEL}.owner={socket.gethostname()}/{pid}/"
    return [line for line in listed.splitlines() if prefix in line]


def _ownership(root: Path) -> list[tuple[int, int, int]]:
    return [(p.stat().st_uid, p.stat().st_gid, p.stat().st_mode) for p in sorted(root.rglob("*"))]


@pytest.mark.docker
async def test_runsc_on_an_engine_without_it_is_one_line_and_starts_nothing(
    sandbox_workspace: Path,
) -> None:
    await _without_runsc()
    before = _ownership(sandbox_workspace)
    with pytest.raises(SandboxUnavailable) as error:
        await DockerSandbox.open(sandbox_workspace, runtime="runsc")
    assert str(error.value) == NO_RUNSC
    assert "\n" not in NO_RUNSC
    assert isinstance(error.value, Permanent)
    assert not _containers_of(os.getpid())
    assert _ownership(sandbox_workspace) == before


@pytest.mark.docker
async def test_runc_is_asked_for_by_name(sandbox_workspace: Path) -> None:
    require_backend("docker")
    async with await DockerSandbox.open(sandbox_workspace, policy=ANYTHING, runtime="runc") as box:
        result = await box.run(Command(("sh", "-c", "echo ran")))
        runtime = subprocess.run(
            ["docker", "inspect", "--format", "{{.HostConfig.Runtime}}", box.container],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    assert result.stdout == "ran\n"
    assert runtime == "runc"


@pytest.mark.docker
@pytest.mark.bwrap
async def test_the_pipeline_opens_its_sandboxes_with_the_configured_runtime(
    sandbox_workspace: Path,
) -> None:
    await _without_runsc()
    settings = load_settings({"AMBIENT_SANDBOX": "docker", "AMBIENT_SANDBOX_RUNTIME": "runsc"})
    with pytest.raises(SandboxUnavailable, match="no runsc runtime"):
        async with PipelineConfig.from_settings(settings).sandbox_on(sandbox_workspace):
            pass
    # The bubblewrap backend has no runtimes to choose from: the setting does not concern it.
    require_backend("bwrap")
    async with open_sandbox("bwrap", sandbox_workspace, runtime="runsc", policy=ANYTHING) as box:
        assert (await box.run(Command(("true",)))).ok


def _cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMBIENT_")}
    env["AMBIENT_SANDBOX_RUNTIME"] = "runsc"
    env["AMBIENT_WORKSPACE_ROOT"] = str(tmp_path / "workspaces")
    return env


async def _ambient(tmp_path: Path, *args: str) -> tuple[int, str, list[str]]:
    """Exit status, stderr and the containers left by `python -m bot ARGS`."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env=_cli_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode(), _containers_of(proc.pid)


@pytest.mark.docker
async def test_verify_with_runsc_required_and_absent_exits_with_the_one_line(
    sandbox_workspace: Path, tmp_path: Path
) -> None:
    await _without_runsc()
    code, err, left = await _ambient(
        tmp_path, "verify", str(sandbox_workspace), "--sandbox", "docker", "--cmd", "pytest -q"
    )
    assert (code, err) == (2, f"ambient verify: {NO_RUNSC}\n")
    assert not left


@pytest.mark.docker
async def test_a_local_sweep_with_runsc_required_and_absent_exits_with_the_one_line(
    sandbox_workspace: Path, tmp_path: Path
) -> None:
    await _without_runsc()
    git = ["git", "-C", str(sandbox_workspace), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    code, err, left = await _ambient(
        tmp_path, "sweep", str(sandbox_workspace), "--sandbox", "docker", "--json"
    )
    assert (code, err) == (2, f"ambient: {NO_RUNSC}\n")
    assert not left


def _repository(sim: GitHubSim, tmp_path: Path, name: str) -> tuple[int, int]:
    """The demo repository on the simulator: (installation id, repository id)."""
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", ".*cache"))
    repo = sim.create_repo(OWNER, name, source_dir=source)
    assert repo.installation_id is not None
    return repo.installation_id, repo.id


def _requiring_runsc(deps: Deps) -> Deps:
    changed = {"sandbox": "docker", "sandbox_runtime": "runsc"}
    return replace(deps, settings=deps.settings.model_copy(update=changed))


@pytest.mark.docker
@pytest.mark.bwrap
async def test_the_github_sweep_requires_runsc_when_told(
    flow_deps: Deps, github_sim: GitHubSim, tmp_path: Path
) -> None:
    await _without_runsc()
    installation, _ = _repository(github_sim, tmp_path, "sweep")
    request = SweepRequest("sweep:runsc", installation, OWNER, "sweep", trigger="cron")
    with pytest.raises(SandboxUnavailable) as error:
        await sweep_repository(_requiring_runsc(flow_deps), request)
    assert str(error.value) == NO_RUNSC


@pytest.mark.docker
@pytest.mark.bwrap
async def test_the_ci_fix_requires_runsc_when_told(
    flow_deps: Deps, github_sim: GitHubSim, tmp_path: Path
) -> None:
    await _without_runsc()
    installation, repo_id = _repository(github_sim, tmp_path, "ci")
    head = github_sim.commit(OWNER, "ci", "main", {"README.md": "changed\n"})
    jobs = [{"name": "tests", "conclusion": "failure", "log": "FAILED test_x.py::test_x\n"}]
    github_sim.add_workflow_run(OWNER, "ci", head, "main", jobs=jobs)
    request = CiRequest(f"ci:1:{head}", installation, OWNER, "ci", repo_id, head, "main")
    result = await fix_ci_failure(_requiring_runsc(flow_deps), request)
    assert result["status"] == "failure", result
    state = github_sim.repo_state(OWNER, "ci")
    (check,) = [r for r in state["check_runs"] if r["name"] == CHECK_NAME]
    assert NO_RUNSC in json.dumps(check["output"])
    assert not state["pulls"]


@pytest.mark.docker
async def test_a_worker_told_to_require_runsc_says_so_at_start(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require_backend("docker")
    if "runsc" in await engine_runtimes(fresh=True):
        pytest.skip("this engine has runsc: the refusal cannot be seen here")
    settings = load_settings(
        {
            "AMBIENT_REDIS_URL": redis_server.url,
            "AMBIENT_SANDBOX_RUNTIME": "runsc",
            "AMBIENT_WORKSPACE_ROOT": str(tmp_path),
        }
    )
    redis = Redis.from_url(redis_server.url)
    ctx: dict[str, object] = {"settings": settings, "redis": redis}
    try:
        with caplog.at_level(logging.ERROR, logger="ambient.worker"):
            await on_startup(ctx)
            await on_shutdown(ctx)
    finally:
        await redis.aclose()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [NO_RUNSC]
