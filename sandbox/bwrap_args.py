"""The bwrap command line of a sandbox (what it binds) and the rlimits of its commands. Pure,
but for a look at /proc when counting the host user's processes.

The root is an empty tmpfs holding the system directories read-only, a few /etc files written
for the sandbox, the toolchain, fresh /proc and /dev, a private /tmp, the workspace (its .git
read-only), and what a `Provision` adds (the environment, the proxy's socket); it is made
read-only last. The host's root is never bound.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
from pathlib import Path
from typing import Final

from sandbox.base import SANDBOX_GID, SANDBOX_TMP, SANDBOX_UID, WORKDIR, Limits, Provision
from sandbox.egress import SOCKET_TARGET
from sandbox.toolchain import TOOLCHAIN_TARGET

__all__ = ["ETC_FILES", "bwrap_args", "rlimits"]

_SYSTEM_DIRS: Final = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_HOST_ETC: Final = ("/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime")
ETC_FILES: Final = {
    "passwd": f"root:x:0:0::/root:/bin/sh\nsandbox:x:{SANDBOX_UID}:{SANDBOX_GID}::/tmp:/bin/sh\n"
    "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n",
    "group": f"root:x:0:\nsandbox:x:{SANDBOX_GID}:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
}


def rlimits(limits: Limits, timeout_s: float, without_cgroups: bool) -> list[tuple[int, int, int]]:
    """(resource, soft, hard) for one command: set in the spawner's child before bwrap runs."""
    # CPU seconds a process may burn: all of its cpus for the whole timeout, then SIGKILL.
    cpu_s = math.ceil(timeout_s * limits.cpus) + 1
    chosen = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
    ]
    if without_cgroups:
        # RLIMIT_NPROC counts every process of the host user, not only the sandbox's.
        chosen += [
            (resource.RLIMIT_AS, limits.memory_bytes),
            (resource.RLIMIT_NPROC, _user_processes() + limits.pids),
        ]
    return [(int(kind), value, value) for kind, value in chosen]


def bwrap_args(
    bwrap: str,
    features: frozenset[str],
    limits: Limits,
    workspace: Path,
    tools: tuple[Path, ...],
    scratch: Path,
    provision: Provision | None = None,
    checks_toolchain: Path | None = None,
) -> tuple[str, ...]:
    """bwrap and its options, up to the --chdir and the command."""
    args = [bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID)]
    args += ["--gid", str(SANDBOX_GID), "--cap-drop", "ALL", "--die-with-parent"]
    args += ["--new-session", "--hostname", "sandbox"]
    if "--disable-userns" in features:
        args.append("--disable-userns")
    for directory in _SYSTEM_DIRS:
        if os.path.islink(directory):
            args += ["--symlink", os.readlink(directory), directory]
        elif os.path.isdir(directory):
            args += ["--ro-bind", directory, directory]
    for path in _HOST_ETC:
        args += ["--ro-bind-try", path, path]
    for filename in ETC_FILES:
        args += ["--ro-bind", str(scratch / filename), f"/etc/{filename}"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    if "--size" in features:
        args += ["--size", str(limits.tmp_bytes)]
    args += ["--tmpfs", SANDBOX_TMP, "--bind", str(workspace), WORKDIR]
    # After the private /tmp: a toolchain that lives under the host's /tmp (a checkout there,
    # with its .venv) would otherwise be hidden by it.
    for tool in tools:
        args += ["--ro-bind", str(tool), str(tool)]
    args += _provided(provision, checks_toolchain)
    if (workspace / ".git").exists():
        args += ["--ro-bind", str(workspace / ".git"), f"{WORKDIR}/.git"]
    args += ["--remount-ro", "/"]
    return tuple(args)


def _provided(provision: Provision | None, checks_toolchain: Path | None) -> list[str]:
    """The binds of the checks' toolchain and of what a `Provision` adds."""
    args = []
    if checks_toolchain is not None:
        args += ["--ro-bind", str(checks_toolchain), TOOLCHAIN_TARGET]
    if provision is not None:
        for mount in provision.mounts:
            args += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
        if provision.proxy_socket is not None:
            args += ["--bind", str(provision.proxy_socket), SOCKET_TARGET]
    return args


def _user_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                count += entry.stat().st_uid == uid
    return count
