"""Containment, asserted for each backend: what a sandboxed command cannot reach or exhaust."""

from __future__ import annotations

import asyncio
import secrets
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import SandboxError
from sandbox import Command, CommandPolicy, CommandRefused, Limits
from tests.fixtures.sandbox import SandboxFactory, host_processes


def py(script: str, timeout_s: float = 60.0) -> Command:
    return Command(("python", "-c", script), timeout_s=timeout_s)


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP server on all host addresses; yields its port and the peers that connected."""
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen()
    server.settimeout(0.2)
    peers: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except TimeoutError:
                continue
            peers.append(addr[0])
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], peers
    stop.set()
    thread.join()
    server.close()


def _host_addresses() -> list[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
            return [probe.getsockname()[0]]
        except OSError:
            return []


async def test_no_network(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path, listener: tuple[int, list[str]]
) -> None:
    port, peers = listener
    targets = [("127.0.0.1", port), ("172.17.0.1", port), ("1.1.1.1", 80), ("8.8.8.8", 53)]
    targets += [(address, port) for address in _host_addresses()]
    script = (
        "import socket\n"
        f"for host, port in {targets!r}:\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=3).close()\n"
        "        print('CONNECTED', host)\n"
        "    except OSError as exc:\n"
        "        print('refused', host, type(exc).__name__)\n"
    )
    sandbox = await sandbox_factory(sandbox_workspace)
    result = await sandbox.run(py(script))
    assert result.exit_code == 0, result.stderr
    assert "CONNECTED" not in result.stdout
    assert result.stdout.count("refused") == len(targets)
    assert peers == []


async def test_cannot_read_files_outside_the_workspace(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path, tmp_path: Path
) -> None:
    secret = f"-----BEGIN FAKE PRIVATE KEY----- {secrets.token_hex(16)}"
    planted = [
        tmp_path / "app-key.pem",
        Path("/var/tmp") / f"ambient-test-{secrets.token_hex(4)}.pem",
        Path.home() / f".ambient-test-{secrets.token_hex(4)}.pem",
    ]
    try:
        for path in planted:
            path.write_text(secret)
        sandbox = await sandbox_factory(sandbox_workspace)
        script = (
            f"for path in {[str(p) for p in planted]!r}:\n"
            "    try:\n"
            "        print('READ', open(path).read())\n"
            "    except OSError as exc:\n"
            "        print('unreadable', path, type(exc).__name__)\n"
        )
        result = await sandbox.run(py(script))
    finally:
        for path in planted:
            path.unlink(missing_ok=True)
    assert result.exit_code == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    assert result.stdout.count("unreadable") == len(planted)


async def test_cannot_write_outside_the_workspace(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    name = f"ambient-escape-{secrets.token_hex(4)}"
    targets = [f"/{name}", f"/etc/{name}", f"/usr/{name}", f"/var/tmp/{name}"]
    targets += [f"/home/{name}", f"/workspace/../{name}", f"{Path.home()}/{name}"]
    script = (
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('WROTE', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, type(exc).__name__)\n"
        f"open('/tmp/{name}', 'w').write('private')\n"
        "open('inside.txt', 'w').write('mine')\n"
    )
    sandbox = await sandbox_factory(sandbox_workspace)
    result = await sandbox.run(py(script))
    assert result.exit_code == 0, result.stderr
    assert "WROTE" not in result.stdout
    for path in [*targets, f"/tmp/{name}"]:
        assert not Path(path).exists(), path
    assert (sandbox_workspace / "inside.txt").read_text() == "mine"


async def test_worker_environment_is_invisible(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = {
        "AMBIENT_GITHUB_PRIVATE_KEY": f"fake-pem-{secrets.token_hex(8)}",
        "GITHUB_TOKEN": f"ghs_{secrets.token_hex(8)}",
        "DEPLOY_TOKEN": f"tok-{secrets.token_hex(8)}",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    script = (
        "import os, glob\n"
        "print(sorted(os.environ.items()))\n"
        "for path in glob.glob('/proc/*/environ'):\n"
        "    try:\n"
        "        print(open(path, 'rb').read())\n"
        "    except OSError:\n"
        "        pass\n"
    )
    sandbox = await sandbox_factory(sandbox_workspace)
    result = await sandbox.run(py(script))
    assert result.exit_code == 0, result.stderr
    for name, value in values.items():
        assert name not in result.stdout
        assert value not in result.stdout


async def test_runs_as_a_non_root_user_without_capabilities(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    sandbox = await sandbox_factory(sandbox_workspace)
    result = await sandbox.run(Command(("sh", "-c", "id -u; grep CapEff /proc/self/status")))
    uid, caps = result.stdout.split("\n")[:2]
    assert uid != "0"
    assert caps.split()[1] == "0000000000000000"


async def test_fork_bomb_meets_the_pid_limit(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    sandbox = await sandbox_factory(sandbox_workspace, limits=Limits(pids=64))
    counted = await sandbox.run(
        py(
            "import os, time\n"
            "children = 0\n"
            "try:\n"
            "    while True:\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(60)\n"
            "            os._exit(0)\n"
            "        children += 1\n"
            "except OSError as exc:\n"
            "    print('stopped after', children, 'forks:', exc.strerror)\n"
        )
    )
    assert "stopped after" in counted.stdout, counted.stderr
    assert int(counted.stdout.split()[2]) < 64

    marker = f"bomb-{secrets.token_hex(4)}"
    bomb = asyncio.create_task(
        sandbox.run(
            py(
                f"# {marker}\nimport os\nwhile True:\n    try:\n        os.fork()\n"
                "    except OSError:\n        pass\n",
                timeout_s=4,
            )
        )
    )
    await asyncio.sleep(1)
    host = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "print('host alive')", stdout=asyncio.subprocess.PIPE
    )
    assert (await host.communicate())[0] == b"host alive\n"
    result = await bomb
    assert result.timed_out
    assert host_processes(marker) == []
    after = await sandbox.run(py("print('usable again')"))
    assert after.stdout == "usable again\n"


async def test_memory_bomb_is_killed_and_reported(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    sandbox = await sandbox_factory(sandbox_workspace, limits=Limits(memory_bytes=128 << 20))
    result = await sandbox.run(
        py("chunks = []\nwhile True:\n    chunks.append(b'x' * (16 << 20))\n")
    )
    assert result.oom_killed
    assert not result.ok
    assert not result.timed_out


async def test_endless_loop_is_killed_at_the_timeout(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    marker = f"loop-{secrets.token_hex(4)}"
    child = f"import time; time.sleep(600)  # {marker}-child"
    sandbox = await sandbox_factory(sandbox_workspace)
    result = await sandbox.run(
        py(
            f"# {marker}\nimport subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', {child!r}])\n"
            "print('spinning', flush=True)\nwhile True:\n    pass\n",
            timeout_s=2,
        )
    )
    assert result.timed_out
    assert not result.ok
    assert result.stdout == "spinning\n"
    assert host_processes(marker) == []
    after = await sandbox.run(py("print('next')"))
    assert after.stdout == "next\n"


async def test_background_processes_do_not_outlive_their_command(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    marker = f"daemon-{secrets.token_hex(4)}"
    sandbox = await sandbox_factory(sandbox_workspace)
    result = await sandbox.run(
        Command(("sh", "-c", f"python -c 'import time; time.sleep(600)  # {marker}' & echo ok"))
    )
    assert result.stdout == "ok\n"
    assert host_processes(marker) == []


async def test_output_flood_is_capped(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    sandbox = await sandbox_factory(sandbox_workspace, limits=Limits(output_bytes=64 << 10))
    result = await sandbox.run(
        py("import sys\nsys.stdout.write('x' * (50 << 20))\nprint('THE END')\n")
    )
    assert result.exit_code == 0
    assert result.truncated
    assert result.stdout.endswith("xxxxTHE END\n")
    assert len(result.stdout) < (64 << 10) + 200
    assert "truncated" in result.stdout.splitlines()[0]


async def test_disallowed_command_is_refused_without_running(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    sandbox = await sandbox_factory(sandbox_workspace, policy=CommandPolicy())
    with pytest.raises(CommandRefused, match="'touch ran' matches none") as refused:
        await sandbox.run(Command(("touch", "ran")))
    assert "default sandbox policy" in str(refused.value)
    assert not (sandbox_workspace / "ran").exists()


async def test_pytest_pass_and_fail(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    sandbox = await sandbox_factory(sandbox_workspace, policy=CommandPolicy())
    passed = await sandbox.run(Command(("python", "-m", "pytest", "-q", "test_pass.py")))
    failed = await sandbox.run(Command(("pytest", "-q", "-p", "no:cacheprovider", "test_fail.py")))
    assert passed.exit_code == 0, passed.stdout + passed.stderr
    assert "1 passed" in passed.stdout
    assert failed.exit_code == 1
    assert "1 failed" in failed.stdout
    assert "the failing test failed" in failed.stdout


async def test_git_is_readable_but_its_directory_is_not_writable(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    sandbox = await sandbox_factory(sandbox_workspace)
    status = await sandbox.run(Command(("git", "status", "--short")))
    hook = await sandbox.run(Command(("sh", "-c", "echo 'echo pwned' > .git/hooks/post-checkout")))
    assert status.exit_code == 0, status.stderr
    assert "test_pass.py" in status.stdout
    assert hook.exit_code != 0
    assert not (sandbox_workspace / ".git" / "hooks" / "post-checkout").exists()


async def test_cancelling_a_run_kills_the_command(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    marker = f"cancelled-{secrets.token_hex(4)}"
    sandbox = await sandbox_factory(sandbox_workspace)
    running = asyncio.create_task(
        sandbox.run(py(f"# {marker}\nprint('started', flush=True)\nimport time\ntime.sleep(600)"))
    )
    while not host_processes(marker):
        await asyncio.sleep(0.05)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert host_processes(marker) == []
    after = await sandbox.run(py("print('still usable')"))
    assert after.stdout == "still usable\n"


async def test_cancelling_at_any_moment_leaves_nothing(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    sandbox = await sandbox_factory(sandbox_workspace)
    for delay in (0, 0.001, 0.005, 0.02, 0.05, 0.1, 0.3):
        marker = f"early-{secrets.token_hex(4)}"
        running = asyncio.create_task(sandbox.run(py(f"import time; time.sleep(600)  # {marker}")))
        await asyncio.sleep(delay)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert host_processes(marker) == [], delay
    after = await sandbox.run(py("print('still usable')"))
    assert after.stdout == "still usable\n"


async def test_closing_during_a_run_stops_it(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    marker = f"closed-{secrets.token_hex(4)}"
    sandbox = await sandbox_factory(sandbox_workspace)
    running = asyncio.create_task(sandbox.run(py(f"import time; time.sleep(600)  # {marker}")))
    while not host_processes(marker):
        await asyncio.sleep(0.05)
    await sandbox.close()
    try:
        result = await running
    except SandboxError:
        pass
    else:
        assert not result.ok
    assert host_processes(marker) == []
    with pytest.raises(SandboxError, match="closed"):
        await sandbox.run(py("print('no')"))


async def test_a_file_cannot_grow_past_file_bytes(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    sandbox = await sandbox_factory(sandbox_workspace, limits=Limits(file_bytes=1 << 20))
    # Python ignores SIGXFSZ and sees EFBIG; dd, like most programs, is killed by the signal.
    python = await sandbox.run(
        py(
            "import errno\n"
            "with open('big.bin', 'wb') as out:\n"
            "    try:\n"
            "        out.write(b'x' * (2 << 20))\n"
            "        out.flush()\n"
            "    except OSError as exc:\n"
            "        print('refused', errno.errorcode[exc.errno])\n"
        )
    )
    dd = await sandbox.run(
        Command(("dd", "if=/dev/zero", "of=dd.bin", "bs=64k", "count=64", "status=none"))
    )
    assert python.stdout == "refused EFBIG\n", python.stderr
    assert (sandbox_workspace / "big.bin").stat().st_size == 1 << 20
    assert dd.exit_code != 0
    assert (sandbox_workspace / "dd.bin").stat().st_size == 1 << 20


async def test_tmp_holds_at_most_tmp_bytes(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    sandbox = await sandbox_factory(sandbox_workspace, limits=Limits(tmp_bytes=8 << 20))
    result = await sandbox.run(
        py(
            "import errno\n"
            "written = 0\n"
            "try:\n"
            "    with open('/tmp/fill', 'wb', buffering=0) as out:\n"
            "        for _ in range(32):\n"
            "            written += out.write(b'x' * (1 << 20))\n"
            "except OSError as exc:\n"
            "    print(errno.errorcode[exc.errno], written)\n"
        )
    )
    code, written = result.stdout.split()
    assert code == "ENOSPC", result.stderr
    assert int(written) <= 8 << 20


async def test_open_files_stop_at_open_files(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    sandbox = await sandbox_factory(sandbox_workspace, limits=Limits(open_files=64))
    result = await sandbox.run(
        py(
            "import errno, os\n"
            "opened = []\n"
            "try:\n"
            "    while len(opened) < 10000:\n"
            "        opened.append(os.open('/dev/null', os.O_RDONLY))\n"
            "except OSError as exc:\n"
            "    print(errno.errorcode[exc.errno], len(opened))\n"
        )
    )
    code, opened = result.stdout.split()
    assert code == "EMFILE", result.stderr
    assert int(opened) < 64


async def test_cpu_time_stays_within_timeout_times_cpus(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path
) -> None:
    # Docker caps the share (--cpus), bwrap the CPU seconds of each process (timeout x cpus,
    # rounded up, plus one). Either way a spinning process gets at most that: here 2 s of the
    # 4 s it would take unbounded.
    sandbox = await sandbox_factory(sandbox_workspace, limits=Limits(cpus=0.25))
    result = await sandbox.run(
        py(
            "import os, time\n"
            "mark = time.monotonic()\n"
            "while True:\n"
            "    if time.monotonic() - mark > 0.2:\n"
            "        times = os.times()\n"
            "        print(round(times.user + times.system, 2), flush=True)\n"
            "        mark = time.monotonic()\n",
            timeout_s=4,
        )
    )
    used = [float(line) for line in result.stdout.split()]
    assert used, result.stderr
    assert max(used) <= 2.3
    assert not result.ok


async def test_core_dumps_are_off(sandbox_factory: SandboxFactory, sandbox_workspace: Path) -> None:
    sandbox = await sandbox_factory(sandbox_workspace)
    result = await sandbox.run(
        py("import resource\nprint(resource.getrlimit(resource.RLIMIT_CORE)[0])")
    )
    assert result.stdout == "0\n", result.stderr
