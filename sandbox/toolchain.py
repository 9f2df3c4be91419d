"""The checks' own toolchain for the bubblewrap sandbox, the same as the Docker image's.

The image holds `/opt/toolchain`, a venv of the pinned tools in `sandbox/image/requirements.txt`
(pytest, coverage, ruff, mypy, uv). The bwrap sandbox binds the same thing at the same path: a
venv of the same pins on the system's `python3`, built once per recipe by uv on the host under
the cache directory, and bound read-only. Never Ambient's own virtualenv: its pytest plugins
would load into the repository's pytest, and its paths would show in reports.

The venv is made relocatable (uv's `--relocatable`: scripts find their interpreter relative to
themselves), so it is built in a scratch directory, renamed into place whole, and works at
`/opt/toolchain` inside the sandbox. Several workers building at once take a file lock; a
half-built one is never used.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import shutil
from pathlib import Path
from typing import Final

from bot.config import default_cache_dir
from bot.errors import Permanent, SandboxError

__all__ = [
    "REQUIREMENTS",
    "SYSTEM_PYTHON",
    "TOOLCHAIN_TARGET",
    "ToolchainUnavailable",
    "ensure_toolchain",
    "recipe_hash",
]

TOOLCHAIN_TARGET: Final = "/opt/toolchain"
REQUIREMENTS: Final = Path(__file__).with_name("image") / "requirements.txt"
#: The interpreter the image's toolchain runs on, and the bwrap one too (Debian's python3).
SYSTEM_PYTHON: Final = Path("/usr/bin/python3")
_BUILD_TIMEOUT_S: Final = 900.0


class ToolchainUnavailable(SandboxError, Permanent):
    """The checks' toolchain could not be built (no system python3, no index, no uv)."""


def recipe_hash(requirements: Path = REQUIREMENTS, python: Path = SYSTEM_PYTHON) -> str:
    """What the toolchain is built from: the pins and the interpreter they run on."""
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(str(python.resolve()).encode())
    return digest.hexdigest()[:16]


def _uv() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


async def _run(argv: list[str], what: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), _BUILD_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise ToolchainUnavailable(f"{what} took longer than {_BUILD_TIMEOUT_S:.0f} s") from None
    if process.returncode != 0:
        tail = out.decode(errors="replace").strip().splitlines()[-3:]
        raise ToolchainUnavailable(f"{what} exited {process.returncode}: {' / '.join(tail)}")


async def ensure_toolchain(cache_dir: Path | None = None) -> Path:
    """The built toolchain's directory (bind it at `TOOLCHAIN_TARGET`), building it first if
    this recipe has none yet."""
    if not SYSTEM_PYTHON.exists():
        raise ToolchainUnavailable(
            f"the bwrap sandbox runs checks on the system's {SYSTEM_PYTHON}: apt-get install"
            " python3"
        )
    root = (cache_dir or default_cache_dir()) / "toolchain"
    final = root / recipe_hash()
    if (final / "bin" / "pytest").exists():
        return final
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"{final.name}.lock").open("w") as lock:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        if (final / "bin" / "pytest").exists():
            return final
        scratch = root / f"{final.name}.building-{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            uv = _uv()
            await _run(
                [uv, "venv", "--quiet", "--relocatable", "--python", str(SYSTEM_PYTHON),
                 str(scratch)],
                "creating the checks' toolchain venv",
            )  # fmt: skip
            await _run(
                [uv, "pip", "install", "--quiet", "--python", str(scratch / "bin" / "python"),
                 "-r", str(REQUIREMENTS)],
                f"installing {REQUIREMENTS.name} into the checks' toolchain",
            )  # fmt: skip
            shutil.rmtree(final, ignore_errors=True)
            scratch.rename(final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return final
