"""ruff's findings over a checkout, for the rules the specialists read (`agents.findings`).

ruff runs on the host, from Ambient's own environment, and only reads: `--isolated` (no
configuration of the repository is read, so nothing in it can change what runs or what is
read), `--no-fix` and `--no-cache` (nothing is written into the checkout), over an explicit
list of the tracked regular files the snapshot read (never through a symlink), with a timeout.
ruff parses the code and executes none of it, so this needs no sandbox, and
`ambient debug context` works where no sandbox does. The repository's own ruff settings decide
its fixes (`agents.specialists.ruff`, in the sandbox); here one fixed rule set ranks files the
same way in every repository.

`parse_ruff_json` is pure; `ruff_findings` is the I/O around it. A ruff that is missing or
fails is a note, never an error: the specialists then read the other signals.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agents.findings import COMPLEXITY_FLOOR, RUFF_IGNORE, Finding, ruff_selection

__all__ = ["RuffRun", "parse_ruff_json", "ruff_argv", "ruff_binary", "ruff_findings"]

TIMEOUT_S: Final = 120.0
#: Files per ruff call, so that no command line grows past what the system takes.
BATCH: Final = 1000
_PYTHON: Final = (".py", ".pyi")


@dataclass(frozen=True, slots=True)
class RuffRun:
    """ruff's findings, and why there are none when it could not run."""

    findings: tuple[Finding, ...]
    note: str = ""


def ruff_binary() -> str | None:
    """The ruff beside this interpreter (Ambient's environment), else one on PATH."""
    beside = Path(sys.executable).with_name("ruff")
    return str(beside) if beside.is_file() else shutil.which("ruff")


def ruff_argv(
    binary: str, paths: Sequence[str], *, complexity_floor: int = COMPLEXITY_FLOOR
) -> tuple[str, ...]:
    """The read-only ruff command over `paths` (relative to the working directory)."""
    return (
        binary, "check", "--isolated", "--no-cache", "--no-fix", "--exit-zero", "--quiet",
        "--output-format", "json", "--select", ",".join(ruff_selection()),
        "--ignore", ",".join(RUFF_IGNORE),
        "--config", f"lint.mccabe.max-complexity = {complexity_floor}",
        "--", *paths,
    )  # fmt: skip


def _relative(filename: str, root: Path) -> str | None:
    path = Path(filename)
    for base in (root, root.resolve()):
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return None if path.is_absolute() else path.as_posix()


def parse_ruff_json(text: str, root: Path) -> tuple[Finding, ...]:
    """The findings in ruff's `--output-format json` answer, with paths relative to `root`.

    Syntax errors (no code) are left out; raises `ValueError` when `text` is not JSON and
    `TypeError` when it is not ruff's.
    """
    items = json.loads(text or "[]")
    if not isinstance(items, list):
        raise TypeError("ruff's JSON output is not a list")
    found: list[Finding] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            continue
        location = item.get("location")
        path = _relative(str(item.get("filename", "")), root)
        if path is None or not isinstance(location, dict):
            continue
        line = location.get("row")
        if not isinstance(line, int):
            continue
        found.append(Finding(item["code"], path, line, str(item.get("message", ""))))
    return tuple(found)


async def _run(argv: Sequence[str], cwd: Path) -> tuple[int, bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out, err


async def ruff_findings(
    root: Path,
    paths: Sequence[str],
    *,
    complexity_floor: int = COMPLEXITY_FLOOR,
    binary: str | None = None,
) -> RuffRun:
    """ruff's findings for the Python files among `paths` (relative to `root`)."""
    program = binary or ruff_binary()
    if program is None:
        return RuffRun((), "ruff is not installed beside Ambient: its findings are left out")
    python = sorted(p for p in paths if p.endswith(_PYTHON))
    found: list[Finding] = []
    for start in range(0, len(python), BATCH):
        argv = ruff_argv(program, python[start : start + BATCH], complexity_floor=complexity_floor)
        try:
            code, out, err = await _run(argv, root)
            if code != 0:
                said = err.decode(errors="replace").strip().splitlines() or ["no output"]
                return RuffRun(tuple(found), f"ruff failed (exit {code}): {said[0]}")
            found.extend(parse_ruff_json(out.decode(errors="replace"), root))
        except TimeoutError:
            return RuffRun(tuple(found), f"ruff took longer than {TIMEOUT_S:.0f} s: stopped")
        except (OSError, ValueError, TypeError) as exc:
            return RuffRun(tuple(found), f"ruff could not run: {exc}")
    return RuffRun(tuple(found))
