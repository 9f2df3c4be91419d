"""Building a sweep's five packs for a large real repository, against one plain pack.

The repository is a snapshot of CPython's standard library (`Lib/` as this interpreter ships
it, without site-packages), copied into a scratch git checkout; where no standard library
sources are found, a generated 2,000-module project stands in. Each round reads the checkout
(`read_repo`), then times:

- the baseline, in the same run: one plain `build_pack` (file tree, important files) at the
  sweep's budget, what every specialist was shown before;
- the sweep: ruff's findings (`ruff check --isolated` on the host), the `ast` index, the import
  graph and the map's ranking (`analyse_checkout`), then the five specialists' packs
  (`plan_sweep`).

Run from the repository root: `.venv/bin/python bench/context.py`. The last line is
`pack_s=<median seconds of the sweep's analysis and five packs> files=<tracked files>
map_tokens=<the map's tokens>`.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agents.analysis import analyse_checkout  # noqa: E402
from agents.context import build_pack, read_repo  # noqa: E402
from agents.pack import RepoFiles  # noqa: E402
from agents.rotation import Cursor  # noqa: E402
from agents.specialists import enabled, read_config  # noqa: E402
from agents.sweep_pack import SWEEP_BUDGET_TOKENS, SweepPlan, plan_sweep  # noqa: E402
from tests.fixtures.code_repos import checkout, synthetic_repo  # noqa: E402

ROUNDS = 3
SKIPPED = ("site-packages", "__pycache__", "idlelib/Icons", "test/test_email/data")


def _snapshot(into: Path) -> tuple[Path, str]:
    """A checkout of the standard library's sources, or of a generated project."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    root = into / "repo"
    if (stdlib / "os.py").is_file():
        shutil.copytree(
            stdlib,
            root,
            ignore=shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc", "*.so"),
            symlinks=True,
        )
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
        return root, f"the standard library of Python {sys.version.split()[0]}"
    return checkout(root, synthetic_repo(2000)), "a generated project of 2,000 modules"


async def _round(root: Path) -> tuple[float, float, float, SweepPlan, RepoFiles]:
    repo = await read_repo(root)
    start = time.perf_counter()
    build_pack(repo, budget_tokens=SWEEP_BUDGET_TOKENS)
    baseline = time.perf_counter() - start
    config = read_config(None)
    start = time.perf_counter()
    analysis = await analyse_checkout(root, repo, config)
    analysed = time.perf_counter() - start
    plan = plan_sweep(analysis, enabled(config), config, cursor=Cursor(), job="bench")
    total = time.perf_counter() - start
    return baseline, analysed, total, plan, repo


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ambient-bench-context-") as scratch:
        root, what = _snapshot(Path(scratch))
        rounds = [await _round(root) for _ in range(ROUNDS)]
    baseline = statistics.median(r[0] for r in rounds)
    analysed = statistics.median(r[1] for r in rounds)
    total = statistics.median(r[2] for r in rounds)
    _, _, _, plan, repo = rounds[-1]
    python = sum(1 for p in repo.texts if p.endswith(".py"))
    print(f"repository: {what}: {len(repo.paths):,} files tracked, {python:,} Python files read")
    print(f"one plain pack (baseline): {baseline * 1000:.0f} ms (median of {ROUNDS})")
    print(
        f"sweep: analysis {analysed:.2f} s (ruff, ast index, imports, ranking), five packs "
        f"{total - analysed:.2f} s, together {total:.2f} s = {total / baseline:.0f}x the baseline"
    )
    for name, pack in plan.packs.items():
        kinds = {}
        for packed in pack.files:
            kinds[packed.reason] = kinds.get(packed.reason, 0) + 1
        said = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        print(f"  {name:<11} {pack.used_tokens:>6,} of {pack.budget_tokens:,} tokens: {said}")
    shown = plan.repo_map
    print(
        f"map: {shown.tokens:,} tokens, the definitions of {shown.files:,} of {shown.indexed:,} "
        f"Python files; the turn showed {len(plan.turn)} files"
    )
    print(f"pack_s={total:.2f} files={len(repo.paths)} map_tokens={shown.tokens}")


if __name__ == "__main__":
    asyncio.run(main())
