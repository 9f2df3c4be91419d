"""The environment setup, end to end: `ambient verify` on a repository with dependencies, a
package index on loopback, the allowlisting proxy, the cache, on both sandbox backends.

Installs are counted by the index's own request log, never timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from textwrap import dedent

import pytest
import redis

from sandbox import SandboxKind
from tests.fixtures.redis import RedisServer
from tests.fixtures.setup_repo import GENERATING_BACKEND, make_src_repo
from tests.sim.index import PackageIndex


def _verify(
    repo: Path, kind: SandboxKind, cache: Path, index: PackageIndex, *args: str
) -> tuple[int, dict[str, object], str]:
    env = {
        **os.environ,
        "AMBIENT_SETUP_INDEX_URL": index.url,
        "AMBIENT_SETUP_INDEX_HOSTS": "",
        "AMBIENT_CACHE_DIR": str(cache),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli.verify", str(repo), "--sandbox", kind, "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    document = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, document, done.stderr


def _setup(document: dict[str, object]) -> dict[str, object]:
    setup = document["setup"]
    assert isinstance(setup, dict)
    return setup


def _verdicts(document: dict[str, object]) -> list[str]:
    results = document["results"]
    assert isinstance(results, list)
    return [r["verdict"] for r in results]


def test_a_src_layout_repo_runs_its_suite_green_and_the_second_run_installs_nothing(
    tmp_path: Path, sandbox_backend: SandboxKind, package_index: PackageIndex
) -> None:
    repo = make_src_repo(tmp_path / "repo")
    code, first, err = _verify(repo, sandbox_backend, tmp_path / "cache", package_index)
    assert code == 0, err
    assert _verdicts(first) == ["PASS"]
    assert _setup(first)["ok"] is True
    assert _setup(first)["cached"] is False
    assert _setup(first)["installed"] == "the project (editable)"
    installed = package_index.downloads()
    assert installed >= 1

    code, second, err = _verify(repo, sandbox_backend, tmp_path / "cache", package_index)
    assert code == 0, err
    assert _setup(second)["cached"] is True
    assert package_index.downloads() == installed
    assert not (repo / "src" / "clockwork.egg-info").exists()
    # The setup built in a copy: nothing of it is in the tree (the checks' bytecode is theirs).
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True)
    assert [ln for ln in status.stdout.decode().splitlines() if "__pycache__" not in ln] == []


@pytest.mark.bwrap
def test_without_setup_the_same_suite_dies_at_import(
    tmp_path: Path, package_index: PackageIndex
) -> None:
    from tests.fixtures.sandbox import require_backend

    require_backend("bwrap")
    repo = make_src_repo(tmp_path / "repo")
    code, document, _ = _verify(repo, "bwrap", tmp_path / "cache", package_index, "--no-setup")
    assert code == 1
    assert document["setup"] is None
    results = document["results"]
    assert isinstance(results, list)
    assert "No module named 'clockwork'" in results[0]["stderr"]


def _generating_repo(root: Path) -> Path:
    return make_src_repo(
        root,
        extra_files={
            "_build/tinyback.py": GENERATING_BACKEND,
            ".gitignore": "_version.py\n__pycache__/\n",
        },
        test_body="from clockwork._version import VERSION; assert VERSION == '1.0.post0'",
    )


def _changes(repo: Path) -> list[str]:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"], cwd=repo, capture_output=True, check=True
    )
    return [ln for ln in status.stdout.decode().splitlines() if "__pycache__" not in ln]


def test_what_the_build_writes_into_its_tree_reaches_the_checks_and_never_the_tree(
    tmp_path: Path, sandbox_backend: SandboxKind, package_index: PackageIndex
) -> None:
    repo = _generating_repo(tmp_path / "repo")
    cache = tmp_path / "cache"
    for cached in (False, True):
        code, document, err = _verify(repo, sandbox_backend, cache, package_index)
        assert code == 0, (err, document)
        assert _verdicts(document) == ["PASS"]
        assert _setup(document)["cached"] is cached
        # Laid for the checks, taken away after: the tree is as it was, ignored files too.
        assert _changes(repo) == []
    (entry,) = cache.glob("environments/*/*/generated")
    assert (entry / "src" / "clockwork" / "_version.py").is_file()
    # The file the repository does not ignore would show as a change: it is not kept.
    assert not (entry / "src" / "clockwork" / "stray.txt").exists()


def test_a_corrupt_cache_entry_is_rebuilt_never_used(
    tmp_path: Path, sandbox_backend: SandboxKind, package_index: PackageIndex
) -> None:
    repo = make_src_repo(tmp_path / "repo")
    cache = tmp_path / "cache"
    assert _verify(repo, sandbox_backend, cache, package_index)[0] == 0
    installed = package_index.downloads()
    (record,) = cache.glob("environments/*/*/entry.json")
    site = next((record.parent / "env").glob("lib/python3*/site-packages"))
    (site / "freezer.py").unlink()

    code, document, err = _verify(repo, sandbox_backend, cache, package_index)
    assert code == 0, err
    assert _setup(document)["cached"] is False
    assert package_index.downloads() > installed


def test_a_broken_setup_command_is_one_line_and_no_check_is_called_failed(
    tmp_path: Path, sandbox_backend: SandboxKind, package_index: PackageIndex
) -> None:
    repo = make_src_repo(
        tmp_path / "repo",
        extra_files={
            ".github/ambient.yml": dedent(
                """
                verify:
                  commands: ["python -m unittest discover -s tests -t ."]
                  allow: ["python -m unittest( .*)?"]
                setup:
                  commands: ["pip install --no-index no-such-package-anywhere"]
                """
            )
        },
    )
    code, document, _ = _verify(repo, sandbox_backend, tmp_path / "cache", package_index)
    assert code == 2
    assert document["results"] == []
    setup = _setup(document)
    assert setup["ok"] is False
    error = setup["error"]
    assert isinstance(error, str)
    assert error.startswith(
        "a setup command failed: `pip install --no-index no-such-package-anywhere` exited 1: "
    )
    assert "\n" not in error
    assert not list((tmp_path / "cache").glob("environments/*/*/entry.json"))

    human = subprocess.run(
        [sys.executable, "-m", "bot.cli.verify", str(repo), "--sandbox", sandbox_backend],
        env={**os.environ, "AMBIENT_CACHE_DIR": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    first = human.stdout.splitlines()[0]
    assert first.startswith("setup failed: a setup command failed: `pip install")
    assert first.endswith("(the checks did not run)")
    assert "FAIL" not in human.stdout


def test_a_poetry_lock_is_honoured_exactly(
    tmp_path: Path, sandbox_backend: SandboxKind, package_index: PackageIndex
) -> None:
    # The index has freezer 1.0 and 2.0; the lock says 1.0, whose COLD is "ice".
    repo = make_src_repo(
        tmp_path / "repo",
        dependencies=("freezer",),
        extra_files={"poetry.lock": '[[package]]\nname = "freezer"\nversion = "1.0"\n'},
    )
    code, document, err = _verify(repo, sandbox_backend, tmp_path / "cache", package_index)
    assert code == 0, (err, document)
    assert _setup(document)["source"] == "detected, pinned by poetry.lock"


def test_a_uv_lock_is_honoured_exactly(
    tmp_path: Path, sandbox_backend: SandboxKind, package_index: PackageIndex
) -> None:
    from uv import find_uv_bin

    repo = make_src_repo(tmp_path / "repo")
    subprocess.run(
        [find_uv_bin(), "lock", "--quiet", "--index-url", package_index.url],
        cwd=repo,
        check=True,
        capture_output=True,
        env={**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache")},
    )
    # The project now asks for any freezer; only the lock keeps it at 1.0.
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"freezer<2"', '"freezer"'))
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "lock"],
        cwd=repo,
        check=True,
    )
    code, document, err = _verify(repo, sandbox_backend, tmp_path / "cache", package_index)
    assert code == 0, (err, document)
    assert _setup(document)["source"] == "uv.lock"


class _Counting(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def unlisted_server() -> Iterator[tuple[ThreadingHTTPServer, type[_Counting]]]:
    handler = type("Unlisted", (_Counting,), {"hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server, handler
    finally:
        server.shutdown()
        server.server_close()


_PROBE = dedent(
    """
    import socket, sys, urllib.request
    def get(url):
        try:
            return str(urllib.request.urlopen(url, timeout=10).status)
        except Exception as exc:
            return type(exc).__name__ + ":" + str(getattr(exc, "code", ""))
    def connect(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return "connected"
        except OSError as exc:
            return type(exc).__name__
    index, redis_port, unlisted = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print("index", get(index))
    print("redis-via-proxy", get(f"http://127.0.0.1:{redis_port}/"))
    print("redis-direct", connect(redis_port))
    print("unlisted-via-proxy", get(f"http://localhost:{unlisted}/"))
    print("unlisted-direct", connect(unlisted))
    sys.exit(3)
    """
)


def test_setup_reaches_the_index_and_nothing_else(
    tmp_path: Path,
    sandbox_backend: SandboxKind,
    package_index: PackageIndex,
    redis_server: RedisServer,
    unlisted_server: tuple[ThreadingHTTPServer, type[_Counting]],
) -> None:
    server, handler = unlisted_server
    unlisted_port = server.server_address[1]
    client = redis.Redis(port=redis_server.port)
    connections = int(client.info("stats")["total_connections_received"])
    probe = tmp_path / "repo" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(_PROBE)
    command = f"python probe.py {package_index.url} {redis_server.port} {unlisted_port}"
    repo = make_src_repo(
        tmp_path / "repo",
        extra_files={
            ".github/ambient.yml": json.dumps({"setup": {"commands": [command]}}),
            "probe.py": _PROBE,
        },
    )
    code, document, _ = _verify(repo, sandbox_backend, tmp_path / "cache", package_index)
    assert code == 2
    output = _setup(document)["output_tail"]
    assert isinstance(output, str)
    seen = dict(line.split(" ", 1) for line in output.splitlines() if " " in line)
    assert seen["index"] == "200"
    assert seen["redis-via-proxy"] == "HTTPError:403"
    assert seen["redis-direct"] == "ConnectionRefusedError"
    assert seen["unlisted-via-proxy"] == "HTTPError:403"
    assert seen["unlisted-direct"] == "ConnectionRefusedError"
    assert handler.hits == 0
    # No connection reached Redis but this test's own (counted before the setup ran).
    assert int(client.info("stats")["total_connections_received"]) == connections


@pytest.mark.bwrap
async def test_in_process_setup_builds_once_then_serves_the_checks_and_fails_in_one_line(
    tmp_path: Path, package_index: PackageIndex
) -> None:
    from dataclasses import replace

    from bot.config import load_settings
    from bot.errors import SetupFailed
    from bot.pipeline import Environments, PipelineConfig, SetupChoice, SetupOptions
    from sandbox import Command, CommandPolicy
    from tests.fixtures.sandbox import require_backend

    require_backend("bwrap")
    repo = make_src_repo(tmp_path / "repo")
    settings = load_settings(
        {
            "AMBIENT_CACHE_DIR": str(tmp_path / "cache"),
            "AMBIENT_SETUP_INDEX_URL": package_index.url,
            "AMBIENT_SETUP_INDEX_HOSTS": "",
        }
    )
    environments = Environments(SetupOptions.from_settings(settings))
    config = PipelineConfig.from_settings(
        settings, sandbox="bwrap", setup=SetupChoice(environments, f"test:{repo}")
    )
    policy = CommandPolicy(("python -m unittest( .*)?",), "test")
    try:
        first = await config.set_up(repo)
        assert first is not None
        assert (first.run.ok, first.run.cached) == (True, False)
        first.release()
        async with config.checks_on(repo, policy) as box:
            result = await box.run(Command.parse("python -m unittest discover -s tests -t ."))
        assert result.ok, result.stderr
        assert environments.builds == 1
        broken = replace(
            config,
            setup=SetupChoice(environments, f"test:{repo}", ("pip install --no-index nothing",)),
        )
        with pytest.raises(SetupFailed, match=r"^setup failed: a setup command failed: "):
            async with broken.checks_on(repo, policy):
                pass
    finally:
        await environments.close()


@pytest.mark.bwrap
async def test_every_round_of_a_fix_sees_the_generated_files_and_no_diff_holds_them(
    tmp_path: Path, package_index: PackageIndex
) -> None:
    from bot.config import load_settings
    from bot.pipeline import Environments, PipelineConfig, SetupChoice, SetupOptions
    from bot.pipeline.process import checked
    from sandbox import Command, CommandPolicy
    from tests.fixtures.sandbox import require_backend

    require_backend("bwrap")
    repo = _generating_repo(tmp_path / "repo")
    settings = load_settings(
        {
            "AMBIENT_CACHE_DIR": str(tmp_path / "cache"),
            "AMBIENT_SETUP_INDEX_URL": package_index.url,
            "AMBIENT_SETUP_INDEX_HOSTS": "",
        }
    )
    environments = Environments(SetupOptions.from_settings(settings))
    config = PipelineConfig.from_settings(
        settings, sandbox="bwrap", setup=SetupChoice(environments, f"test:{repo}")
    )
    policy = CommandPolicy(("python -m unittest( .*)?",), "test")
    command = Command.parse("python -m unittest discover -s tests -t .")
    try:
        async with config.checks_on(repo, policy) as box:
            # Each round stages the change, runs the checks, and removes what is not staged
            # (the laid files with it): the next round finds them laid again.
            for _ in range(2):
                (run,) = (await checked(repo, box, [command])).runs
                assert run.ok, run.output_tail
                (repo / "src" / "clockwork" / "edited.py").write_text("EDIT = 1\n")
                subprocess.run(["git", "add", "--all"], cwd=repo, capture_output=True, check=True)
                names = subprocess.run(
                    ["git", "diff", "--cached", "--name-only"], cwd=repo, capture_output=True
                )
                assert names.stdout.decode().split() == ["src/clockwork/edited.py"]
    finally:
        await environments.close()
