"""Patch application on real diffs damaged the ways models damage them, side by side.

Every case of the corpus (tests/data/patches: clean diffs between real releases, and their
damaged variants from make_cases.py) is applied to a fresh copy of its files by Ambient's
applier, by `git apply -p1`, and by GNU `patch -p1 --fuzz=3`. Each outcome is one of:

- applied exactly: claimed success and the tree is byte-identical to the expected one;
- refused cleanly: claimed failure and the tree is byte-identical to before;
- missed: (recoverable cases) refused cleanly although the intent was clear;
- wrong: claimed success with another tree, claimed success on a case whose only right
  answer is a refusal (a guess), or a tree left changed after a refusal.

Run from the repository root: `.venv/bin/python bench/patch_apply.py`. The last line is
`patch_applied=<ours> git=<x> gnu_patch=<y> wrong=<ours_wrong>` (fractions of the
recoverable cases applied exactly, and our count of wrong outcomes).
"""

from __future__ import annotations

import collections
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.patch.apply import apply_sync  # noqa: E402
from bot.patch.paths import PathPolicy  # noqa: E402

#: The corpus has real workflow changes; applying them is what is measured here, not policy.
POLICY = PathPolicy(allow_workflow_changes=True)

_spec = importlib.util.spec_from_file_location(
    "make_cases", ROOT / "tests" / "data" / "patches" / "make_cases.py"
)
assert _spec is not None
assert _spec.loader is not None
make_cases = importlib.util.module_from_spec(_spec)
sys.modules["make_cases"] = make_cases
_spec.loader.exec_module(make_cases)


class CaseLike(Protocol):
    """The shape of make_cases.Case (loaded by file path, so typed structurally here)."""

    id: str
    variant: str
    patch: str
    pre: dict[str, str]
    expected: dict[str, str] | None

    @property
    def recoverable(self) -> bool: ...


TOOLS = ("ambient", "git", "gnu_patch")
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/bin:/bin"}


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8", "surrogateescape"))


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def encode(files: dict[str, str]) -> dict[str, bytes]:
    return {k: v.encode("utf-8", "surrogateescape") for k, v in files.items()}


def run_tool(tool: str, tree: Path, patch_file: Path, text: str) -> tuple[bool, str]:
    if tool == "ambient":
        result = apply_sync(tree, text, policy=POLICY)
        return result.ok, result.message
    if tool == "git":
        argv = ["git", "apply", "-p1", str(patch_file)]
        env = {**GIT_ENV, "GIT_CEILING_DIRECTORIES": str(tree.parent)}
    else:
        argv = [
            "patch",
            "-p1",
            "--fuzz=3",
            "--no-backup-if-mismatch",
            "-N",
            "-s",
            "-i",
            str(patch_file),
        ]
        env = {"PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        argv,
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()[:300]


def classify(case: CaseLike, tool: str) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix="bench-patch-") as tmp_s:
        tmp = Path(tmp_s)
        tree = tmp / "tree"
        tree.mkdir()
        write_tree(tree, case.pre)
        patch_file = tmp / "patch.diff"
        patch_file.write_bytes(case.patch.encode("utf-8", "surrogateescape"))
        ok, message = run_tool(tool, tree, patch_file, case.patch)
        after = read_tree(tree)
    before = encode(case.pre)
    if case.expected is not None and ok:
        return ("applied" if after == encode(case.expected) else "wrong"), message
    if ok:
        return "wrong", "claimed success on an unrecoverable case: " + message
    if after != before:
        return "wrong", "left the tree changed after refusing: " + message
    return ("missed" if case.expected is not None else "refused"), message


def main() -> None:
    if shutil.which("patch") is None:
        sys.exit("GNU patch is not installed (apt-get install patch)")
    cases: list[CaseLike] = make_cases.all_cases()
    recoverable = sum(1 for c in cases if c.recoverable)
    tally: dict[str, collections.Counter[str]] = {t: collections.Counter() for t in TOOLS}
    by_variant: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    seconds: dict[str, float] = dict.fromkeys(TOOLS, 0.0)
    notes: list[str] = []

    def one(case: CaseLike) -> list[tuple[str, str, str, float]]:
        out = []
        for tool in TOOLS:
            start = time.perf_counter()
            verdict, message = classify(case, tool)
            out.append((tool, verdict, message, time.perf_counter() - start))
        return out

    with ThreadPoolExecutor(max_workers=4) as pool:
        for case, results in zip(cases, pool.map(one, cases), strict=True):
            for tool, verdict, message, spent in results:
                tally[tool][verdict] += 1
                seconds[tool] += spent
                by_variant[case.variant][f"{tool}:{verdict}"] += 1
                if tool == "ambient" and verdict in ("wrong", "missed") and len(notes) < 25:
                    first = message.splitlines()[0] if message else ""
                    notes.append(f"  {verdict:6} {case.id}: {first[:150]}")

    unrecoverable = len(cases) - recoverable
    print(f"corpus: {len(cases)} cases, {recoverable} recoverable, {unrecoverable} not")
    print(
        f"{'tool':10} {'applied':>8} {'missed':>7} {'refused':>8} {'wrong':>6} "
        f"{'applied%':>9} {'vs git':>7} {'ms/case':>8}"
    )
    rate = {t: tally[t]["applied"] / recoverable for t in TOOLS}
    for tool in TOOLS:
        t = tally[tool]
        vs_git = rate[tool] / rate["git"] if rate["git"] else float("nan")
        print(
            f"{tool:10} {t['applied']:>8} {t['missed']:>7} {t['refused']:>8} {t['wrong']:>6} "
            f"{rate[tool]:>9.2%} {vs_git:>6.2f}x {1000 * seconds[tool] / len(cases):>8.1f}"
        )
    print("\nper variant (applied or refused as due / wrong):")
    for variant in sorted(by_variant):
        counts = by_variant[variant]
        cells = []
        for tool in TOOLS:
            good = counts[f"{tool}:applied"] + counts[f"{tool}:refused"]
            total = sum(v for k, v in counts.items() if k.startswith(tool + ":"))
            cells.append(f"{tool} {good}/{total} w{counts[f'{tool}:wrong']}")
        print(f"  {variant:22} " + "  ".join(f"{c:24}" for c in cells))
    if notes:
        print("\nambient's misses and wrong outcomes (first 25):")
        print("\n".join(notes))
    print(
        f"patch_applied={rate['ambient']:.4f} git={rate['git']:.4f} "
        f"gnu_patch={rate['gnu_patch']:.4f} wrong={tally['ambient']['wrong']}"
    )


if __name__ == "__main__":
    main()
