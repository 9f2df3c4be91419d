"""The `ambient` command imports only what a sub-command needs (start-up is CPU a gate pays on
every diff): checked by the modules a real process loaded, never by timing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("githubkit", "openai", "arq", "detect_secrets", "pydantic", "redis", "uvicorn")
_PROBE = (
    "import atexit, runpy, sys\n"
    "heavy = {heavy!r}\n"
    "atexit.register(lambda: print('LOADED', sorted(m for m in heavy if m in sys.modules),"
    " file=sys.stderr))\n"
    "sys.argv = ['ambient', *{args!r}]\n"
    "runpy.run_module('bot', run_name='__main__')\n"
)


def _loaded(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY, args=args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("LOADED")]
    return list(eval(line.removeprefix("LOADED ")))  # noqa: S307 (our own probe's list)


def test_version_imports_none_of_the_heavy_modules() -> None:
    assert _loaded("--version") == []


def test_scan_diff_imports_the_scanner_alone(tmp_path: Path) -> None:
    diff = tmp_path / "small.diff"
    diff.write_text("--- a/x.py\n+++ b/x.py\n@@ -1 +1,2 @@\n a = 1\n+b = 2\n")
    assert _loaded("scan-diff", str(diff)) == ["detect_secrets"]


@pytest.mark.parametrize("command", ["sweep", "verify", "jobs", "app", "patch", "debug"])
def test_every_lazy_sub_command_still_answers_help(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: " in done.stdout
