"""The repository pack, built from real git checkouts and real failure logs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents.context import RepoUnreadable, build_pack, read_repo
from agents.impact import import_neighbours
from agents.pack import RepoFiles
from agents.pack_render import excerpt, fenced, render_pack
from bot.cli.debug import debug

LOGS = Path(__file__).parent / "data" / "logs"
CALC: dict[str, str] = json.loads((LOGS / "calc-project.json").read_text())


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The calc project (whose failures the logs record) as a git checkout."""
    root = tmp_path / "calc"
    for path, text in CALC.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    return root


def git_add(root: Path, *paths: str) -> None:
    subprocess.run(["git", "-C", str(root), "add", *paths], check=True)


async def test_read_repo_reads_tracked_regular_text_files_only(
    checkout: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "host-secret.txt"
    outside.write_text("not for prompts")
    (checkout / "link.txt").symlink_to(outside)
    (checkout / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    (checkout / "big.txt").write_text("x" * 5000)
    git_add(checkout, "link.txt", "logo.png", "big.txt")
    (checkout / "untracked.py").write_text("x = 1\n")

    repo = await read_repo(checkout, max_file_bytes=2000)

    assert set(repo.paths) == {*CALC, "link.txt", "logo.png", "big.txt"}
    assert set(repo.texts) == set(CALC)
    assert repo.texts["src/calc/core.py"] == CALC["src/calc/core.py"]


async def test_read_repo_outside_git_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RepoUnreadable, match="git ls-files failed: fatal: not a git repository"):
        await read_repo(tmp_path)


async def test_pack_puts_hot_paths_first_then_neighbours(checkout: Path) -> None:
    repo = await read_repo(checkout)
    log = (LOGS / "pytest-long.log").read_text()

    pack = build_pack(repo, budget_tokens=4000, log=log)

    assert [(f.path, f.reason) for f in pack.files] == [
        ("pyproject.toml", "important"),
        ("tests/test_core.py", "hot"),
        ("src/calc/core.py", "hot"),
        ("src/calc/__init__.py", "neighbour"),
        ("src/calc/parse.py", "neighbour"),
    ]
    assert pack.names_only == ()
    assert pack.used_tokens <= pack.budget_tokens
    assert "FAILED tests/test_core.py::test_mean_single" in pack.log_tail
    text = render_pack(pack)
    assert text.index("### tests/test_core.py (hot)") < text.index("### src/calc/core.py (hot)")
    assert "- src/calc/core.py: lines 12, 21 (2 mentions)" in text


def test_touched_files_then_their_import_neighbours() -> None:
    repo = RepoFiles.from_texts(CALC)

    pack = build_pack(repo, budget_tokens=4000, touched=["web/format.js", "missing.js"])

    assert [(f.path, f.reason) for f in pack.files] == [
        ("pyproject.toml", "important"),
        ("web/format.js", "touched"),
        ("web/cli.js", "neighbour"),
        ("web/format.test.js", "neighbour"),
    ]


def test_what_does_not_fit_is_named_or_excerpted() -> None:
    long_core = "\n".join(f"# line {n}" for n in range(1, 400)) + "\n"
    repo = RepoFiles.from_texts({**CALC, "src/calc/core.py": long_core})
    log = "src/calc/core.py:200: error: boom\ntests/test_core.py:9: AssertionError\n"

    pack = build_pack(repo, budget_tokens=1000, log=log)

    core = next(f for f in pack.files if f.path == "src/calc/core.py")
    assert core.truncated
    assert core.lines == (200,)
    assert core.text.startswith("[lines 180-220 of 399]\n# line 180\n")
    assert [f.path for f in pack.files if not f.truncated] == [
        "pyproject.toml",
        "tests/test_core.py",
        "src/calc/__init__.py",
        "src/calc/parse.py",
    ]
    assert pack.used_tokens <= pack.budget_tokens


def test_tiny_budget_lists_part_of_the_tree_and_names_the_rest() -> None:
    repo = RepoFiles.from_texts(CALC)

    pack = build_pack(repo, budget_tokens=100, log="src/calc/core.py:21: boom\n")

    assert 0 < len(pack.tree) < len(CALC)
    assert pack.tree_omitted == len(CALC) - len(pack.tree)
    assert ("src/calc/core.py", "hot") in pack.names_only
    assert f"(… {pack.tree_omitted} more not listed)" in render_pack(pack)


def test_important_files_are_capped() -> None:
    repo = RepoFiles.from_texts({**CALC, "README.md": "word " * 10_000})

    pack = build_pack(repo, budget_tokens=50_000, important_cap_tokens=100)

    readme = next(f for f in pack.files if f.path == "README.md")
    assert readme.truncated
    assert len(readme.text) == 400


def test_import_neighbours_python_relative_and_src_layout() -> None:
    texts = {
        "src/pkg/__init__.py": "",
        "src/pkg/a.py": "from . import b\nfrom .sub.c import thing\n",
        "src/pkg/b.py": "import os\n",
        "src/pkg/sub/__init__.py": "",
        "src/pkg/sub/c.py": "from ..b import x\n",
        "tests/test_a.py": "from pkg.a import run\n",
    }

    assert import_neighbours(["src/pkg/a.py"], texts) == (
        "src/pkg/__init__.py",
        "src/pkg/b.py",
        "src/pkg/sub/c.py",
        "tests/test_a.py",
    )
    assert import_neighbours(["src/pkg/b.py"], texts) == ("src/pkg/a.py", "src/pkg/sub/c.py")


def test_excerpt_merges_nearby_windows() -> None:
    text = "".join(f"{n}\n" for n in range(1, 101))

    assert excerpt(text, [10, 15, 90], radius=2).splitlines() == [
        "[lines 8-17 of 100]", *map(str, range(8, 18)),
        "[lines 88-92 of 100]", *map(str, range(88, 93)),
    ]  # fmt: skip


def test_fence_is_longer_than_any_inside() -> None:
    assert fenced("```py\nx\n```\n", "md") == "````md\n```py\nx\n```\n````"


def test_debug_context_command(checkout: Path) -> None:
    runner = CliRunner()
    log = str(LOGS / "unittest.log")

    shown = runner.invoke(debug, ["context", str(checkout), "--log", log, "--budget", "3000"])
    as_json = runner.invoke(debug, ["context", str(checkout), "--log", log, "--json"])
    rendered = runner.invoke(debug, ["context", str(checkout), "--render"])

    assert shown.exit_code == 0, shown.output
    assert "hot paths:" in shown.output
    (line,) = [x for x in shown.output.splitlines() if x.strip().startswith("tests/test_parse.py")]
    assert line.endswith("lines 11, 14  (4 mentions: unittest, traceback)")
    selection = json.loads(as_json.output)
    assert [h["path"] for h in selection["hot_paths"]][:2] == [
        "tests/test_parse.py",
        "src/calc/parse.py",
    ]
    assert rendered.output.startswith("## Repository files (11 tracked)\n")


def test_debug_context_outside_git_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(debug, ["context", str(tmp_path)])

    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"ambient: {tmp_path}: git ls-files failed")
