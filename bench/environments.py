"""Environment setup, cold and warm: what a repository's first job pays, and every later one.

Run from the project root with no arguments: `.venv/bin/python bench/environments.py`. It
starts a package index on loopback (wheels it builds), makes a src-layout sample project that
needs one of them, and sets its environment up in the bwrap sandbox through the setup proxy:
cold (an empty cache each round) and warm (the cache the cold round left). The same-run
baseline is the same install done bare on the host (`uv venv` + `uv pip install -e .`, no
sandbox, no proxy). Figures are medians of five rounds. The last line is
`setup_cold_s=… setup_warm_s=… warm_ratio=… host_s=… cold_vs_host=…`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uv import find_uv_bin

from bot.config import load_settings
from bot.pipeline import Environments, PipelineConfig, SetupChoice, SetupOptions
from tests.fixtures.setup_repo import index_with_freezer, make_src_repo

ROUNDS = 5


async def _setup_once(config: PipelineConfig, repo: Path) -> tuple[float, bool]:
    started = time.monotonic()
    prepared = await config.set_up(repo)
    elapsed = time.monotonic() - started
    assert prepared is not None
    assert prepared.run.ok, prepared.run.error
    prepared.release()
    return elapsed, prepared.run.cached


def _host_install(repo: Path, index_url: str, scratch: Path) -> float:
    uv = find_uv_bin()
    env = {**os.environ, "UV_CACHE_DIR": str(scratch / "uv-cache"), "UV_INDEX_URL": index_url}
    started = time.monotonic()
    subprocess.run([uv, "venv", "--quiet", str(scratch / "venv")], env=env, check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(scratch / "venv" / "bin" / "python"),
         "-e", str(repo)],
        env=env, check=True,
    )  # fmt: skip
    return time.monotonic() - started


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ambient-bench-env-") as tmp:
        root = Path(tmp)
        index = index_with_freezer(root / "wheels")
        repo = make_src_repo(root / "repo")
        cold, warm, host = [], [], []
        try:
            for number in range(ROUNDS):
                settings = load_settings(
                    {
                        "AMBIENT_CACHE_DIR": str(root / f"cache-{number}"),
                        "AMBIENT_SETUP_INDEX_URL": index.url,
                        "AMBIENT_SETUP_INDEX_HOSTS": "",
                    }
                )
                environments = Environments(SetupOptions.from_settings(settings))
                choice = SetupChoice(environments, f"bench:{repo}")
                config = PipelineConfig.from_settings(settings, sandbox="bwrap", setup=choice)
                try:
                    seconds, cached = await _setup_once(config, repo)
                    assert not cached
                    cold.append(seconds)
                    seconds, cached = await _setup_once(config, repo)
                    assert cached
                    warm.append(seconds)
                finally:
                    await environments.close()
                host.append(_host_install(repo, index.url, root / f"host-{number}"))
                print(f"round {number + 1}: cold {cold[-1]:.2f}s warm {warm[-1]:.3f}s"
                      f" host {host[-1]:.2f}s")  # fmt: skip
        finally:
            index.stop()
    c, w, h = statistics.median(cold), statistics.median(warm), statistics.median(host)
    print(
        f"setup_cold_s={c:.2f} setup_warm_s={w:.3f} warm_ratio={w / c:.3f} host_s={h:.2f}"
        f" cold_vs_host={c / h:.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
