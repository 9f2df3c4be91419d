"""The cache of set-up environments: one directory per repository and setup, bounded, LRU.

    <root>/<scope>/<key>/env/          the environment (mounted at /opt/env in the sandbox)
    <root>/<scope>/<key>/generated/    what its build wrote into the source tree (laid into
                                       the checks' workspace, `sandbox.generated`)
    <root>/<scope>/<key>/entry.json    written last: what was built, its size and fingerprint
    <root>/<scope>/<key>.lock          flock(2): one builder at a time, readers share

`scope` is a hash of the repository's identity (installation and name, or a local checkout's
path), so no environment is ever shared across repositories or installations: a setup runs the
repository's own code, and what it leaves in its environment must never reach another's checks.
`key` hashes everything the setup depends on (image, interpreter, the dependency-declaring
files, the commands). An entry without `entry.json`, or whose files no longer match the
fingerprint recorded there, is half-built or corrupt: it is removed and built again, never
used. Least recently used entries (by `entry.json`'s mtime, touched on every use) are evicted
past the size bound, but never one another process holds a lock on.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

__all__ = ["CacheEntry", "EnvCache", "Lease", "fingerprint", "scope_of"]

_ENTRY: Final = "entry.json"


def scope_of(identity: str) -> str:
    """The directory name of one repository's environments."""
    return hashlib.sha256(identity.encode()).hexdigest()[:20]


def fingerprint(directory: Path) -> tuple[str, int]:
    """A hash of every path, type and size under `directory`, and their total size in bytes.

    Sizes, not contents: it catches a truncated or half-removed entry at the cost of a walk,
    where hashing every installed file would cost a second install's worth of reading."""
    digest = hashlib.sha256()
    total = 0
    for base, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = Path(base, name)
            st = path.lstat()
            size = st.st_size if not path.is_symlink() else 0
            total += size
            kind = "l" if path.is_symlink() else "f"
            digest.update(f"{path.relative_to(directory)}\0{kind}\0{size}\n".encode())
    return digest.hexdigest(), total


def _sealed(entry: CacheEntry) -> tuple[str, int]:
    """The fingerprint and size of an entry: its environment and its generated files."""
    digest, size = fingerprint(entry.env)
    if not entry.generated.is_dir():
        return digest, size
    more, extra = fingerprint(entry.generated)
    return hashlib.sha256(f"{digest}\0{more}".encode()).hexdigest(), size + extra


class Lease:
    """A held lock on one entry; closing it releases the lock."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    def share(self) -> None:
        """Keep holding the entry, but let other users share it (builders still wait)."""
        fcntl.flock(self._handle, fcntl.LOCK_SH)

    def close(self) -> None:
        self._handle.close()


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One environment's place in the cache."""

    directory: Path

    @property
    def env(self) -> Path:
        return self.directory / "env"

    @property
    def generated(self) -> Path:
        return self.directory / "generated"

    @property
    def record(self) -> Path:
        return self.directory / _ENTRY

    @property
    def lock(self) -> Path:
        return self.directory.with_name(self.directory.name + ".lock")


class EnvCache:
    """Environments under `root`, at most `max_bytes` in all (a bound, not a quota: the entry
    just built always stays)."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def entry(self, scope: str, key: str) -> CacheEntry:
        return CacheEntry(self.root / scope / key)

    def lease(self, entry: CacheEntry) -> Lease:
        """`entry`'s lock, held exclusively (blocking) until `share()` or `close()`: whoever
        builds or checks an entry is alone; whoever uses one shares it, so eviction waits."""
        entry.lock.parent.mkdir(parents=True, exist_ok=True)
        handle = entry.lock.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except BaseException:
            handle.close()
            raise
        return Lease(handle)

    def valid(self, entry: CacheEntry) -> Mapping[str, object] | None:
        """The record of a complete, intact entry; None when it is missing, half-built or
        corrupt (call with its lock held)."""
        try:
            record = json.loads(entry.record.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or not entry.env.is_dir():
            return None
        if record.get("fingerprint") != _sealed(entry)[0]:
            return None
        return record

    def reset(self, entry: CacheEntry) -> None:
        """Remove whatever is there and make an empty entry to build into."""
        shutil.rmtree(entry.directory, ignore_errors=True)
        entry.env.mkdir(parents=True)

    def discard(self, entry: CacheEntry) -> None:
        shutil.rmtree(entry.directory, ignore_errors=True)

    def commit(self, entry: CacheEntry, record: Mapping[str, object]) -> dict[str, object]:
        """Seal a built entry: its record, with fingerprint and size, written last and whole."""
        digest, size = _sealed(entry)
        sealed = {**record, "fingerprint": digest, "size_bytes": size, "built_at": time.time()}
        scratch = entry.record.with_suffix(".tmp")
        scratch.write_text(json.dumps(sealed, indent=1))
        scratch.replace(entry.record)
        return sealed

    def touch(self, entry: CacheEntry) -> None:
        with contextlib.suppress(OSError):
            os.utime(entry.record)

    def evict(self, keep: CacheEntry | None = None) -> list[Path]:
        """Remove least recently used entries until the cache is within its bound."""
        entries = []
        for record in self.root.glob(f"*/*/{_ENTRY}"):
            try:
                size = int(json.loads(record.read_text()).get("size_bytes", 0))
                entries.append((record.stat().st_mtime, size, CacheEntry(record.parent)))
            except (OSError, ValueError, AttributeError):
                continue
        total = sum(size for _, size, _ in entries)
        removed = []
        for _, size, entry in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            if keep is not None and entry.directory == keep.directory:
                continue
            if self._remove_unless_in_use(entry):
                total -= size
                removed.append(entry.directory)
        return removed

    def _remove_unless_in_use(self, entry: CacheEntry) -> bool:
        with entry.lock.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            try:
                shutil.rmtree(entry.directory, ignore_errors=True)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return True
