"""`ambient watch`: sweep what changes in a checkout, debounced, plus a periodic full sweep."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Final

from rich.console import Console
from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from agents.specialists import SpecialistsConfig, read_config
from bot.flows.local import LocalRun, local_sweep, snapshot
from bot.git import run_git
from bot.pipeline import render_terminal

__all__ = ["watch_checkout"]

IGNORED: Final = (".git", ".ambient", "__pycache__", ".venv", "node_modules")
#: Events that change a file. Opening and reading one (as `git stash create` does for every
#: tracked file when it takes the snapshot) are events too, and must not start another sweep.
CHANGES: Final = frozenset(
    {
        EVENT_TYPE_CREATED,
        EVENT_TYPE_MODIFIED,
        EVENT_TYPE_MOVED,
        EVENT_TYPE_DELETED,
        EVENT_TYPE_CLOSED,
    }
)


class _Changes(FileSystemEventHandler):
    """Hands changed paths (relative to the checkout) to the event loop's queue."""

    def __init__(self, root: Path, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str]):
        self._root = root
        self._loop = loop
        self._queue = queue

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in CHANGES:
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = raw.decode() if isinstance(raw, bytes) else raw
            if not path:
                continue
            try:
                relative = Path(path).resolve().relative_to(self._root)
            except ValueError:
                continue
            if (
                relative.parts
                and relative.parts[0] not in IGNORED
                and "__pycache__" not in relative.parts
            ):
                self._loop.call_soon_threadsafe(self._queue.put_nowait, relative.as_posix())


async def _collect(queue: asyncio.Queue[str], first_wait_s: float, debounce_s: float) -> set[str]:
    """Changed paths: wait up to `first_wait_s` for one, then until `debounce_s` pass quietly."""
    changed: set[str] = set()
    with contextlib.suppress(TimeoutError):
        changed.add(await asyncio.wait_for(queue.get(), first_wait_s))
        while True:
            changed.add(await asyncio.wait_for(queue.get(), debounce_s))
    return changed


async def watch_checkout(
    run: LocalRun,
    console: Console,
    *,
    debounce_s: float,
    interval_s: float,
    agents: SpecialistsConfig | None = None,
) -> None:
    """Watch until cancelled (Ctrl-C); each sweep works on a snapshot of the working tree, with
    the specialists `agents` enables (default: all)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()
    observer = Observer()
    observer.schedule(_Changes(run.target, loop, queue), str(run.target), recursive=True)
    observer.start()
    agents = agents or read_config(None)
    console.print(f"watching {run.target} (Ctrl-C stops)")
    swept_tree = ""
    try:
        while True:
            changed = await _collect(queue, interval_s, debounce_s)
            focus = tuple(sorted(changed))
            commit = await snapshot(run.target)
            tree = (await run_git(["rev-parse", f"{commit}^{{tree}}"], run.target)).text.strip()
            if focus and tree == swept_tree:
                # Saved without a change, or changed back: the last sweep saw this very tree.
                continue
            label = ", ".join(focus[:5]) + (" …" if len(focus) > 5 else "") if focus else "all"
            console.print(f"sweeping: {label}")
            moment = LocalRun(run.target, run.workspace_root, run.config, run.model, commit)
            render_terminal(await local_sweep(moment, agents=agents, focus=focus), console)
            swept_tree = tree
    finally:
        observer.stop()
        await asyncio.to_thread(observer.join, 5)
