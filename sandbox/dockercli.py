"""The one way the Docker backend reaches the engine: the `docker` CLI, run asynchronously.

The CLI (rather than the SDK) adds no dependency and negotiates the API version with old
engines. It finds the engine the usual way (DOCKER_HOST, a context, or the default socket) and
is given only the variables that say so, never the worker's whole environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from dataclasses import dataclass
from typing import Final

from sandbox.base import SandboxBackendFailed, SandboxUnavailable

__all__ = ["DockerCall", "docker", "docker_argv", "docker_env"]

_PASSED: Final = (
    "PATH",
    "HOME",
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
    "XDG_RUNTIME_DIR",
)
_UNREACHABLE: Final = ("Cannot connect to the Docker daemon", "error during connect")


@dataclass(frozen=True, slots=True)
class DockerCall:
    """A finished `docker` invocation."""

    code: int
    stdout: str
    stderr: str

    def first_error_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[0].strip() if lines else f"exit status {self.code}"


def docker_env() -> dict[str, str]:
    """The variables the docker CLI needs to find the engine, and nothing else."""
    return {name: os.environ[name] for name in _PASSED if name in os.environ}


def docker_argv(*args: str) -> list[str]:
    """`docker` resolved on PATH, followed by `args`."""
    binary = shutil.which("docker")
    if binary is None:
        raise SandboxUnavailable(
            "the docker sandbox needs the docker CLI: apt-get install docker.io"
        )
    return [binary, *args]


async def docker(*args: str, timeout_s: float = 60.0) -> DockerCall:
    """Run `docker ARGS`; raise `SandboxUnavailable` when no engine answers."""
    proc = await asyncio.create_subprocess_exec(
        *docker_argv(*args),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=docker_env(),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise SandboxBackendFailed(
            f"docker {args[0]} did not answer within {timeout_s:.0f}s"
        ) from None
    call = DockerCall(
        proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
    )
    if call.code and any(marker in call.stderr for marker in _UNREACHABLE):
        raise SandboxUnavailable(
            f"no Docker engine answers ({call.first_error_line()}): start dockerd, or set"
            " DOCKER_HOST to its socket"
        )
    return call
