"""The atomic writer: all changes or none, even when the last rename fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.patch.plan import Change
from bot.patch.write import read_snapshot, write_changes


def tree(root: Path) -> dict[str, object]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), oct(p.stat().st_mode))
        if p.is_file()
        else "dir"
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_bytes(b"one\n")
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "x.txt").write_bytes(b"x\n")
    (tmp_path / "run.sh").write_bytes(b"#!/bin/sh\n")
    (tmp_path / "run.sh").chmod(0o755)
    return tmp_path


CHANGES = (
    Change("a/one.txt", b"ONE\n"),
    Change("new/deep/two.txt", b"two\n"),
    Change("gone/x.txt", None),
    Change("run.sh", b"#!/bin/sh\necho\n"),
)


def test_writes_everything_and_keeps_modes(root: Path) -> None:
    write_changes(root, CHANGES)
    assert (root / "a" / "one.txt").read_bytes() == b"ONE\n"
    assert (root / "new" / "deep" / "two.txt").read_bytes() == b"two\n"
    assert not (root / "gone").exists()
    assert os.access(root / "run.sh", os.X_OK)
    assert not list(root.rglob(".ambient-*"))


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_a_failure_midway_restores_everything(root: Path, fail_at: int) -> None:
    before = tree(root)
    calls = 0

    def flaky(src: Path, dst: Path) -> None:
        nonlocal calls
        calls += 1
        if calls == fail_at:
            raise OSError(28, "No space left on device", str(dst))
        os.replace(src, dst)

    with pytest.raises(OSError, match="No space"):
        write_changes(root, CHANGES, replace=flaky)
    assert tree(root) == before


def test_read_snapshot_refuses_symlinks_and_reports_missing(root: Path) -> None:
    os.symlink("a/one.txt", root / "link.txt")
    files, modes = read_snapshot(root, ["a/one.txt", "missing.txt", "a/one.txt/under"])
    assert files == {"a/one.txt": b"one\n", "missing.txt": None, "a/one.txt/under": None}
    assert modes["a/one.txt"] & 0o777
    with pytest.raises(Exception, match="symbolic link"):
        read_snapshot(root, ["link.txt"])
