"""The sandbox contract: `Command` in, `Result` out, closed by default.

Every backend runs a command with no network, a read-only root, only the workspace writable
(mounted at `/workspace`), memory / CPU / PID limits, a non-root user, a wall-clock timeout that
kills every process of the command, and the command policy checked first. Backends differ only
in how they isolate; `SandboxBase.run` holds what they share, the workspace's bound and the
tending after each command among it (`sandbox.workspace_guard`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Final, Literal, Protocol, Self

from prometheus_client import Counter, Histogram

from bot.errors import SandboxError
from sandbox.egress import PROXY_VARIABLES, relayed
from sandbox.errors import SandboxBackendFailed, SandboxUnavailable
from sandbox.generated import GeneratedFiles
from sandbox.policy import CommandPolicy, CommandRefused
from sandbox.workspace_guard import WorkspaceGuard

RUNS: Final = Counter(
    "ambient_sandbox_runs_total",
    "Commands run in a sandbox, by backend and outcome (ok, failed, timeout, oom, disk, error)",
    ["backend", "outcome"],
)
RUN_SECONDS: Final = Histogram(
    "ambient_sandbox_run_seconds",
    "Duration of one sandboxed command, from the sandbox's start of it to its end",
    ["backend"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)

__all__ = [
    "SANDBOX_GID",
    "SANDBOX_TMP",
    "SANDBOX_UID",
    "WORKDIR",
    "Command",
    "CommandRefused",
    "Limits",
    "Mount",
    "Provision",
    "Result",
    "Sandbox",
    "SandboxBackendFailed",
    "SandboxBase",
    "SandboxKind",
    "SandboxUnavailable",
]

SandboxKind = Literal["docker", "bwrap"]

#: Where the workspace appears inside every sandbox.
WORKDIR: Final = "/workspace"
#: The sandbox's own /tmp: a private tmpfs inside it, never the host's.
SANDBOX_TMP: Final = "/tmp"  # noqa: S108
#: The user and group that sandboxed commands run as.
SANDBOX_UID: Final = 1000
SANDBOX_GID: Final = 1000

# Names that say "credential": such variables never enter a sandbox, whoever passes them.
_SECRET_NAME: Final = re.compile(
    r"(?i)^(AMBIENT_|GITHUB_|GH_)|TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE_KEY|API_KEY|CREDENTIAL"
)
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Command:
    """One command: argv (never a shell line), a cwd relative to the workspace, extra env."""

    argv: tuple[str, ...]
    cwd: str = "."
    env: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 600.0

    @classmethod
    def parse(cls, line: str, *, cwd: str = ".", timeout_s: float = 600.0) -> Command:
        """A command from a shell-style line, split with `shlex` (no shell ever runs it)."""
        return cls(tuple(shlex.split(line)), cwd=cwd, timeout_s=timeout_s)

    def __str__(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True, slots=True)
class Result:
    """What a command did. `exit_code` is 128+N when a signal N ended it, as in a shell.

    `workspace_exceeded`: the workspace grew past `Limits.workspace_bytes`; the command was
    stopped (or had ended) and what it wrote is gone, as the last line of `stderr` says.
    """

    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    oom_killed: bool = False
    truncated: bool = False
    workspace_exceeded: bool = False

    @property
    def ok(self) -> bool:
        """Whether the command ran to completion within every limit and exited 0."""
        return self.exit_code == 0 and not (
            self.timed_out or self.oom_killed or self.workspace_exceeded
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one sandbox; memory includes swap (none is allowed).

    `workspace_bytes` is how much the workspace may grow over what it held before the first
    command (the checkout), all commands together (see `sandbox.workspace_guard`);
    `mount_bytes` how much the writable mounts (the environment a setup builds, its scratch)
    may grow, all of them together.
    """

    memory_bytes: int = 1 << 30
    pids: int = 256
    cpus: float = 2.0
    output_bytes: int = 1 << 20
    tmp_bytes: int = 256 << 20
    file_bytes: int = 1 << 30
    open_files: int = 1024
    workspace_bytes: int = 2 << 30
    mount_bytes: int = 8 << 30

    def __post_init__(self) -> None:
        counts = (self.memory_bytes, self.pids, self.output_bytes, self.tmp_bytes)
        if (
            min(*counts, self.file_bytes, self.open_files, self.workspace_bytes, self.mount_bytes)
            <= 0
        ):
            raise ValueError("sandbox limits must be positive")
        if self.cpus <= 0:
            raise ValueError("sandbox cpus must be positive")


@dataclass(frozen=True, slots=True)
class Mount:
    """A host directory (or file) shown at `target` inside the sandbox, read-only unless
    `writable`."""

    source: Path
    target: str
    writable: bool = False

    def __post_init__(self) -> None:
        target = PurePosixPath(self.target)
        if not target.is_absolute() or ".." in target.parts or target == PurePosixPath("/"):
            raise ValueError(f"mount target {self.target!r} must be an absolute path below /")
        if target == PurePosixPath(WORKDIR) or PurePosixPath(WORKDIR) in target.parents:
            raise ValueError(f"mount target {self.target!r} may not be in the workspace")


@dataclass(frozen=True, slots=True)
class Provision:
    """What a sandbox is given beyond its workspace: mounts, directories put first on PATH,
    variables, and egress through the setup proxy (`sandbox.egress`), for the environment
    setup and the checks that use what it installed. The default gives nothing.

    `generated`: a directory of files the environment's build wrote into its source tree,
    laid into the workspace before each command where it has nothing at their paths, and
    taken away at close (`sandbox.generated`)."""

    mounts: tuple[Mount, ...] = ()
    path: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    proxy_socket: Path | None = None
    generated: Path | None = None


class Sandbox(Protocol):
    """An open sandbox over one workspace; commands run one at a time, in order."""

    @property
    def kind(self) -> SandboxKind: ...

    @property
    def workspace(self) -> Path: ...

    async def run(self, command: Command) -> Result:
        """Run `command`; raise `CommandRefused` (nothing ran) or `SandboxError`."""
        ...

    async def close(self) -> None:
        """Stop every process and release the sandbox; the workspace stays."""
        ...


def _outcome(result: Result) -> str:
    if result.timed_out:
        return "timeout"
    if result.oom_killed:
        return "oom"
    if result.workspace_exceeded:
        return "disk"
    return "ok" if result.exit_code == 0 else "failed"


class SandboxBase(ABC):
    """What every backend shares: policy, validation, the sandbox's environment, one lock."""

    kind: SandboxKind

    def __init__(
        self,
        workspace: Path,
        limits: Limits,
        policy: CommandPolicy,
        provision: Provision | None = None,
    ) -> None:
        self._workspace = workspace
        self.limits = limits
        self.policy = policy
        self.provision = provision or Provision()
        self._lock = asyncio.Lock()
        self._closed = False
        writable = [mount.source for mount in self.provision.mounts if mount.writable]
        self._guard = WorkspaceGuard(
            workspace, limits.workspace_bytes, writable, limits.mount_bytes
        )
        generated = self.provision.generated
        self._generated = GeneratedFiles(generated, workspace) if generated else None

    @property
    def workspace(self) -> Path:
        return self._workspace

    async def run(self, command: Command) -> Result:
        """Check the command against the policy, then run it inside the sandbox."""
        self.policy.check(command.argv)
        cwd = _inside_cwd(self._workspace, command.cwd)
        env = self.environment(command.env)
        if command.timeout_s <= 0:
            raise CommandRefused(f"{command}: timeout_s must be positive")
        async with self._lock:
            if self._closed:
                raise SandboxError(f"{self.kind} sandbox for {self._workspace} is closed")
            if self._generated is not None:
                # Before the guard's first walk: what is laid is part of what it first holds.
                await asyncio.to_thread(self._generated.lay)
            watch = await self._guard.watch()
            try:
                result = await self._execute(command, cwd, env, watch.tripped)
            except BaseException as exc:
                watch.stop()
                if isinstance(exc, SandboxError):
                    RUNS.labels(backend=self.kind, outcome="error").inc()
                if not self._closed:
                    # What a failed or cancelled command made may not stay either (close
                    # tends the workspace itself).
                    with contextlib.suppress(SandboxError):
                        await asyncio.shield(self._guard.tidy())
                raise
            exceeded = await self._guard.settle(watch)
            if exceeded is not None:
                stderr = _with_line(result.stderr, exceeded)
                result = replace(result, workspace_exceeded=True, stderr=stderr)
        RUNS.labels(backend=self.kind, outcome=_outcome(result)).inc()
        RUN_SECONDS.labels(backend=self.kind).observe(result.duration_s)
        return result

    async def close(self) -> None:
        """Release the sandbox; a command still running is killed, and its run() fails."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._release()
        finally:
            try:
                await self._guard.tidy()
            finally:
                if self._generated is not None:
                    await asyncio.to_thread(self._generated.remove)

    def environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        """The whole environment of a command: a fixed base plus `extra`, secrets refused."""
        env = {
            "PATH": ":".join([*self.provision.path, self.search_path()]),
            "HOME": SANDBOX_TMP,
            "TMPDIR": SANDBOX_TMP,
            "LANG": "C.UTF-8",
            "USER": "sandbox",
            # The workspace is root's on the host; git inside must not call it dubious.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "safe.directory",
            "GIT_CONFIG_VALUE_0": WORKDIR,
        }
        for name, value in {**self.provision.variables, **extra}.items():
            if not _ENV_NAME.fullmatch(name):
                raise CommandRefused(f"environment variable name {name!r} is not valid")
            if _SECRET_NAME.search(name):
                raise CommandRefused(
                    f"environment variable {name} looks like a credential; secrets never enter"
                    " the sandbox"
                )
            env[name] = value
        if self.provision.proxy_socket is not None:
            env.update(PROXY_VARIABLES)
        return env

    def argv_of(self, command: Command) -> list[str]:
        """What the backend runs for `command`: its argv, behind the proxy relay when the
        sandbox has egress."""
        if self.provision.proxy_socket is None:
            return list(command.argv)
        return relayed(command.argv)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    def search_path(self) -> str:
        """PATH inside the sandbox."""

    @abstractmethod
    async def _execute(
        self, command: Command, cwd: str, env: dict[str, str], over_bound: asyncio.Future[None]
    ) -> Result:
        """Run an allowed, validated command; `cwd` is absolute inside the sandbox.

        `over_bound` completes when the workspace went past its bound: kill the command then,
        at once (`capture.supervise` does, given it as `watch`).
        """

    @abstractmethod
    async def _release(self) -> None:
        """Free the backend's resources; called once."""


def _with_line(text: str, line: str) -> str:
    """`text` with `line` as its last line."""
    if text and not text.endswith("\n"):
        text += "\n"
    return f"{text}{line}\n"


def _inside_cwd(workspace: Path, cwd: str) -> str:
    path = PurePosixPath(cwd)
    if path.is_absolute() or ".." in path.parts:
        raise CommandRefused(f"cwd {cwd!r} must be a relative path inside the workspace")
    if not (workspace / path).is_dir():
        raise CommandRefused(f"cwd {cwd!r} is not a directory of the workspace")
    return str(PurePosixPath(WORKDIR) / path)
