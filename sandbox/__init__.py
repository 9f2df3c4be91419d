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
    Mount,
    Provision,
    Result,
    Sandbox,
    SandboxBackendFailed,
    SandboxKind,
    SandboxUnavailable,
)
from sandbox.bwrap import BwrapSandbox
from sandbox.docker import DEFAULT_IMAGE, DockerSandbox
from sandbox.dockercli import docker
from sandbox.policy import DEFAULT_PATTERNS, CommandPolicy
from sandbox.reaper import reap_orphans
from sandbox.toolchain import recipe_hash

__all__ = [
    "DEFAULT_IMAGE",
    "DEFAULT_PATTERNS",
    "Command",
    "CommandPolicy",
    "CommandRefused",
    "Limits",
    "Mount",
    "Provision",
    "Result",
    "Sandbox",
    "SandboxBackendFailed",
    "SandboxKind",
    "SandboxUnavailable",
    "open_sandbox",
    "reap_orphans",
    "sandbox_identity",
    "start_sandbox",
]

_IMAGE_IDS: dict[str, str] = {}


async def sandbox_identity(kind: SandboxKind, image: str = DEFAULT_IMAGE) -> str:
    """What a command in a sandbox of `kind` runs on: the image's id for docker, the checks'
    toolchain recipe for bwrap. Environments built for one are never used with another."""
    if kind == "bwrap":
        return f"bwrap:{recipe_hash()}"
    if image not in _IMAGE_IDS:
        call = await docker("image", "inspect", "--format", "{{.Id}}", image)
        if call.code != 0:
            raise SandboxUnavailable(
                f"sandbox image {image} is not in the engine: build it with sandbox/image/build.sh"
            )
        _IMAGE_IDS[image] = call.stdout.strip()
    return f"docker:{_IMAGE_IDS[image]}"


async def start_sandbox(
    kind: SandboxKind,
    workspace: Path,
    *,
    limits: Limits | None = None,
    policy: CommandPolicy | None = None,
    image: str = DEFAULT_IMAGE,
    runtime: str | None = "auto",
    toolchain: Sequence[Path] | None = None,
    provision: Provision | None = None,
    cache_dir: Path | None = None,
) -> Sandbox:
    """Open a sandbox of `kind` over `workspace`; the caller must `close()` it.

    `image` and `runtime` concern docker only, `toolchain` and `cache_dir` (where its checks'
    toolchain is built) bwrap only (see each backend); `provision` adds mounts, PATH entries,
    variables and egress through the setup proxy.
    `runtime` "auto" uses gVisor's runsc when the engine has it, "runsc" requires it (else
    `SandboxUnavailable`), "runc" never uses it, None keeps the engine's default.
    """
    if kind == "docker":
        return await DockerSandbox.open(
            workspace,
            image=image,
            limits=limits,
            policy=policy,
            runtime=runtime,
            provision=provision,
        )
    if kind == "bwrap":
        return await BwrapSandbox.open(
            workspace,
            limits=limits,
            policy=policy,
            toolchain=toolchain,
            provision=provision,
            cache_dir=cache_dir,
        )
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
    provision: Provision | None = None,
    cache_dir: Path | None = None,
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
        provision=provision,
        cache_dir=cache_dir,
    )
    try:
        yield sandbox
    finally:
        await sandbox.close()
