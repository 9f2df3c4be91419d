"""What a sandboxed command may leave on the host's disk: the workspace's size bound, and no
setuid or setgid bit, fifo, socket or device node, on both backends; then the walk itself on a
real directory tree."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from sandbox import Command, Limits, Mount, Provision, Result, SandboxKind, workspace_walk
from sandbox.verify import CommandRun
from sandbox.workspace_walk import (
    ENTRY_BYTES,
    MAX_DEPTH,
    WalkStopped,
    change_clock_ns,
    measure,
    tend,
)
from tests.fixtures.sandbox import SandboxFactory

MIB = 1 << 20
#: A small bound, so that the tests never fill a real disk.
BOUND = Limits(workspace_bytes=20 * MIB)


def py(script: str, timeout_s: float = 60.0) -> Command:
    return Command(("python", "-c", script), timeout_s=timeout_s)


def written(count: int, name: str = "fill", pause_s: float = 0.0) -> Command:
    """A command that writes `count` MiB into files of 4 MiB, pausing between MiBs."""
    return py(
        "import time\n"
        "chunk = b'x' * (1 << 20)\n"
        f"for n in range({count}):\n"
        f"    with open(f'{name}-{{n // 4}}.bin', 'ab') as out:\n"
        "        out.write(chunk)\n"
        f"    time.sleep({pause_s})\n"
        "print('wrote it all')\n"
    )


def usage(root: Path) -> int:
    """What `du` would say the tree holds (blocks allocated, hard links once)."""
    done = subprocess.run(["du", "-s", "-B1", str(root)], capture_output=True, check=True)
    return int(done.stdout.split()[0])


async def test_a_command_that_keeps_writing_is_stopped_at_the_bound_and_its_files_removed(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    before = usage(sandbox_workspace)
    sandbox = await sandbox_factory(sandbox_workspace, limits=BOUND)
    # 400 MiB at 100 MiB/s unbounded: 4 s and twenty times the bound.
    result = await sandbox.run(written(400, pause_s=0.01))
    assert result.workspace_exceeded
    assert not result.ok
    assert not result.timed_out
    assert "wrote it all" not in result.stdout
    assert result.duration_s < 3
    assert "workspace grew past its bound" in result.stderr
    assert not list(sandbox_workspace.glob("fill-*.bin"))
    assert (sandbox_workspace / "test_pass.py").exists()
    assert usage(sandbox_workspace) < before + MIB
    after = await sandbox.run(written(2, name="small"))
    assert after.ok, after.stderr
    assert after.stdout == "wrote it all\n"


async def test_a_command_that_ends_past_the_bound_is_reported_and_its_files_removed(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    sandbox = await sandbox_factory(sandbox_workspace, limits=BOUND)
    result = await sandbox.run(py("open('burst.bin', 'wb').write(b'x' * (30 << 20))"))
    assert result.workspace_exceeded
    assert not result.ok
    assert not (sandbox_workspace / "burst.bin").exists()
    assert CommandRun.from_result(Command(("python",)), result).ok is False


async def test_the_bound_is_on_growth_over_the_checkout_across_commands(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    (sandbox_workspace / "checkout.bin").write_bytes(b"c" * (30 * MIB))
    sandbox = await sandbox_factory(sandbox_workspace, limits=BOUND)
    first = await sandbox.run(written(12, name="first"))
    second = await sandbox.run(written(12, name="second"))
    assert first.ok, first.stderr
    assert not first.workspace_exceeded
    assert second.workspace_exceeded
    assert (sandbox_workspace / "checkout.bin").stat().st_size == 30 * MIB
    assert sum(p.stat().st_size for p in sandbox_workspace.glob("first-*.bin")) == 12 * MIB
    assert not list(sandbox_workspace.glob("second-*.bin"))


def _special_or_privileged(root: Path) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        if ".git" in path.relative_to(root).parts:
            continue
        mode = path.lstat().st_mode
        privileged = mode & (stat.S_ISUID | stat.S_ISGID) and not stat.S_ISDIR(mode)
        plain = stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)
        if privileged or not plain:
            found.append(f"{path.name} {oct(mode)}")
    return found


async def test_setuid_bits_fifos_sockets_and_devices_do_not_survive_a_command(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    tool = sandbox_workspace / "tool.sh"
    tool.write_text("#!/bin/sh\necho tool\n")
    tool.chmod(0o755)
    sandbox = await sandbox_factory(sandbox_workspace)
    result = await sandbox.run(
        Command(
            (
                "sh",
                "-c",
                # Under Docker the checkout is the worker's, lent to the sandbox's group: only
                # bwrap's user owns tool.sh and may set its bits.
                "(chmod 4755 tool.sh 2>/dev/null || true)"
                " && cp /bin/true suid && chmod 6777 suid"
                " && mkdir -p deep/er && cp /bin/true deep/er/sgid && chmod 2755 deep/er/sgid"
                " && mkfifo fifo deep/fifo"
                " && python -c \"import socket; socket.socket(socket.AF_UNIX).bind('sock')\""
                " && ls -l suid tool.sh deep/er/sgid fifo sock"
                " && (mknod dev c 1 3 || echo 'mknod refused')",
            )
        )
    )
    assert result.exit_code == 0, result.stderr
    assert "-rwsrwsrwx" in result.stdout
    assert "mknod refused" in result.stdout
    assert _special_or_privileged(sandbox_workspace) == []
    assert stat.S_IMODE((sandbox_workspace / "suid").stat().st_mode) == 0o777
    assert stat.S_IMODE((sandbox_workspace / "deep/er/sgid").stat().st_mode) == 0o755
    assert not (sandbox_workspace / "dev").exists()
    await sandbox.close()
    assert _special_or_privileged(sandbox_workspace) == []
    assert stat.S_IMODE(tool.stat().st_mode) == 0o755


def test_the_bound_and_the_report_reach_verification() -> None:
    result = Result(0, "", "[sandbox: the workspace grew past its bound]", 1.0)
    full = Result(0, "", "", 1.0, workspace_exceeded=True)
    assert result.ok
    assert not full.ok
    run = CommandRun.from_result(Command(("pytest",)), full)
    assert not run.ok
    assert "workspace grew past its bound" in run.describe()


def test_hard_links_count_once_and_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside, root = tmp_path / "outside", tmp_path / "root"
    outside.mkdir()
    root.mkdir()
    (outside / "big.bin").write_bytes(b"x" * (4 * MIB))
    (outside / "setuid").write_bytes(b"x")
    (outside / "setuid").chmod(0o4755)
    (root / "data.bin").write_bytes(b"x" * (2 * MIB))
    os.link(root / "data.bin", root / "again.bin")
    (root / "big").symlink_to(outside / "big.bin")
    (root / "setuid").symlink_to(outside / "setuid")
    (root / "dir").symlink_to(outside)
    tally = tend(root)
    assert 2 * MIB <= tally.bytes < 2 * MIB + 8 * ENTRY_BYTES
    assert tally.bytes == measure(root).bytes
    assert stat.S_IMODE((outside / "setuid").stat().st_mode) == 0o4755
    assert (root / "setuid").is_symlink()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root makes device nodes")
def test_a_device_node_in_the_workspace_is_removed(tmp_path: Path) -> None:
    os.mknod(tmp_path / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mkfifo(tmp_path / "fifo")
    tally = tend(tmp_path)
    assert tally.removed == 2
    assert list(tmp_path.iterdir()) == []


def test_a_tree_too_deep_to_poll_is_over_the_bound_until_tended(tmp_path: Path) -> None:
    # Deeper than the walk keeps directories open for: a poll counts that as over the bound; the
    # walk after a command moves such a subtree up to the top, so everything is counted.
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(MAX_DEPTH + 40):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    hidden = os.open("hidden.bin", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(hidden, b"x" * (3 * MIB))
    os.close(hidden)
    os.close(fd)
    polled = measure(tmp_path)
    assert polled.too_deep
    tended = tend(tmp_path)
    assert not tended.too_deep
    assert tended.bytes >= 3 * MIB
    assert not measure(tmp_path).too_deep
    freed = tend(tmp_path, free_since_ns=0)
    assert freed.bytes == 0
    assert list(tmp_path.iterdir()) == []


def test_freeing_removes_what_changed_since_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "module.py").write_text("VALUE = 1\n")
    (tmp_path / "keep.txt").write_text("kept\n")
    time.sleep(0.02)  # past the clock tick of those changes, as the guard waits before a command
    since = change_clock_ns()
    assert since > max(p.lstat().st_ctime_ns for p in tmp_path.rglob("*"))
    (tmp_path / "new" / "deeper").mkdir(parents=True)
    (tmp_path / "new" / "deeper" / "fill.bin").write_bytes(b"x" * MIB)
    (tmp_path / "src" / "fill.bin").write_bytes(b"x" * MIB)
    (tmp_path / "link").symlink_to("keep.txt")
    freed = tend(tmp_path, free_since_ns=since)
    assert freed.removed == 5
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["keep.txt", "module.py", "src"]


_AS_ANOTHER_USER = """
import importlib.util, json, os, stat, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("workspace_walk", sys.argv[1])
walk = importlib.util.module_from_spec(spec)
sys.modules["workspace_walk"] = walk
spec.loader.exec_module(walk)
root = Path(sys.argv[2])
polled, tended = walk.measure(root).bytes, walk.tend(root).bytes
mode = stat.S_IMODE((root / "locked").stat().st_mode)
print(json.dumps({"polled": polled, "tended": tended, "mode": mode}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can act as another user")
def test_a_directory_a_command_made_unreadable_is_counted_by_a_worker_that_is_not_root() -> None:
    # As root the walk reads every directory; a worker that is not root meets a directory its
    # commands (its own user, under bwrap) made unreadable, and reopens it once no command runs.
    root = Path(tempfile.mkdtemp(prefix="ambient-test-"))
    try:
        locked = root / "locked"
        locked.mkdir()
        (locked / "hidden.bin").write_bytes(b"x" * (2 * MIB))
        for path in (root, locked, locked / "hidden.bin"):
            os.chown(path, 65534, 65534)
        locked.chmod(0)
        done = subprocess.run(
            ["/usr/bin/python3", "-I", "-c", _AS_ANOTHER_USER, workspace_walk.__file__, root],
            capture_output=True,
            text=True,
            user=65534,
            group=65534,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout)
        assert found["polled"] < MIB
        assert found["tended"] >= 2 * MIB
        assert found["mode"] == 0o700
    finally:
        shutil.rmtree(root)


def test_a_poll_gives_up_when_told_to_stop(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(WalkStopped):
        measure(tmp_path, stop=stop)
    assert measure(tmp_path / "gone").bytes == 0


async def test_a_writable_mount_is_bounded_too_and_what_was_written_there_removed(
    sandbox_factory: SandboxFactory,
    sandbox_workspace: Path,
    tmp_path: Path,
    sandbox_backend: SandboxKind,
) -> None:
    mounted = tmp_path / "env"
    mounted.mkdir()
    (mounted / "kept.txt").write_text("there before")
    if sandbox_backend == "docker" and os.geteuid() == 0:
        os.chown(mounted, 1000, 1000)  # the container's user writes it; bwrap's is ours
    provision = Provision(mounts=(Mount(mounted, "/opt/env", writable=True),))
    limits = Limits(workspace_bytes=200 * MIB, mount_bytes=20 * MIB)
    sandbox = await sandbox_factory(sandbox_workspace, limits=limits, provision=provision)
    fits = await sandbox.run(py("open('/opt/env/small.bin', 'wb').write(b'x' * (2 << 20))"))
    assert fits.ok, fits.stderr
    burst = await sandbox.run(py("open('/opt/env/burst.bin', 'wb').write(b'x' * (30 << 20))"))
    assert burst.workspace_exceeded
    assert not burst.ok
    assert "the writable mounts grew past their bound (mount_bytes=20971520" in burst.stderr
    assert not (mounted / "burst.bin").exists()
    assert (mounted / "small.bin").stat().st_size == 2 * MIB
    assert (mounted / "kept.txt").read_text() == "there before"
