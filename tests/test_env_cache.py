"""The environment cache: sealed entries only, corrupt ones refused, LRU within the bound, and
nothing evicted while another process holds it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bot.pipeline.env_cache import CacheEntry, EnvCache, scope_of


def _built(cache: EnvCache, scope: str, key: str, size: int) -> CacheEntry:
    entry = cache.entry(scope, key)
    cache.lease(entry).close()
    cache.reset(entry)
    (entry.env / "lib").mkdir()
    (entry.env / "lib" / "blob").write_bytes(b"x" * size)
    cache.commit(entry, {"summary": key})
    return entry


def test_an_entry_is_valid_only_once_sealed_and_while_intact(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, 1 << 30)
    entry = cache.entry(scope_of("octo/one"), "k1")
    cache.reset(entry)
    (entry.env / "bin").mkdir()
    (entry.env / "bin" / "python").write_text("#!")
    assert cache.valid(entry) is None  # half-built: no record yet
    cache.commit(entry, {"summary": "x"})
    record = cache.valid(entry)
    assert record is not None
    assert record["summary"] == "x"

    (entry.env / "bin" / "python").write_text("#!/truncated-and-rewritten")
    assert cache.valid(entry) is None
    cache.commit(entry, {"summary": "x"})
    (entry.env / "bin" / "python").unlink()
    assert cache.valid(entry) is None
    entry.record.write_text("{not json")
    assert cache.valid(entry) is None


def test_scopes_never_share_an_entry(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, 1 << 30)
    one = cache.entry(scope_of("installation 1: octo/app"), "same-key")
    two = cache.entry(scope_of("installation 2: octo/app"), "same-key")
    assert one.directory != two.directory


def test_least_recently_used_entries_go_first_and_the_new_one_stays(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, 2500)
    old = _built(cache, "s", "old", 1000)
    used = _built(cache, "s", "used", 1000)
    past = time.time() - 100
    os.utime(old.record, (past, past))
    os.utime(used.record, (past + 50, past + 50))
    cache.touch(used)
    new = _built(cache, "s", "new", 1000)
    removed = cache.evict(keep=new)
    assert removed == [old.directory]
    assert cache.valid(used) is not None
    assert cache.valid(new) is not None


def test_an_entry_another_process_holds_is_not_evicted(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, 10)
    held = _built(cache, "s", "held", 1000)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a');"
            " fcntl.flock(f, fcntl.LOCK_SH); print('held', flush=True); time.sleep(30)",
            str(held.lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        assert cache.evict() == []
        assert cache.valid(held) is not None
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    assert cache.evict() == [held.directory]
