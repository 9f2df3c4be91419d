"""The per-file dispatcher and `ambient swarm`, against the scripted model server."""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agents.dispatch import WORKER_AGENT, DispatchError, discover, dispatch
from agents.llm import OpenAIModel
from bot.cli.swarm import swarm
from tests.fixtures.llm_sim import LLMSim

FILES = {
    "src/a.py": "def a():\n    return 1\n",
    "src/b.py": "def b():\n    return 2\n",
    "src/pkg/c.py": "def c():\n    return 3\n",
    "README.md": "# demo\n",
}
DOCSTRING = '    """Return the number."""\n'


def tree(root: Path, files: dict[str, str] = FILES) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def documented(path: str) -> str:
    old = FILES[path]
    new = old.replace(":\n", ":\n" + DOCSTRING, 1)
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(lines)


def answer_for(path: str, **options: Any) -> dict[str, Any]:
    item = {"title": f"Document {path}", "diff": documented(path), "risk_level": "low"}
    usage = {"prompt_tokens": 100, "completion_tokens": 20}
    return {
        "match": {"user": f"The file {path}:"},
        "content": json.dumps([item]),
        "usage": usage,
        **options,
    }


@pytest.fixture
async def model(llm_sim: LLMSim) -> AsyncIterator[OpenAIModel]:
    client = OpenAIModel(base_url=llm_sim.base_url, model="sim-model", timeout_s=10, max_retries=0)
    yield client
    await client.aclose()


async def test_one_call_per_file_failures_listed_usage_totalled(
    tmp_path: Path, llm_sim: LLMSim, model: OpenAIModel
) -> None:
    root = tree(tmp_path)
    llm_sim.set_script(
        [
            answer_for("src/a.py", latency_s=0.1),
            answer_for("src/b.py", latency_s=0.1),
            {"match": {"user": "The file src/pkg/c.py:"}, "status": 500, "error": "boom"},
        ]
    )
    report = await dispatch(model, root, "Add a docstring", "src/**/*.py", concurrency=2)
    assert [r.path for r in report.results] == ["src/a.py", "src/b.py", "src/pkg/c.py"]
    assert [r.path for r in report.failures] == ["src/pkg/c.py"]
    assert report.failures[0].error == (
        f"model endpoint {llm_sim.base_url} answered 500 after 1 tries: boom"
    )
    assert [p.title for r in report.results for p in r.proposals] == [
        "Document src/a.py",
        "Document src/b.py",
    ]
    assert (report.usage.calls, report.usage.total_tokens) == (2, 240)
    assert report.summary().startswith(
        "3 files matched 'src/**/*.py': 2 with a proposal, 1 failed; 2 model calls"
    )
    requests = llm_sim.requests()
    assert {r["agent"] for r in requests} == {WORKER_AGENT}
    assert all("Add a docstring" in r["system"] for r in requests)
    assert llm_sim.max_in_flight() <= 2
    # The working tree is never written.
    assert (root / "src/a.py").read_text() == FILES["src/a.py"]


async def test_a_proposal_for_another_file_is_dropped_with_a_note(
    tmp_path: Path, llm_sim: LLMSim, model: OpenAIModel
) -> None:
    root = tree(tmp_path)
    stray = {"title": "Also b", "diff": documented("src/b.py"), "risk_level": "low"}
    llm_sim.set_script([{"match": {"user": "The file src/a.py:"}, "content": json.dumps([stray])}])
    report = await dispatch(model, root, "Add a docstring", "src/a.py")
    (result,) = report.results
    assert result.ok
    assert result.proposals == ()
    assert result.notes == ('dropped "Also b": it changes src/b.py',)


async def test_a_malformed_answer_gets_one_correction(
    tmp_path: Path, llm_sim: LLMSim, model: OpenAIModel
) -> None:
    root = tree(tmp_path)
    llm_sim.set_script(
        [
            {"match": {"user": "The file src/a.py:"}, "content": '[{"title": "x"}]'},
            answer_for("src/a.py") | {"match": {"user": "problems"}},
        ]
    )
    report = await dispatch(model, root, "Add a docstring", "src/a.py")
    assert [p.title for p in report.results[0].proposals] == ["Document src/a.py"]
    assert "item 1: risk_level is missing" in llm_sim.requests()[1]["user"]


async def test_unreadable_files_fail_without_a_model_call(
    tmp_path: Path, llm_sim: LLMSim, model: OpenAIModel
) -> None:
    root = tree(tmp_path, {"data/blob.py": "x", "data/big.py": "y" * 200})
    (root / "data/blob.py").write_bytes(b"\x00\x01binary")
    report = await dispatch(model, root, "t", "data/*.py", max_file_bytes=100)
    errors = {r.path: r.error for r in report.results}
    assert errors == {
        "data/big.py": "200 bytes, more than 100; skipped",
        "data/blob.py": "binary file; skipped",
    }
    assert llm_sim.requests() == []


def test_discover_skips_git_and_symlinks_and_refuses_too_much(tmp_path: Path) -> None:
    root = tree(tmp_path, {**FILES, ".git/hooks/x.py": "", "vendor/.git/y.py": ""})
    (root / "src/link.py").symlink_to(root / "src/a.py")
    assert discover(root, "**/*.py") == ("src/a.py", "src/b.py", "src/pkg/c.py")
    with pytest.raises(DispatchError, match=r"no file under .* matches '\*\.rs'"):
        discover(root, "*.rs")
    with pytest.raises(DispatchError, match=r"matches 3 files under .*, more than 2; narrow"):
        discover(root, "**/*.py", max_files=2)


def cli_env(llm_sim: LLMSim) -> dict[str, str | None]:
    return {
        "AMBIENT_LLM_BASE_URL": llm_sim.base_url,
        "AMBIENT_LLM_MODEL": "sim-model",
        "AMBIENT_LLM_API_KEY": None,
    }


def test_cli_json_report(tmp_path: Path, llm_sim: LLMSim) -> None:
    root = tree(tmp_path)
    llm_sim.set_script([answer_for("src/a.py"), answer_for("src/b.py")])
    result = CliRunner().invoke(
        swarm,
        [str(root), "--task", "Add a docstring", "--glob", "src/*.py", "--json"],
        env=cli_env(llm_sim),
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [f["path"] for f in report["files"]] == ["src/a.py", "src/b.py"]
    assert report["failed"] == []
    assert report["usage"]["calls"] == 2
    assert report["files"][0]["proposals"][0]["diff"] == documented("src/a.py")


def test_cli_text_report_lists_failures_and_exits_1(tmp_path: Path, llm_sim: LLMSim) -> None:
    root = tree(tmp_path)
    llm_sim.set_script(
        [
            answer_for("src/a.py"),
            {"match": {"user": "The file src/b.py:"}, "status": 400, "error": "bad"},
        ]
    )
    result = CliRunner().invoke(
        swarm,
        [str(root), "--task", "Add a docstring", "--glob", "src/*.py", "--concurrency", "1"],
        env=cli_env(llm_sim),
    )
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("swarm: 2 files matched 'src/*.py': 1 with a proposal, 1 failed")
    assert lines[1] == "  ok      src/a.py  Document src/a.py"
    assert lines[2].startswith("  failed  src/b.py  model endpoint")
    assert "# src/a.py: Document src/a.py" in lines
    assert "+" + DOCSTRING.rstrip("\n") in lines


def test_cli_bad_glob_is_one_line_and_exit_2(tmp_path: Path, llm_sim: LLMSim) -> None:
    result = CliRunner().invoke(
        swarm, [str(tree(tmp_path)), "--task", "x", "--glob", "*.rs"], env=cli_env(llm_sim)
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("ambient: no file under ")
    assert len(result.stderr.splitlines()) == 1


async def test_without_a_model_it_exits_2_naming_the_variables(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMBIENT_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli.swarm", str(tmp_path), "--task", "x", "--glob", "*",
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 2
    assert out == b""
    message = err.decode()
    assert message.count("\n") == 1
    assert message.startswith("ambient: no model configured: set AMBIENT_LLM_BASE_URL")
    assert "AMBIENT_LLM_MODEL" in message


async def test_progress_is_told_the_total_then_each_file_as_it_is_done(
    tmp_path: Path, llm_sim: LLMSim, model: OpenAIModel
) -> None:
    root = tree(tmp_path, {"data/blob.py": "x", "data/big.py": "y" * 200})
    (root / "data/blob.py").write_bytes(b"\x00\x01binary")
    seen: list[tuple[int, str | None]] = []
    await dispatch(
        model,
        root,
        "t",
        "data/*.py",
        max_file_bytes=100,
        progress=lambda total, done: seen.append((total, done.path if done else None)),
    )
    assert seen[0] == (2, None)
    assert sorted(seen[1:]) == [(2, "data/big.py"), (2, "data/blob.py")]
