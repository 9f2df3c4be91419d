"""`ambient verify`, run as its own process the way a person runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import verify as cli
from sandbox.base import SandboxKind
from tests.fixtures.sandbox import require_backend

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bwrap_ready() -> None:
    require_backend("bwrap")


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMBIENT_")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.verify", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env=env,
        timeout=300,
        check=False,
    )


def test_passing_checks_exit_0(sandbox_backend: SandboxKind, sandbox_workspace: Path) -> None:
    (sandbox_workspace / "test_fail.py").unlink()
    (sandbox_workspace / "pyproject.toml").write_text("")
    done = verify(str(sandbox_workspace), "--sandbox", sandbox_backend)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("PASS    python -m pytest -q")
    assert f"1 command(s) in the {sandbox_backend} sandbox: 1 passed, 0 failed" in done.stdout


@pytest.mark.bwrap
@pytest.mark.usefixtures("bwrap_ready")
def test_failing_check_exits_1_with_the_output_tail(sandbox_workspace: Path) -> None:
    done = verify(
        str(sandbox_workspace),
        "--sandbox=bwrap",
        "--cmd",
        "python -m pytest -q -p no:cacheprovider test_pass.py",
        "--cmd",
        "pytest -q -p no:cacheprovider test_fail.py",
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("PASS ")
    assert lines[1].startswith("FAIL    pytest -q")
    assert any("the failing test failed" in line for line in lines)


@pytest.mark.bwrap
@pytest.mark.usefixtures("bwrap_ready")
def test_json_report(sandbox_workspace: Path) -> None:
    done = verify(str(sandbox_workspace), "--sandbox", "bwrap", "--json", "--cmd", "git status")
    report = json.loads(done.stdout)
    assert done.returncode == 0
    assert report["passed"] is True
    assert report["sandbox"] == "bwrap"
    assert report["results"][0]["command"] == "git status"
    assert report["results"][0]["exit_code"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cmd", "curl https://example.com"], "command refused by the default sandbox policy"),
        ([], "no checks configured or detected"),
    ],
)
def test_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = verify(str(tmp_path), "--sandbox", "bwrap", *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.bwrap
@pytest.mark.usefixtures("bwrap_ready")
def test_repository_config_adds_commands_and_patterns(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ambient.yml").write_text(
        "verify:\n  commands: ['echo configured']\n  allow: ['echo( .*)?']\n"
    )
    done = verify(str(tmp_path), "--sandbox", "bwrap")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("PASS    echo configured")


@pytest.mark.bwrap
@pytest.mark.usefixtures("bwrap_ready")
def test_verify_in_process(sandbox_workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMBIENT_SANDBOX", "bwrap")
    runner = CliRunner()
    passed = runner.invoke(cli.verify, [str(sandbox_workspace), "--cmd", "pytest -q test_pass.py"])
    failed = runner.invoke(
        cli.verify, [str(sandbox_workspace), "--json", "--cmd", "pytest -q test_fail.py"]
    )
    refused = runner.invoke(cli.verify, [str(sandbox_workspace), "--cmd", "rm -rf ."])
    assert passed.exit_code == 0, passed.output
    assert "1 command(s) in the bwrap sandbox: 1 passed, 0 failed" in passed.output
    assert failed.exit_code == 1
    assert json.loads(failed.output)["results"][0]["verdict"] == "FAIL"
    assert refused.exit_code == 2
    assert (sandbox_workspace / "test_pass.py").exists()
