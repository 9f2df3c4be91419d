"""The damaged-diff corpus (tests/data/patches): recover what is clear, refuse the rest.

The same corpus feeds bench/patch_apply.py, which also runs git apply and GNU patch.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Protocol

import pytest

from bot.errors import PatchDoesNotApply
from bot.patch.apply import apply_sync, parse_patch
from bot.patch.paths import PathPolicy
from bot.patch.plan import plan_unified

DATA = Path(__file__).parent / "data" / "patches"
POLICY = PathPolicy(allow_workflow_changes=True)


class CaseLike(Protocol):
    """The shape of make_cases.Case (loaded by file path, so typed structurally here)."""

    id: str
    variant: str
    patch: str
    pre: dict[str, str]
    expected: dict[str, str] | None

    @property
    def recoverable(self) -> bool: ...


def load_make_cases() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_cases", DATA / "make_cases.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_cases", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cases() -> list[CaseLike]:
    found: list[CaseLike] = load_make_cases().all_cases(DATA)
    assert len(found) > 3000, "the corpus in tests/data/patches/clean is missing"
    return found


def encode(files: dict[str, str]) -> dict[str, bytes]:
    return {k: v.encode("utf-8", "surrogateescape") for k, v in files.items()}


def planned(case: CaseLike) -> dict[str, bytes] | None:
    """The tree the pure planner would leave, or None when it refuses."""
    pre = encode(case.pre)
    try:
        patch = parse_patch(case.patch, dict.fromkeys(pre, True))
    except PatchDoesNotApply:
        return None
    plan = plan_unified(patch.files, pre)
    if not plan.ok:
        return None
    tree = dict(pre)
    for change in plan.changes:
        if change.content is None:
            tree.pop(change.path, None)
        else:
            tree[change.path] = change.content
    return tree


def test_every_damage_is_recovered_and_nothing_is_guessed(cases: list[CaseLike]) -> None:
    applied = missed = 0
    wrong: list[str] = []
    for case in cases:
        tree = planned(case)
        expected = case.expected
        if expected is None:
            if tree is not None:
                wrong.append(f"{case.id}: applied a patch whose intent is unclear")
        elif tree is None:
            missed += 1
        elif tree == encode(expected):
            applied += 1
        else:
            wrong.append(f"{case.id}: applied with a wrong result")
    assert wrong == []
    assert applied / (applied + missed) >= 0.99


def test_sample_through_the_real_applier_leaves_exact_trees(cases: list[CaseLike]) -> None:
    for case in cases[::40]:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for rel, data in encode(case.pre).items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(data)
            result = apply_sync(root, case.patch, policy=POLICY)
            after = {
                p.relative_to(root).as_posix(): p.read_bytes()
                for p in root.rglob("*")
                if p.is_file()
            }
        expected = case.expected
        if result.ok:
            assert expected is not None, case.id
            assert after == encode(expected), case.id
        else:
            assert after == encode(case.pre), case.id
