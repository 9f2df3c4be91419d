"""Sandboxes for untrusted code: no network, no secrets, limits, and a command allowlist.

    async with open_sandbox("docker", workspace) as sandbox:
        result = await sandbox.run(Command(("python", "-m", "pytest", "-q")))

`docker` is the production backend, `bwrap` the laptop one; both keep the contract in
`sandbox.base`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from sandbox.base import (
    Command,
    CommandRefused,
    Limits,
    Result,
    Sandbox,
    SandboxBackendFailed,
    SandboxKind,
    SandboxUnavailable,
)
from sandbox.bwrap import BwrapSandbox
from sandbox.docker import DEFAULT_IMAGE, DockerSandbox
from sandbox.policy import DEFAULT_PATTERNS, CommandPolicy
from sandbox.reaper import reap_orphans

__all__ = [
    "DEFAULT_IMAGE",
    "DEFAULT_PATTERNS",
    "Command",
    "CommandPolicy",
    "CommandRefused",
    "Limits",
    "Result",
    "Sandbox",
    "SandboxBackendFailed",
    "SandboxKind",
    "SandboxUnavailable",
    "open_sandbox",
    "reap_orphans",
    "start_sandbox",
]


async def start_sandbox(
    kind: SandboxKind,
    workspace: Path,
    *,
    limits: Limits | None = None,
    policy: CommandPolicy | None = None,
    image: str = DEFAULT_IMAGE,
    runtime: str | None = "auto",
    toolchain: Sequence[Path] | None = None,
) -> Sandbox:
    """Open a sandbox of `kind` over `workspace`; the caller must `close()` it.

    `image` and `runtime` concern docker only, `toolchain` bwrap only (see each backend).
    `runtime` "auto" uses gVisor's runsc when the engine has it, "runsc" requires it (else
    `SandboxUnavailable`), "runc" never uses it, None keeps the engine's default.
    """
    if kind == "docker":
        return await DockerSandbox.open(
            workspace, image=image, limits=limits, policy=policy, runtime=runtime
        )
    if kind == "bwrap":
        return await BwrapSandbox.open(workspace, limits=limits, policy=policy, toolchain=toolchain)
    raise SandboxUnavailable(f"unknown sandbox {kind!r}: use docker or bwrap")


@asynccontextmanager
async def open_sandbox(
    kind: SandboxKind,
    workspace: Path,
    *,
    limits: Limits | None = None,
    policy: CommandPolicy | None = None,
    image: str = DEFAULT_IMAGE,
    runtime: str | None = "auto",
    toolchain: Sequence[Path] | None = None,
) -> AsyncIterator[Sandbox]:
    """A sandbox of `kind` over `workspace` for the `async with` block; closed on leaving it."""
    sandbox = await start_sandbox(
        kind,
        workspace,
        limits=limits,
        policy=policy,
        image=image,
        runtime=runtime,
        toolchain=toolchain,
    )
    try:
        yield sandbox
    finally:
        await sandbox.close()
