"""The bound on a sandbox's workspace, and what no command may leave on the host's disk.

Neither backend can give the workspace a size limit of its own: it is a directory of the
worker's disk, bound into the sandbox, and a size-limited filesystem (a loop-mounted image, a
tmpfs) would mean copying every checkout in and out, mount privileges that a laptop worker
lacks, or memory. Quotas need a filesystem mounted for them. So the guard measures:

- The bound: the workspace may grow by `Limits.workspace_bytes` over what it held before the
  sandbox's first command (the checkout), across all its commands. Its .git, read-only inside
  both backends, is left out.
- While a command runs it is polled (`sandbox.workspace_walk.measure`, in a thread): first
  after 0.1 s, so short commands never pay for a walk, then every 0.1 s or ten times as long as
  the last walk took, whichever is longer, so polling takes at most a tenth of a core. Past the
  bound the command is killed at once (no grace: it would go on writing).
- After every command the workspace, and every writable mount, is tended
  (`sandbox.workspace_walk.tend`): setuid/setgid bits cleared, fifos, sockets and device nodes
  removed, and the total checked again, which catches a command that wrote fast and ended
  before a poll. A command past the bound has what it wrote removed: every non-directory
  changed while it ran (by change time, which it cannot set), and the directories it changed
  that are then empty.
- The writable mounts (a setup's environment and scratch) are bounded the same way, all of
  them together, by `Limits.mount_bytes` over what they first held.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sandbox.errors import SandboxBackendFailed
from sandbox.workspace_walk import MAX_DEPTH, Tally, WalkStopped, change_clock_ns, measure, tend

__all__ = ["Watch", "WorkspaceGuard"]

_FIRST_POLL_S: Final = 0.1
_POLL_S: Final = 0.1
# A poll waits this many times as long as the last walk took: walks use at most 1/10 of a core.
_POLL_RATIO: Final = 10.0
# A clock tick is 1-10 ms (CONFIG_HZ); waiting longer means the clock was set back.
_TICK_WAIT_S: Final = 0.02


class Watch:
    """The poll of one command: `tripped` completes once the workspace, or the writable mounts
    together, are past their bound (`what` says which)."""

    def __init__(self, bounds: Sequence[_Bound], started_ns: int) -> None:
        self.started_ns = started_ns
        self.reason = ""
        self.what = ""
        self._stop = threading.Event()
        self.tripped: asyncio.Task[None] = asyncio.ensure_future(self._poll(tuple(bounds)))

    @property
    def fired(self) -> bool:
        """Whether the poll found the workspace past its bound (and so stopped the command)."""
        return self.tripped.done() and not self.tripped.cancelled()

    def stop(self) -> None:
        """End the poll; a walk under way in its thread gives up at its next directory."""
        self._stop.set()
        self.tripped.cancel()

    async def _poll(self, bounds: tuple[_Bound, ...]) -> None:
        pause = _FIRST_POLL_S
        while True:
            await asyncio.sleep(pause)
            began = time.monotonic()
            for bound in bounds:
                try:
                    tallies = [
                        await asyncio.to_thread(measure, root, bound.skip, self._stop)
                        for root in bound.roots
                    ]
                except (OSError, WalkStopped):
                    # Unreadable for now (the command is changing it): the next poll, or the
                    # walk after the command, counts it.
                    continue
                deep = any(t.too_deep for t in tallies)
                if deep or sum(t.bytes for t in tallies) > bound.limit:
                    self.reason = _deep() if deep else ""
                    self.what = bound.what
                    return
            pause = max(_POLL_S, (time.monotonic() - began) * _POLL_RATIO)


@dataclass(frozen=True, slots=True)
class _Bound:
    """Directories whose total size may not pass `limit`."""

    what: str
    roots: tuple[Path, ...]
    skip: frozenset[str]
    limit: int


class WorkspaceGuard:
    """One sandbox's workspace bound and the tending after each of its commands; walks run in
    a thread, one at a time."""

    def __init__(
        self,
        workspace: Path,
        growth_bytes: int,
        writable: Sequence[Path] = (),
        mount_growth_bytes: int = 8 << 30,
    ) -> None:
        self._root = workspace
        self._growth = growth_bytes
        self._mounts = tuple(writable)
        self._mount_growth = mount_growth_bytes
        self._layout: tuple[frozenset[str], tuple[Path, ...]] | None = None
        self._first: int | None = None
        self._mounts_first = 0
        self._newest = 0
        self._lock = asyncio.Lock()

    async def watch(self) -> Watch:
        """Before a command: a `Watch` over the workspace (the first call takes its size)."""
        skip, mounts = await self._laid_out()
        if self._first is None:
            self._first = (await self._walk(self._root)).bytes
            self._mounts_first = sum([(await self._walk(m)).bytes for m in mounts])
        else:
            async with self._lock:  # a walk a cancelled run left going ends first
                pass
        bounds = [_Bound("workspace", (self._root,), skip, self._first + self._growth)]
        if mounts:
            limit = self._mounts_first + self._mount_growth
            bounds.append(_Bound("writable mounts", mounts, frozenset(), limit))
        return Watch(bounds, await self._start())

    async def settle(self, watch: Watch) -> str | None:
        """After a command: tend every writable directory and check the bounds. Past one,
        remove what the command wrote there and return the line that says so; else None."""
        watch.stop()
        if watch.fired:
            watch.tripped.result()  # a poll that failed otherwise than by OSError raises here
        _, mounts = await self._laid_out()
        held = sum([(await self._walk(m)).bytes for m in mounts])
        tally = await self._walk(self._root)
        how = "the command was stopped and" if watch.fired else "when the command ended,"
        if (watch.fired and watch.what != "workspace") or (
            held > self._mounts_first + self._mount_growth
        ):
            removed = sum([(await self._walk(m, since=watch.started_ns)).removed for m in mounts])
            return (
                f"[sandbox: the writable mounts grew past their bound (mount_bytes="
                f"{self._mount_growth} over the {self._mounts_first} bytes they first held"
                f"{watch.reason}); {how} the {removed} files and directories it wrote there"
                " were removed]"
            )
        if not watch.fired and tally.bytes <= (self._first or 0) + self._growth:
            return None
        freed = await self._walk(self._root, since=watch.started_ns)
        return (
            f"[sandbox: the workspace grew past its bound (workspace_bytes={self._growth} over"
            f" the {self._first} bytes it first held{watch.reason}); {how} the"
            f" {freed.removed} files and directories it wrote were removed]"
        )

    async def tidy(self, *, workspace: bool = True) -> None:
        """Clear setuid/setgid bits and remove special files in every writable directory (the
        workspace too, unless told not to); after a command that failed, and at close."""
        _, mounts = await self._laid_out()
        for root in (*mounts, self._root) if workspace else mounts:
            await self._walk(root)

    async def _start(self) -> int:
        """The change time from which on what changes is the next command's doing.

        The last changes of the command before may carry a fine-grained time, ahead of the
        coarse clock (multigrain timestamps, Linux 6.13): wait for the coarse clock to pass
        the newest change seen, a tick at most, and only when a change was that recent.
        """
        started = change_clock_ns()
        deadline = time.monotonic() + _TICK_WAIT_S
        while started <= self._newest and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
            started = change_clock_ns()
        return max(started, self._newest + 1)

    async def _laid_out(self) -> tuple[frozenset[str], tuple[Path, ...]]:
        """What the top-level walk skips, and the writable mounts that are directories; looked
        at once, before the first command."""
        if self._layout is None:
            self._layout = await asyncio.to_thread(self._look)
        return self._layout

    def _look(self) -> tuple[frozenset[str], tuple[Path, ...]]:
        # Both backends mount a .git that exists at the start read-only: nothing changes there.
        skip = frozenset({".git"}) if (self._root / ".git").exists() else frozenset()
        return skip, tuple(path.resolve() for path in self._mounts if path.is_dir())

    async def _walk(self, root: Path, since: int | None = None) -> Tally:
        skip = (await self._laid_out())[0] if root == self._root else frozenset()
        async with self._lock:
            thread = asyncio.ensure_future(asyncio.to_thread(tend, root, skip, since))
            try:
                tally = await asyncio.shield(thread)
            except asyncio.CancelledError:
                # A thread cannot be stopped: hold the lock until it ends, so that neither
                # another walk nor the next command overlaps it.
                await asyncio.wait({thread})
                if not thread.cancelled():
                    thread.exception()  # retrieved: the cancellation is what goes on
                raise
            except OSError as exc:
                raise SandboxBackendFailed(
                    f"could not check {root}, which a sandbox writes: {exc.strerror or exc}"
                ) from None
            self._newest = max(self._newest, tally.newest_ns)
            return tally


def _deep() -> str:
    return f"; it nested directories deeper than the {MAX_DEPTH} levels a poll can measure"
