"""The Docker backend's own promises: the container's hardening, its removal, the workspace
lent and given back, the reaper, and one-line errors when the engine or image is missing."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import Command, Limits, SandboxUnavailable, reap_orphans
from sandbox.docker import DockerSandbox
from tests.fixtures.sandbox import ANYTHING, host_processes, require_backend

pytestmark = pytest.mark.docker


@pytest.fixture(autouse=True)
def _docker() -> None:
    require_backend("docker")


def inspect(container: str) -> dict[str, object] | None:
    done = subprocess.run(["docker", "inspect", container], capture_output=True, check=False)
    if done.returncode != 0:
        return None
    found: list[dict[str, object]] = json.loads(done.stdout)
    return found[0]


async def test_container_is_hardened(sandbox_workspace: Path) -> None:
    limits = Limits(memory_bytes=300 << 20, pids=77, cpus=1.5, file_bytes=5 << 20)
    async with await DockerSandbox.open(sandbox_workspace, limits=limits) as sandbox:
        info = inspect(sandbox.container)
    assert info is not None
    host, config = info["HostConfig"], info["Config"]
    assert isinstance(host, dict)
    assert isinstance(config, dict)
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["PidsLimit"] == 77
    assert host["Memory"] == host["MemorySwap"] == 300 << 20
    assert host["NanoCpus"] == 1_500_000_000
    assert host["Init"] is True
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in host["Ulimits"]}
    assert ulimits["fsize"] == (5 << 20, 5 << 20)
    assert "/tmp" in host["Tmpfs"]
    assert config["User"] == "65534:65534"
    assert config["Labels"]["ambient.sandbox"] == "1"
    mounts = {m["Destination"]: m for m in info["Mounts"]}  # type: ignore[attr-defined]
    assert set(mounts) == {"/workspace", "/workspace/.git"}
    assert mounts["/workspace"]["RW"] is True
    assert mounts["/workspace/.git"]["RW"] is False


async def test_close_removes_the_container_and_gives_the_workspace_back(
    sandbox_workspace: Path,
) -> None:
    before = {
        p: (p.stat().st_uid, p.stat().st_gid, p.stat().st_mode) for p in _tree(sandbox_workspace)
    }
    sandbox = await DockerSandbox.open(sandbox_workspace, policy=ANYTHING)
    result = await sandbox.run(Command(("sh", "-c", "id -u; mkdir made && echo x > made/file")))
    assert result.stdout.strip() == "1000"
    await sandbox.close()
    assert inspect(sandbox.container) is None
    after = {
        p: (p.stat().st_uid, p.stat().st_gid, p.stat().st_mode) for p in _tree(sandbox_workspace)
    }
    made = {p: after.pop(p) for p in list(after) if "made" in p.parts}
    assert after == before
    owner = sandbox_workspace.stat()
    assert {(uid, gid) for uid, gid, _ in made.values()} == {(owner.st_uid, owner.st_gid)}


async def test_a_workspace_owned_by_a_user_is_used_as_that_user(sandbox_workspace: Path) -> None:
    for path in _tree(sandbox_workspace):
        os.lchown(path, 4321, 4321)
    async with await DockerSandbox.open(sandbox_workspace, policy=ANYTHING) as sandbox:
        result = await sandbox.run(Command(("sh", "-c", "id -u; touch mine")))
    assert result.stdout.strip() == "4321"
    assert (sandbox_workspace / "mine").stat().st_uid == 4321
    assert (sandbox_workspace / "test_pass.py").stat().st_gid == 4321


async def test_reaper_removes_containers_of_a_dead_worker(sandbox_workspace: Path) -> None:
    crashed = (
        "import asyncio, os, pathlib, sys\n"
        "from sandbox.docker import DockerSandbox\n"
        "async def main():\n"
        "    sandbox = await DockerSandbox.open(pathlib.Path(sys.argv[1]))\n"
        "    print(sandbox.container, flush=True)\n"
        "    os._exit(0)\n"
        "asyncio.run(main())\n"
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", crashed, str(sandbox_workspace), stdout=asyncio.subprocess.PIPE
    )
    orphan = (await child.communicate())[0].decode().strip()
    left = inspect(orphan)
    assert left is not None
    async with await DockerSandbox.open(sandbox_workspace) as alive:
        reaped = await reap_orphans()
        assert inspect(alive.container) is not None
    assert left["Id"] in reaped
    assert inspect(orphan) is None


async def test_missing_image_is_one_line(sandbox_workspace: Path) -> None:
    with pytest.raises(SandboxUnavailable, match=r"sandbox/image/build\.sh") as error:
        await DockerSandbox.open(sandbox_workspace, image="ambient-sandbox:no-such-tag")
    assert "\n" not in str(error.value)


async def test_unknown_runtime_is_one_line(sandbox_workspace: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="runtime no-such-runtime") as error:
        await DockerSandbox.open(sandbox_workspace, runtime="no-such-runtime")
    assert "\n" not in str(error.value)


async def test_unreachable_engine_is_one_line(
    sandbox_workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(SandboxUnavailable, match="no Docker engine answers") as error:
        await DockerSandbox.open(sandbox_workspace, runtime=None)
    assert "DOCKER_HOST" in str(error.value)
    assert (sandbox_workspace / "test_pass.py").stat().st_gid == sandbox_workspace.stat().st_gid


def _tree(root: Path) -> list[Path]:
    return [root, *(p for p in root.rglob("*") if ".git" not in p.relative_to(root).parts)]


async def test_timeout_with_the_engine_gone_raises_and_leaves_nothing(
    sandbox_workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = f"orphaned-{secrets.token_hex(4)}"
    sandbox = await DockerSandbox.open(sandbox_workspace, policy=ANYTHING)
    try:
        sleeper = Command(("python", "-c", f"import time; time.sleep(600) # {marker}"), timeout_s=2)
        running = asyncio.create_task(sandbox.run(sleeper))
        while len(host_processes(marker)) < 2:  # the docker CLI and the process in the container
            await asyncio.sleep(0.05)
        monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/gone.sock")
        with pytest.raises(SandboxUnavailable, match="no Docker engine answers"):
            await running
        monkeypatch.undo()
    finally:
        await sandbox.close()
    assert host_processes(marker) == []
