"""The Docker backend (the production default): one hardened container per job.

The container starts with no network, a read-only root, a tmpfs /tmp, only the workspace
mounted read-write (its .git read-only: hooks written there would run on the host), every
capability dropped, no-new-privileges, PID / memory (= memory+swap) / CPU limits, and
`--runtime runsc` when the engine has gVisor (or always, when the caller requires it). Its
PID 1 is docker's init keeping `sleep infinity` alive as nobody (65534); commands are `docker
exec`ed into it as uid 1000, so a command that signals every process it may (`kill -1`) cannot
stop the container, and the same call clears what a command left running. Labels let
`sandbox.reaper` remove containers a crashed worker left.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from pathlib import Path
from typing import Final

from sandbox.base import (
    SANDBOX_GID,
    SANDBOX_UID,
    WORKDIR,
    Command,
    Limits,
    Provision,
    Result,
    SandboxBackendFailed,
    SandboxBase,
    SandboxUnavailable,
)
from sandbox.capture import exit_code, run_process
from sandbox.dockercli import DockerCall, docker, docker_argv, docker_env
from sandbox.egress import SOCKET_TARGET
from sandbox.policy import CommandPolicy
from sandbox.reaper import LABEL, owner_label
from sandbox.sharing import SharedWorkspace, share_workspace

__all__ = ["DEFAULT_IMAGE", "NO_RUNSC", "DockerSandbox", "engine_runtimes"]

DEFAULT_IMAGE: Final = "ambient-sandbox:latest"
NO_RUNSC: Final = (
    "the Docker engine has no runsc runtime (gVisor): register it (docs/operations.md, gVisor)"
    " or set AMBIENT_SANDBOX_RUNTIME=auto"
)
_KEEPALIVE_UID: Final = 65534
# Runs the command, then SIGKILLs whatever else the command's user still runs (backgrounded
# or daemonized children): kill(-1) reaches every process the caller may signal but itself.
_WRAPPER: Final = '"$@"; status=$?; kill -s KILL -- -1 2>/dev/null; exit $status'
_OOM_COUNTER: Final = (
    "cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null || cat /sys/fs/cgroup/memory.events"
)
_GRACE_S: Final = 1.0
_RUNTIMES: dict[str, frozenset[str]] = {}


async def engine_runtimes(*, fresh: bool = False) -> frozenset[str]:
    """The OCI runtimes the engine knows (e.g. runc, runsc), asked once per process unless
    `fresh`."""
    key = docker_env().get("DOCKER_HOST", "")
    if fresh or key not in _RUNTIMES:
        call = await docker("info", "--format", "{{range $name, $_ := .Runtimes}}{{$name}} {{end}}")
        _RUNTIMES[key] = frozenset(call.stdout.split())
    return _RUNTIMES[key]


class DockerSandbox(SandboxBase):
    """A Docker sandbox over one workspace; open it with `DockerSandbox.open`."""

    kind = "docker"

    def __init__(
        self,
        workspace: Path,
        limits: Limits,
        policy: CommandPolicy,
        *,
        container: str,
        user: str,
        shared: SharedWorkspace | None,
        provision: Provision | None = None,
    ) -> None:
        super().__init__(workspace, limits, policy, provision)
        self.container = container
        self._user = user
        self._shared = shared
        self._oom_seen = 0

    @classmethod
    async def open(
        cls,
        workspace: Path,
        *,
        image: str = DEFAULT_IMAGE,
        limits: Limits | None = None,
        policy: CommandPolicy | None = None,
        runtime: str | None = "auto",
        provision: Provision | None = None,
    ) -> DockerSandbox:
        """Start the job's container over `workspace` (a directory on the engine's host).

        `runtime` "auto" picks gVisor's runsc when the engine has it; "runsc" requires it
        (`SandboxUnavailable` before any container starts otherwise); None keeps the engine's
        default; any other name ("runc") is passed as it is and must be known to the engine.
        """
        limits = limits or Limits()
        workspace = _checked_workspace(workspace)
        provision = provision or Provision()
        for mount in provision.mounts:
            _checked_mount_source(mount.source)
        runtime = await _chosen_runtime(runtime)
        st = workspace.stat()
        shared = None
        if st.st_uid in (0, _KEEPALIVE_UID):
            user = f"{SANDBOX_UID}:{SANDBOX_GID}"
            shared = await asyncio.to_thread(share_workspace, workspace, SANDBOX_GID)
        else:
            # Owned by an ordinary user already: run as that user, change nothing.
            user = f"{st.st_uid}:{st.st_gid}"
        name = f"ambient-sandbox-{secrets.token_hex(6)}"
        try:
            call = await docker(
                "run", *_run_args(name, image, workspace, limits, runtime, provision)
            )
        except BaseException:
            await _give_back(shared)
            raise
        if call.code != 0:
            await _give_back(shared)
            raise _start_error(call, image, runtime)
        return cls(
            workspace,
            limits,
            policy or CommandPolicy(),
            container=name,
            user=user,
            shared=shared,
            provision=provision,
        )

    def search_path(self) -> str:
        return "/opt/toolchain/bin:/usr/local/bin:/usr/bin:/bin"

    async def _execute(
        self, command: Command, cwd: str, env: dict[str, str], over_bound: asyncio.Future[None]
    ) -> Result:
        flags = [f"--env={name}={value}" for name, value in env.items()]
        argv = docker_argv("exec", "--user", self._user, "--workdir", cwd, *flags, self.container)
        argv += ["/bin/sh", "-c", _WRAPPER, "sh", *self.argv_of(command)]
        outcome = await run_process(
            argv,
            env=docker_env(),
            timeout_s=command.timeout_s,
            output_bytes=self.limits.output_bytes,
            on_timeout=self._stop,
            watch=over_bound,
            on_watch=self._kill,
        )
        code = exit_code(outcome.returncode)
        stderr = outcome.stderr.text()
        if code >= 125 and not outcome.timed_out and _engine_refused(stderr):
            raise SandboxBackendFailed(
                f"docker sandbox {self.container} could not run {command}: {stderr.strip()}"
            )
        oom = (
            code == 137
            and not outcome.timed_out
            and not over_bound.done()
            and await self._new_oom_kill()
        )
        return Result(
            exit_code=code,
            stdout=outcome.stdout.text(),
            stderr=stderr,
            duration_s=outcome.duration_s,
            timed_out=outcome.timed_out,
            oom_killed=oom,
            truncated=outcome.truncated,
        )

    async def _new_oom_kill(self) -> bool:
        # docker's State.OOMKilled covers PID 1 only; the container's memory cgroup counts
        # every OOM kill, and a SIGKILL (137) that was not our timeout is worth the look.
        call = await self._exec("/bin/sh", "-c", _OOM_COUNTER)
        counts = [
            int(v)
            for k, _, v in (ln.partition(" ") for ln in call.stdout.splitlines())
            if k == "oom_kill" and v.isdigit()
        ]
        if not counts:
            state = await docker("inspect", "--format", "{{.State.OOMKilled}}", self.container)
            return state.stdout.strip() == "true"
        seen, self._oom_seen = self._oom_seen, counts[0]
        return counts[0] > seen

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        # TERM everything the user runs, give it a moment, then KILL.
        await self._exec("/bin/sh", "-c", "kill -s TERM -- -1")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), _GRACE_S)
        await self._kill(proc)

    async def _kill(self, proc: asyncio.subprocess.Process) -> None:
        # Under a fork bomb the PID limit can refuse even the exec that would kill it: restart
        # the container then.
        killed = await self._exec("/bin/sh", "-c", "kill -s KILL -- -1 2>/dev/null; true")
        if killed.code != 0:
            await self._restart()

    async def _restart(self) -> None:
        await docker("kill", "--signal", "KILL", self.container, timeout_s=30)
        started = await docker("start", self.container, timeout_s=30)
        if started.code != 0:
            raise SandboxBackendFailed(
                f"docker sandbox {self.container} did not restart: {started.first_error_line()}"
            )
        self._oom_seen = 0

    async def _exec(self, *argv: str) -> DockerCall:
        return await docker("exec", "--user", self._user, self.container, *argv, timeout_s=30)

    async def _release(self) -> None:
        try:
            call = await docker("rm", "--force", "--volumes", self.container, timeout_s=60)
        finally:
            await _give_back(self._shared)
        if call.code != 0 and "No such container" not in call.stderr:
            raise SandboxBackendFailed(
                f"docker sandbox {self.container} was not removed: {call.first_error_line()}"
                " (the reaper removes it later)"
            )


async def _chosen_runtime(runtime: str | None) -> str | None:
    if runtime == "auto":
        return "runsc" if "runsc" in await engine_runtimes() else None
    # Asked again before refusing: runsc may have been registered since the last answer.
    if runtime == "runsc" and "runsc" not in await engine_runtimes(fresh=True):
        raise SandboxUnavailable(NO_RUNSC)
    return runtime


def _checked_workspace(workspace: Path) -> Path:
    resolved = workspace.resolve()
    if not resolved.is_dir():
        raise SandboxUnavailable(f"workspace {workspace} is not a directory")
    _checked_mount_source(resolved)
    return resolved


def _checked_mount_source(path: Path) -> None:
    if any(c in str(path) for c in ',"'):
        # --mount is comma-separated; such a path would be split into other options.
        raise SandboxUnavailable(f"mount path {path} may not hold a comma or quote")


def _run_args(
    name: str,
    image: str,
    workspace: Path,
    limits: Limits,
    runtime: str | None,
    provision: Provision,
) -> list[str]:
    mounts = [f"--mount=type=bind,source={workspace},target={WORKDIR}"]
    if (workspace / ".git").exists():
        mounts.append(f"--mount=type=bind,source={workspace}/.git,target={WORKDIR}/.git,readonly")
    for mount in provision.mounts:
        readonly = "" if mount.writable else ",readonly"
        mounts.append(f"--mount=type=bind,source={mount.source},target={mount.target}{readonly}")
    if provision.proxy_socket is not None:
        _checked_mount_source(provision.proxy_socket)
        mounts.append(f"--mount=type=bind,source={provision.proxy_socket},target={SOCKET_TARGET}")
    args = [
        "--detach",
        "--pull=never",
        f"--name={name}",
        f"--label={LABEL}=1",
        f"--label={LABEL}.owner={owner_label()}",
        f"--label={LABEL}.created={int(time.time())}",
        "--init",
        f"--user={_KEEPALIVE_UID}:{_KEEPALIVE_UID}",
        "--network=none",
        "--read-only",
        f"--tmpfs=/tmp:rw,nosuid,nodev,exec,size={limits.tmp_bytes},mode=1777",
        *mounts,
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        f"--pids-limit={limits.pids}",
        f"--memory={limits.memory_bytes}",
        f"--memory-swap={limits.memory_bytes}",
        f"--cpus={limits.cpus}",
        "--ulimit=core=0",
        f"--ulimit=nofile={limits.open_files}:{limits.open_files}",
        # In bytes, as setrlimit takes it (`ulimit -f` inside shows 512-byte blocks).
        f"--ulimit=fsize={limits.file_bytes}:{limits.file_bytes}",
        "--hostname=sandbox",
        "--log-driver=none",
        f"--workdir={WORKDIR}",
    ]
    if runtime:
        args.append(f"--runtime={runtime}")
    return [*args, image, "sleep", "infinity"]


def _start_error(call: DockerCall, image: str, runtime: str | None) -> SandboxUnavailable:
    line = call.first_error_line()
    if "No such image" in call.stderr or ("not found" in call.stderr and image in call.stderr):
        return SandboxUnavailable(
            f"sandbox image {image} is not in the engine: build it with sandbox/image/build.sh"
        )
    if runtime and "runtime" in call.stderr:
        # The engine changed since it was asked: ask again at the next start.
        _RUNTIMES.pop(docker_env().get("DOCKER_HOST", ""), None)
        if runtime == "runsc":
            return SandboxUnavailable(NO_RUNSC)
        return SandboxUnavailable(f"docker runtime {runtime} is not configured: {line}")
    return SandboxUnavailable(f"docker sandbox did not start: {line}")


def _engine_refused(stderr: str) -> bool:
    return "Error response from daemon" in stderr or "OCI runtime exec failed" in stderr


async def _give_back(shared: SharedWorkspace | None) -> None:
    if shared is not None:
        await asyncio.to_thread(shared.restore)
