"""`ambient watch`: a change in the checkout triggers a sweep of a working-tree snapshot."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from bot.flows.local import LocalRun
from bot.flows.watch import watch_checkout
from bot.pipeline.process import PipelineConfig
from tests.fixtures.sandbox import require_backend

EXAMPLE = Path(__file__).parent.parent / "examples" / "python-demo"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


async def _wait_for(console: Console, text: str, timeout_s: float) -> str:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        seen = console.export_text(clear=False)
        if text in seen:
            return seen
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared; output so far:\n{console.export_text()}")


# Longer than the waits inside, so a sweep that never ends fails with the watcher's output.
@pytest.mark.timeout(200)
async def test_an_edit_is_swept_from_a_snapshot_and_the_working_tree_is_left_alone(
    tmp_path: Path,
) -> None:
    require_backend("bwrap")
    repo = tmp_path / "demo"
    shutil.copytree(EXAMPLE, repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "demo")
    run = LocalRun(repo, tmp_path / "ws", PipelineConfig(sandbox="bwrap", command_timeout_s=120))
    console = Console(record=True, file=io.StringIO(), width=200)
    watcher = asyncio.create_task(watch_checkout(run, console, debounce_s=0.3, interval_s=3600))
    try:
        await _wait_for(console, "watching", 10)
        edited = (repo / "inventory.py").read_text() + "\n\ndef unused( x ):\n    return x\n"
        (repo / "inventory.py").write_text(edited)
        await _wait_for(console, "time:", 100)
        # Reading files (the snapshot reads every tracked one) and saving one unchanged are
        # no changes: the watcher stays on the one sweep.
        (repo / "README.md").read_text()
        (repo / "inventory.py").write_text(edited)
        await asyncio.sleep(3)
        output = console.export_text(clear=False)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    assert output.count("sweeping:") == 1, output
    assert "sweeping: inventory.py" in output
    assert "published" in output
    # ruff's fixes come one proposal per rule family, the formatting apart.
    branches = _git(repo, "branch", "--list", "ambient/sweep/*").split()
    formatted = [b for b in branches if "formatting" in b]
    assert len(formatted) == 1, branches
    (branch,) = formatted
    # The sweep saw the uncommitted edit: ruff formats the new function on the branch.
    assert "def unused(x):" in _git(repo, "show", f"{branch}:inventory.py")
    assert (repo / "inventory.py").read_text() == edited
    assert _git(repo, "status", "--porcelain") == "M inventory.py"
