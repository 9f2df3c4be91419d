"""The bubblewrap backend (the laptop default: no daemon, about 10 ms per command).

Each command is one `bwrap` run in new user, PID, network, IPC, UTS and cgroup namespaces: only
loopback exists, the root is an empty read-only tmpfs holding the system directories read-only
(never the host's root, so the App's key, home directories and /var/tmp stay invisible), a
private /tmp, and the workspace read-write at /workspace with its .git read-only (hooks written
there would run on the host). Commands run as uid 1000 with no capabilities; the user namespace
maps that uid onto the host user, so the files they write stay the worker's.

Python and the tools come from the checks' own toolchain (`sandbox.toolchain`): the pins of the
Docker image's `/opt/toolchain`, built on the system's python3 and bound read-only at the same
path, so both backends run the same tools and never Ambient's own virtualenv. A caller may name
other toolchain directories instead, bound read-only at their own paths with their `bin/` first
on PATH. A `Provision` adds the repository's environment and the setup proxy's socket. Limits
come from the sandbox's cgroups when the host allows them (see `sandbox.cgroups`), otherwise
from rlimits alone. Commands are forked by the sandbox's spawner (`sandbox.spawner`), which
sits inside those cgroups and sets each command's rlimits before it execs bwrap.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from bot.errors import SandboxError
from sandbox.base import (
    Command,
    Limits,
    Provision,
    Result,
    SandboxBase,
    SandboxUnavailable,
)
from sandbox.bwrap_args import ETC_FILES, bwrap_args, rlimits
from sandbox.capture import Outcome, exit_code, supervise
from sandbox.cgroups import CgroupSet, create_cgroups
from sandbox.policy import CommandPolicy
from sandbox.spawner import Spawned, Spawner, SpawnerGone
from sandbox.toolchain import TOOLCHAIN_TARGET, ensure_toolchain

__all__ = ["SCRATCH_PREFIX", "BwrapSandbox", "reap_scratch"]

#: Each sandbox's own /etc files live in a temporary directory named so.
SCRATCH_PREFIX: Final = "ambient-bwrap-"

_GRACE_S: Final = 1.0
_EMPTY_WAIT_S: Final = 5.0
# Without a memory cgroup the only evidence of running out of memory is how a program says so.
_OOM_SIGNS: Final = re.compile(
    r"MemoryError|Cannot allocate memory|std::bad_alloc|out of memory", re.IGNORECASE
)
_FEATURES: dict[str, frozenset[str]] = {}


class BwrapSandbox(SandboxBase):
    """A bubblewrap sandbox over one workspace; open it with `BwrapSandbox.open`."""

    kind = "bwrap"

    def __init__(
        self,
        workspace: Path,
        limits: Limits,
        policy: CommandPolicy,
        *,
        spawner: Spawner,
        bwrap_args: tuple[str, ...],
        toolchain: tuple[Path, ...],
        cgroups: CgroupSet | None,
        scratch: Path,
        provision: Provision | None = None,
    ) -> None:
        super().__init__(workspace, limits, policy, provision)
        self._spawner = spawner
        self._bwrap_args = bwrap_args
        self._toolchain = toolchain
        self._cgroups = cgroups
        self._scratch = scratch

    @classmethod
    async def open(
        cls,
        workspace: Path,
        *,
        limits: Limits | None = None,
        policy: CommandPolicy | None = None,
        toolchain: Sequence[Path] | None = None,
        rlimits_only: bool = False,
        provision: Provision | None = None,
        cache_dir: Path | None = None,
    ) -> BwrapSandbox:
        """Prepare a sandbox for `workspace` (a directory).

        Without `toolchain`, the checks' toolchain is bound at /opt/toolchain (built under
        `cache_dir` the first time). `rlimits_only` skips cgroups even where they exist; as root
        a fork bomb is then not contained, so use it only to exercise the fallback.
        """
        limits = limits or Limits()
        workspace = _checked_workspace(workspace)
        tools = _checked_toolchain(toolchain or (), workspace)
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable(
                "the bwrap sandbox needs bubblewrap: apt-get install bubblewrap"
            )
        checks_toolchain = await ensure_toolchain(cache_dir) if toolchain is None else None
        features = await _features(bwrap)
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        cgroups = None if rlimits_only else create_cgroups(name, limits)
        if cgroups is None and os.geteuid() == 0 and not rlimits_only:
            raise SandboxUnavailable(
                "the bwrap sandbox runs as root here and needs writable cgroups (pids and memory)"
                " to limit it, since the kernel exempts root from RLIMIT_NPROC; use the docker"
                " sandbox, or run the worker as a normal user"
            )
        try:
            spawner = await Spawner.start(cgroups.procs_files if cgroups else ())
        except SandboxUnavailable:
            if cgroups is not None:
                cgroups.remove()
            raise
        scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
        for filename, text in ETC_FILES.items():
            (scratch / filename).write_text(text)
        args = bwrap_args(
            bwrap, features, limits, workspace, tools, scratch, provision, checks_toolchain
        )
        return cls(
            workspace,
            limits,
            policy or CommandPolicy(),
            spawner=spawner,
            bwrap_args=args,
            toolchain=tools if checks_toolchain is None else (Path(TOOLCHAIN_TARGET),),
            cgroups=cgroups,
            scratch=scratch,
            provision=provision,
        )

    @property
    def spawner_pid(self) -> int:
        """The pid of the process that forks this sandbox's commands (see sandbox.spawner)."""
        return self._spawner.pid

    @property
    def cgroup_dirs(self) -> tuple[Path, ...]:
        """The sandbox's cgroup directories; empty when it runs on rlimits alone."""
        return self._cgroups.dirs if self._cgroups else ()

    def search_path(self) -> str:
        bins = [str(p / "bin") for p in self._toolchain]
        return ":".join([*bins, "/usr/local/bin", "/usr/bin", "/bin"])

    async def _execute(
        self, command: Command, cwd: str, env: dict[str, str], over_bound: asyncio.Future[None]
    ) -> Result:
        before = self._cgroups.oom_kills() if self._cgroups else 0
        argv = [*self._bwrap_args, "--chdir", cwd, "--", *self.argv_of(command)]
        limits = rlimits(self.limits, command.timeout_s, self._cgroups is None)
        try:
            spawned = await self._spawner.spawn(argv, env, limits)
        except SpawnerGone as gone:
            if gone.started:
                raise
            # It died between commands (killed, or picked by the OOM killer): nothing of this
            # command ran, so start a new spawner and hand it the command.
            await self._spawner.close()
            self._spawner = await Spawner.start(self._cgroups.procs_files if self._cgroups else ())
            spawned = await self._spawner.spawn(argv, env, limits)
        try:
            outcome = await supervise(
                status=spawned.status,
                stdout=spawned.stdout,
                stderr=spawned.stderr,
                timeout_s=command.timeout_s,
                output_bytes=self.limits.output_bytes,
                stop=lambda: self._stop(spawned),
                watch=over_bound,
                kill=lambda: self._stop(spawned, (signal.SIGKILL,)),
            )
        except SpawnerGone:
            if self._closed:
                raise SandboxError(f"the bwrap sandbox was closed while {command} ran") from None
            # The spawner sits in the sandbox's memory cgroup: the OOM killer may pick it.
            if self._cgroups is None or self._cgroups.oom_kills() == before:
                raise
            await self._empty_cgroups(spare=self._spawner.pid)
            return Result(137, "", "", 0.0, oom_killed=True)
        finally:
            spawned.close()
        if self._cgroups is not None:
            oom = self._cgroups.oom_kills() > before
        else:
            # The guard's kill is a SIGKILL too, and no sign of memory.
            oom = not over_bound.done() and _looks_out_of_memory(outcome)
        return Result(
            exit_code=exit_code(outcome.returncode),
            stdout=outcome.stdout.text(),
            stderr=outcome.stderr.text(),
            duration_s=outcome.duration_s,
            timed_out=outcome.timed_out,
            oom_killed=oom,
            truncated=outcome.truncated,
        )

    async def _stop(
        self,
        spawned: Spawned,
        signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGKILL),
    ) -> None:
        # bwrap leads its own process group (pgid = pid). When the outer bwrap dies, its child
        # (PID 1 of the sandbox) gets SIGKILL (--die-with-parent), and the kernel then kills
        # every process in that PID namespace.
        for sig in signals:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(spawned.pid, sig)
            with contextlib.suppress(TimeoutError, SpawnerGone):
                await asyncio.wait_for(asyncio.shield(spawned.status), _GRACE_S)
                break
        await self._empty_cgroups(spare=self._spawner.pid)

    async def _empty_cgroups(self, spare: int | None = None) -> None:
        # After a normal exit nothing is left: PID 1 of a namespace exits only once the kernel
        # has killed and reaped every other process in it. After a kill, make sure of it, but
        # spare the spawner, which lives in the cgroups too.
        if self._cgroups is None:
            return
        # Teardown takes a few milliseconds: poll often at first, then back off.
        waited, pause = 0.0, 0.0005
        while self._cgroups.kill_all(spare) and waited < _EMPTY_WAIT_S:
            await asyncio.sleep(pause)
            waited, pause = waited + pause, min(pause * 2, 0.05)

    async def _release(self) -> None:
        await self._spawner.close()
        await self._empty_cgroups()
        if self._cgroups is not None:
            self._cgroups.remove()
        shutil.rmtree(self._scratch, ignore_errors=True)


def _checked_workspace(workspace: Path) -> Path:
    resolved = workspace.resolve()
    if not resolved.is_dir():
        raise SandboxUnavailable(f"workspace {workspace} is not a directory")
    return resolved


def _checked_toolchain(toolchain: Sequence[Path], workspace: Path) -> tuple[Path, ...]:
    # A toolchain is bound whole: never let it be a home directory or anything above one.
    home = Path.home().resolve()
    tools = tuple(Path(p).resolve() for p in toolchain)
    for path in tools:
        if not path.is_dir():
            raise SandboxUnavailable(f"toolchain directory {path} does not exist")
        if path in (Path("/"), home) or home.is_relative_to(path) or workspace.is_relative_to(path):
            raise SandboxUnavailable(
                f"toolchain directory {path} is too wide to bind: name the venv or the"
                " interpreter's prefix, never a home directory or a parent of the workspace"
            )
    return tools


async def _features(bwrap: str) -> frozenset[str]:
    """Options of this bwrap build that older ones lack (Ubuntu 22.04 ships 0.6)."""
    if bwrap not in _FEATURES:
        proc = await asyncio.create_subprocess_exec(
            bwrap, "--help", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        text = (await proc.communicate())[0].decode(errors="replace")
        wanted = ("--disable-userns", "--size")
        _FEATURES[bwrap] = frozenset(option for option in wanted if option in text)
    return _FEATURES[bwrap]


def _looks_out_of_memory(outcome: Outcome) -> bool:
    if outcome.timed_out or outcome.returncode == 0:
        return False
    if outcome.returncode == -signal.SIGKILL or outcome.returncode == 128 + signal.SIGKILL:
        return True
    return bool(_OOM_SIGNS.search(outcome.stderr.text()[-4096:]))


def reap_scratch(
    older_than_s: float, root: Path | None = None, now: float | None = None
) -> list[Path]:
    """Remove the scratch directories of sandboxes older than `older_than_s` (a worker killed
    outright cannot remove its own). Call it at worker start with a threshold longer than the
    longest job, so no live sandbox's directory is touched."""
    parent = Path(tempfile.gettempdir()) if root is None else root
    limit = (time.time() if now is None else now) - older_than_s
    removed = []
    for path in parent.glob(SCRATCH_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink() and path.stat().st_mtime < limit:
                shutil.rmtree(path)
                removed.append(path)
    return removed
