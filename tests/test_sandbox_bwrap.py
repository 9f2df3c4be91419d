"""The bubblewrap backend's own promises: what of the host it shows, its cgroups, its fallback."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import Command, CommandRefused, Limits, SandboxBackendFailed, SandboxUnavailable
from sandbox.bwrap import SCRATCH_PREFIX, BwrapSandbox, reap_scratch
from tests.fixtures.sandbox import ANYTHING, host_processes, require_backend
from tests.support import require_part

pytestmark = pytest.mark.bwrap


@pytest.fixture(autouse=True)
def _bwrap() -> None:
    require_backend("bwrap")


async def test_only_system_directories_toolchain_and_workspace_are_visible(
    sandbox_workspace: Path,
) -> None:
    async with await BwrapSandbox.open(sandbox_workspace, policy=ANYTHING) as sandbox:
        top = await sandbox.run(Command(("ls", "-A", "/")))
        etc = await sandbox.run(Command(("ls", "-A", "/etc")))
        home = await sandbox.run(Command(("ls", "-A", str(Path.home()))))
    system = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "proc", "dev"}
    visible = set(top.stdout.split())
    # /opt holds the checks' toolchain alone, at /opt/toolchain as in the Docker image.
    assert visible <= system | {"tmp", "workspace", "opt"}
    assert {"var", "srv", "mnt", "run"}.isdisjoint(visible)
    assert set(etc.stdout.split()) <= {
        "passwd",
        "group",
        "hosts",
        "nsswitch.conf",
        "ld.so.cache",
        "alternatives",
        "localtime",
    }
    # Nothing of the home directory: not Ambient's virtualenv, nor the interpreter under it.
    assert home.exit_code != 0
    assert home.stdout == ""


async def test_the_checks_toolchain_is_the_images_not_ambients_own(
    sandbox_workspace: Path,
) -> None:
    async with await BwrapSandbox.open(sandbox_workspace, policy=ANYTHING) as sandbox:
        which = await sandbox.run(
            Command(("sh", "-c", "for t in python pytest ruff mypy uv; do command -v $t; done"))
        )
        plugins = await sandbox.run(
            Command(
                ("python", "-c", "import importlib.util as u; print(u.find_spec('pytest_asyncio'))")
            )
        )
    assert which.stdout.split() == [f"/opt/toolchain/bin/{tool}" for tool in
                                    ("python", "pytest", "ruff", "mypy", "uv")]  # fmt: skip
    assert plugins.stdout.strip() == "None"
    assert str(Path(sys.prefix).resolve()) not in which.stdout


async def test_files_written_inside_belong_to_the_host_user(sandbox_workspace: Path) -> None:
    async with await BwrapSandbox.open(sandbox_workspace, policy=ANYTHING) as sandbox:
        inside = await sandbox.run(Command(("sh", "-c", "id -u; touch made")))
    assert inside.stdout.strip() == "1000"
    assert (sandbox_workspace / "made").stat().st_uid == os.getuid()


async def test_cgroups_are_removed_at_close(sandbox_workspace: Path) -> None:
    sandbox = await BwrapSandbox.open(sandbox_workspace, policy=ANYTHING)
    dirs = sandbox.cgroup_dirs
    if os.geteuid() == 0:
        assert dirs
        assert all(d.is_dir() for d in dirs)
    await sandbox.run(Command(("true",)))
    await sandbox.close()
    assert not any(d.exists() for d in dirs)


async def test_cgroups_of_dead_workers_are_removed(sandbox_workspace: Path) -> None:
    first = await BwrapSandbox.open(sandbox_workspace)
    await first.close()
    require_part(bool(first.cgroup_dirs), "cgroups for the bubblewrap sandbox")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = first.cgroup_dirs[0].parent / f"{dead.pid}-stale"
    stale.mkdir()
    async with await BwrapSandbox.open(sandbox_workspace) as second:
        assert second.cgroup_dirs
    assert not stale.exists()


async def test_rlimit_fallback_reports_a_memory_bomb(sandbox_workspace: Path) -> None:
    # Without cgroups the address-space rlimit stops the bomb and Python says MemoryError.
    limits = Limits(memory_bytes=512 << 20)
    async with await BwrapSandbox.open(
        sandbox_workspace, policy=ANYTHING, limits=limits, rlimits_only=True
    ) as sandbox:
        bomb = await sandbox.run(
            Command(
                ("python", "-c", "chunks = []\nwhile True:\n    chunks.append(b'x' * (16 << 20))")
            )
        )
        fine = await sandbox.run(Command(("python", "-c", "print(len(b'x' * (64 << 20)))")))
    assert bomb.oom_killed
    assert "MemoryError" in bomb.stderr
    assert fine.ok
    assert not fine.oom_killed


@pytest.mark.parametrize("wide", [Path("/"), Path.home()])
async def test_a_toolchain_wider_than_a_venv_is_refused(
    sandbox_workspace: Path, wide: Path
) -> None:
    with pytest.raises(SandboxUnavailable, match="too wide to bind"):
        await BwrapSandbox.open(sandbox_workspace, toolchain=[wide])


async def test_an_explicit_toolchain_replaces_the_default(sandbox_workspace: Path) -> None:
    # The tests' own venv: part of the default toolchain, never under /usr (which every
    # sandbox binds as a system directory).
    prefix = Path(sys.prefix).resolve()
    assert not prefix.is_relative_to("/usr")
    async with await BwrapSandbox.open(sandbox_workspace, policy=ANYTHING, toolchain=[]) as sandbox:
        result = await sandbox.run(Command(("ls", str(prefix))))
    assert result.exit_code != 0


async def test_a_dead_spawner_fails_its_command_and_is_replaced(sandbox_workspace: Path) -> None:
    marker = f"orphan-{os.getpid()}-{id(sandbox_workspace)}"
    async with await BwrapSandbox.open(sandbox_workspace, policy=ANYTHING) as sandbox:
        running = asyncio.create_task(
            sandbox.run(Command(("python", "-c", f"import time; time.sleep(600)  # {marker}")))
        )
        while not host_processes(marker):
            await asyncio.sleep(0.05)
        os.kill(sandbox.spawner_pid, signal.SIGKILL)
        with pytest.raises(SandboxBackendFailed, match="spawner is gone"):
            await running
        for _ in range(100):
            if not host_processes(marker):
                break
            await asyncio.sleep(0.05)
        assert host_processes(marker) == []
        after = await sandbox.run(Command(("echo", "replaced")))
    assert after.stdout == "replaced\n"


async def test_a_command_too_long_for_the_spawner_is_refused(sandbox_workspace: Path) -> None:
    async with await BwrapSandbox.open(sandbox_workspace, policy=ANYTHING) as sandbox:
        with pytest.raises(CommandRefused, match="too long"):
            await sandbox.run(Command(("echo", "x" * (4 << 20))))
        assert (await sandbox.run(Command(("echo", "fine")))).stdout == "fine\n"


async def test_the_spawner_survives_timeouts_and_bombs(sandbox_workspace: Path) -> None:
    async with await BwrapSandbox.open(sandbox_workspace, policy=ANYTHING) as sandbox:
        spawner = sandbox.spawner_pid
        slow = await sandbox.run(Command(("sleep", "30"), timeout_s=0.5))
        bomb = await sandbox.run(
            Command(
                (
                    "python",
                    "-c",
                    "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass",
                ),
                timeout_s=1,
            )
        )
        assert slow.timed_out
        assert bomb.timed_out
        assert sandbox.spawner_pid == spawner
        assert (await sandbox.run(Command(("echo", "same spawner")))).ok


async def test_a_toolchain_under_the_hosts_tmp_is_not_hidden_by_the_private_tmp(
    sandbox_workspace: Path, tmp_path: Path
) -> None:
    require_backend("bwrap")
    tool = tmp_path / "toolchain"
    (tool / "bin").mkdir(parents=True)
    script = tool / "bin" / "hello-tool"
    script.write_text("#!/bin/sh\necho from the toolchain\n")
    script.chmod(0o755)
    assert tool.is_relative_to("/tmp")
    async with await BwrapSandbox.open(
        sandbox_workspace, policy=ANYTHING, toolchain=(tool,)
    ) as sandbox:
        result = await sandbox.run(Command(("hello-tool",)))
    assert result.stdout.strip() == "from the toolchain"


def test_a_killed_workers_scratch_directories_are_reaped_and_live_ones_kept(
    tmp_path: Path,
) -> None:
    old, young = tmp_path / f"{SCRATCH_PREFIX}old", tmp_path / f"{SCRATCH_PREFIX}young"
    other = tmp_path / "someone-else-old"
    for directory in (old, young, other):
        directory.mkdir()
        (directory / "passwd").write_text("sandbox:x:1000:1000::/tmp:/bin/sh\n")
    now = 1_000_000.0
    for directory in (old, other):
        os.utime(directory, (now - 7200, now - 7200))
    os.utime(young, (now - 60, now - 60))
    assert reap_scratch(3600, root=tmp_path, now=now) == [old]
    assert not old.exists()
    assert young.exists()
    assert other.exists()
