"""A repository that tracks a 136 MB text file and a 500 MB sparse one is swept without reading
either: the secret scan and the packs skip them, the sweep's memory stays bounded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.sandbox import require_backend


def _repository(root: Path) -> Path:
    root.mkdir()
    (root / "big.txt").write_bytes(b"a line of text in a huge file\n" * 4_500_000)
    with (root / "sparse.bin").open("wb") as sparse:
        sparse.truncate(500 * 1024 * 1024)
    (root / "small.py").write_text("import os\n\nPATH = os.path.join('a', 'b')\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "huge"],
        cwd=root,
        check=True,
    )
    return root


@pytest.mark.slow
@pytest.mark.bwrap
def test_a_sweep_skips_huge_files_and_stays_within_its_memory(tmp_path: Path) -> None:
    require_backend("bwrap")
    repo = _repository(tmp_path / "repo")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AMBIENT_")},
        "AMBIENT_WORKSPACE_ROOT": str(tmp_path / "workspaces"),
        "AMBIENT_CACHE_DIR": str(tmp_path / "cache"),
        "AMBIENT_SETUP": "off",
    }
    # The sweep's own process, measured from inside: git's and the sandbox's memory are theirs.
    probe = (
        "import atexit, resource, runpy, sys\n"
        "atexit.register(lambda: print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF)"
        ".ru_maxrss, file=sys.stderr))\n"
        "sys.argv = ['ambient', 'sweep', sys.argv[1], '--sandbox', 'bwrap', '--json']\n"
        "runpy.run_module('bot', run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(repo)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 file(s) over 2 MiB not read: big.txt, sparse.bin" in done.stderr
    (peak,) = [ln.split()[1] for ln in done.stderr.splitlines() if ln.startswith("PEAK_KB")]
    peak_mb = int(peak) / 1024
    # The text file alone is 136 MB: reading it, or a diff of it, would pass this bound.
    assert peak_mb < 400, peak_mb
