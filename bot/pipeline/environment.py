"""The environment setup stage: install a repository's project and test dependencies, once.

workspace → **environment** → checks. A `SetupPlan` (`bot.pipeline.setup_plan`) says what to
install; `Environments.prepare` finds it in the cache (`bot.pipeline.env_cache`) or builds it,
and hands back the `Provision` that mounts it read-only at /opt/env for the checks.

A build runs in the same sandbox backends as the checks, with every limit, on a copy of the
checkout (a build backend writes into its source tree, and the tree under test must stay
exactly the proposal); the copy is mounted at /workspace like the real tree, so an editable
install finds the real tree when the checks run. What the build wrote into the copy and the
repository's git ignores (a setuptools-scm or hatch-vcs version module, an in-place build's
compiled extensions) is kept with the environment and laid into the checks' workspace
(`sandbox.generated`), never into a proposal. Its only egress is the allowlisting proxy
(`sandbox.egress`) to the configured package indexes. The checks themselves keep no network.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.config import Settings
from bot.git import run_git
from bot.pipeline.env_cache import CacheEntry, EnvCache, Lease, scope_of
from bot.pipeline.setup_plan import CONSTRAINTS_FILE, ENV_TARGET, SCRATCH_TARGET, SetupPlan
from sandbox import (
    Command,
    CommandPolicy,
    Mount,
    Provision,
    Sandbox,
    SandboxKind,
)
from sandbox.base import SANDBOX_GID, SANDBOX_UID
from sandbox.egress import EgressProxy, EgressUnavailable, endpoints
from sandbox.toolchain import TOOLCHAIN_TARGET
from sandbox.verify import CommandRun, SetupRun

__all__ = [
    "DEFAULT_INDEX_HOSTS",
    "Environments",
    "OpenBox",
    "Prepared",
    "SetupOptions",
    "checks_provision",
]

#: PyPI (its index and its files) and the npm registry.
DEFAULT_INDEX_HOSTS: Final = ("pypi.org", "files.pythonhosted.org", "registry.npmjs.org")
_CA_TARGET: Final = "/run/ambient/ca.pem"
#: Debian's (and Ubuntu's) bundle of the certificates the host trusts.
HOST_CA_BUNDLE: Final = Path("/etc/ssl/certs/ca-certificates.crt")
#: Bumped when what a setup leaves in an environment changes, so old entries are not reused.
_RECIPE: Final = "2"
_TAIL_LINES: Final = 3
#: What of a build's new files in its source tree is kept: at most so many, so large in all.
_GENERATED_FILES: Final = 2000
_GENERATED_BYTES: Final = 256 << 20
#: A build's own leavings, which no check imports: passed over where a path has them (and
#: `*.egg-info`, whose copy in the tree would be a second record of the installed project).
_NOT_GENERATED: Final = frozenset(
    {"__pycache__", "build", "dist", ".eggs", ".tox", ".nox", ".venv", "node_modules",
     ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"}
)  # fmt: skip

OpenBox = Callable[[Path, CommandPolicy, Provision], AbstractAsyncContextManager[Sandbox]]


@dataclass(frozen=True, slots=True)
class SetupOptions:
    """How setups run on this worker: cache, allowed index hosts, mirror, CA, time limit."""

    cache_dir: Path
    cache_bytes: int = 5 << 30
    hosts: tuple[str, ...] = DEFAULT_INDEX_HOSTS
    index_url: str = ""
    ca_bundle: Path | None = None
    timeout_s: float = 900.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SetupOptions:
        """The settings' setup options; without `AMBIENT_SETUP_CA_BUNDLE`, the host's own CA
        bundle, so an index the worker's host trusts (a TLS-intercepting proxy's included) is
        trusted by the setup too."""
        host_ca = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
        return cls(
            cache_dir=settings.cache_dir / "environments",
            cache_bytes=settings.setup_cache_bytes,
            hosts=settings.index_hosts,
            index_url=settings.setup_index_url,
            ca_bundle=settings.setup_ca_bundle or host_ca,
            timeout_s=settings.setup_timeout_s,
        )


def checks_provision(entry: CacheEntry) -> Provision:
    """What the checks get of a built environment: mounted read-only, first on PATH, and the
    files its build wrote into the source tree laid into theirs."""
    generated = entry.generated
    return Provision(
        mounts=(Mount(entry.env, ENV_TARGET),),
        path=(f"{ENV_TARGET}/bin",),
        variables={"VIRTUAL_ENV": ENV_TARGET},
        generated=generated if generated.is_dir() and any(generated.iterdir()) else None,
    )


@dataclass(slots=True)
class Prepared:
    """A setup's outcome, and while it is held, the environment for the checks.

    The cache entry stays locked (shared) until `release()`, so no eviction removes an
    environment a sandbox still has mounted."""

    run: SetupRun
    provision: Provision | None = None
    lease: Lease | None = None

    def release(self) -> None:
        if self.lease is not None:
            self.lease.close()
            self.lease = None


class Environments:
    """Set-up environments for one worker or one CLI run; `close()` stops the proxy."""

    def __init__(self, options: SetupOptions) -> None:
        self.options = options
        self.cache = EnvCache(options.cache_dir, options.cache_bytes)
        self._proxy: EgressProxy | None = None
        self._proxy_lock = asyncio.Lock()
        #: How many environments this instance built (not found in the cache).
        self.builds = 0

    async def close(self) -> None:
        if self._proxy is not None:
            await self._proxy.close()
            self._proxy = None

    async def _egress(self) -> EgressProxy:
        async with self._proxy_lock:
            if self._proxy is None:
                index = (self.options.index_url,) if self.options.index_url else ()
                self._proxy = await EgressProxy.start(
                    endpoints(self.options.hosts, index), self.options.cache_dir
                )
            return self._proxy

    def key(self, worktree: Path, plan: SetupPlan, identity: str) -> str:
        """What the environment depends on: the sandbox, the plan, the declaring files."""
        files = {}
        for name in plan.inputs:
            try:
                files[name] = hashlib.sha256((worktree / name).read_bytes()).hexdigest()
            except OSError:
                files[name] = ""
        ca = self.options.ca_bundle
        described = {
            "recipe": _RECIPE,
            "sandbox": identity,
            "python": plan.python,
            "steps": plan.lines,
            "variables": plan.variables,
            "constraints": plan.constraints,
            "files": files,
            "index": self.options.index_url,
            "ca": hashlib.sha256(ca.read_bytes()).hexdigest() if ca and ca.is_file() else "",
        }
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:24]

    async def prepare(
        self,
        worktree: Path,
        plan: SetupPlan,
        *,
        scope: str,
        kind: SandboxKind,
        identity: str,
        open_box: OpenBox,
    ) -> Prepared:
        """The environment `plan` describes for `worktree`, from the cache or built now.

        `scope` names the repository (never shared across repositories or installations);
        `identity` the sandbox image or toolchain the environment is built for. A failed setup
        is a `Prepared` whose run says why, never an exception: the checks just do not run.
        """
        if plan.empty:
            return Prepared(SetupRun(True, False, plan.summary, plan.source))
        key = await asyncio.to_thread(self.key, worktree, plan, identity)
        entry = self.cache.entry(scope_of(scope), key)
        lease = await asyncio.to_thread(self.cache.lease, entry)
        try:
            if await asyncio.to_thread(self.cache.valid, entry) is not None:
                self.cache.touch(entry)
                lease.share()
                run = SetupRun(True, True, plan.summary, plan.source)
                return Prepared(run, checks_provision(entry), lease)
            run = await self._build(worktree, plan, entry, kind, open_box)
        except BaseException:
            lease.close()
            raise
        if not run.ok:
            self.cache.discard(entry)
            lease.close()
            return Prepared(run)
        lease.share()
        await asyncio.to_thread(self.cache.evict, entry)
        return Prepared(run, checks_provision(entry), lease)

    async def _build(
        self,
        worktree: Path,
        plan: SetupPlan,
        entry: CacheEntry,
        kind: SandboxKind,
        open_box: OpenBox,
    ) -> SetupRun:
        started = time.monotonic()
        await asyncio.to_thread(self.cache.reset, entry)
        scratch = self.options.cache_dir / "scratch" / secrets.token_hex(8)
        copy, work = scratch / "checkout", scratch / "work"
        try:
            copied = await _copy_checkout(worktree, copy)
            await asyncio.to_thread(_prepare_dirs, entry.env, work, plan, kind)
            try:
                proxy = await self._egress()
            except EgressUnavailable as exc:
                return SetupRun(False, False, plan.summary, plan.source, error=str(exc))
            provision = self._setup_provision(entry.env, work, proxy.socket, plan)
            policy = CommandPolicy(tuple(_exactly(line) for line in plan.lines), "setup")
            runs = await self._run_steps(copy, plan, policy, provision, open_box)
            if all(r.ok for r in runs):
                await _keep_generated(worktree, copy, copied, entry.generated)
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)
        duration = time.monotonic() - started
        failed = next((r for r in runs if not r.ok), None)
        if failed is not None:
            error = _failure_line(failed, plan)
            return SetupRun(False, False, plan.summary, plan.source, runs, duration, error)
        await asyncio.to_thread(_toolchain_behind, entry.env)
        record = {"summary": plan.summary, "source": plan.source, "steps": list(plan.lines)}
        await asyncio.to_thread(self.cache.commit, entry, record)
        self.builds += 1
        return SetupRun(True, False, plan.summary, plan.source, runs, duration)

    async def _run_steps(
        self,
        copy: Path,
        plan: SetupPlan,
        policy: CommandPolicy,
        provision: Provision,
        open_box: OpenBox,
    ) -> tuple[CommandRun, ...]:
        runs: list[CommandRun] = []
        async with open_box(copy, policy, provision) as box:
            for step in plan.steps:
                command = Command(step, timeout_s=self.options.timeout_s)
                run = CommandRun.from_result(command, await box.run(command))
                runs.append(run)
                if not run.ok:
                    break
        return tuple(runs)

    def _setup_provision(self, env: Path, work: Path, socket: Path, plan: SetupPlan) -> Provision:
        variables = {
            "VIRTUAL_ENV": ENV_TARGET,
            "TMPDIR": f"{SCRATCH_TARGET}/tmp",  # noqa: S108 (the setup's own, not the host's)
            "UV_CACHE_DIR": f"{SCRATCH_TARGET}/cache",
            "UV_LINK_MODE": "copy",
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
            "PIP_CACHE_DIR": f"{SCRATCH_TARGET}/cache/pip",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            **dict(plan.variables),
        }
        if self.options.index_url:
            variables |= {
                "UV_INDEX_URL": self.options.index_url,
                "PIP_INDEX_URL": self.options.index_url,
            }
        mounts = [Mount(env, ENV_TARGET, writable=True), Mount(work, SCRATCH_TARGET, writable=True)]
        if self.options.ca_bundle is not None:
            mounts.append(Mount(self.options.ca_bundle, _CA_TARGET))
            variables |= {
                "SSL_CERT_FILE": _CA_TARGET,
                "PIP_CERT": _CA_TARGET,
                "REQUESTS_CA_BUNDLE": _CA_TARGET,
            }
        return Provision(tuple(mounts), (f"{ENV_TARGET}/bin",), variables, socket)


def _exactly(line: str) -> str:
    """A policy pattern admitting exactly one command line."""
    return re.escape(line)


def _failure_line(failed: CommandRun, plan: SetupPlan) -> str:
    tail = [ln.strip() for ln in failed.output_tail.strip().splitlines() if ln.strip()]
    last = " / ".join(tail[-_TAIL_LINES:]) or "no output"
    if failed.timed_out:
        ending = "timed out"
    elif failed.oom_killed:
        ending = "ran out of memory"
    else:
        ending = f"exited {failed.exit_code}"
    if plan.source.startswith("setup.commands"):
        what = "a setup command failed"
    elif failed.command == plan.lines[0] and len(plan.steps) > 1:
        what = "could not create the environment"
    else:
        what = "could not install the project"
    return f"{what}: `{failed.command}` {ending}: {last}"


def _toolchain_behind(env: Path) -> None:
    """Let the environment import the checks' toolchain (pytest and the rest) after its own
    packages: a project that pins its pytest gets that one, one that names none still runs."""
    for site in env.glob("lib/python3.*/site-packages"):
        version = site.parent.name
        # site reads .pth files in name order: this one must come after the project's own
        # (an editable install's), so the project's copy of a package wins over the toolchain's.
        (site / "zzz-ambient-toolchain.pth").write_text(
            f"{TOOLCHAIN_TARGET}/lib/{version}/site-packages\n"
        )


def _prepare_dirs(env: Path, work: Path, plan: SetupPlan, kind: SandboxKind) -> None:
    """The setup's writable directories, owned by the sandbox's user where Docker runs it."""
    (work / "tmp").mkdir(parents=True)
    (work / "cache").mkdir()
    if plan.constraints:
        name = Path(CONSTRAINTS_FILE).relative_to(SCRATCH_TARGET)
        (work / name).write_text("".join(f"{pin}\n" for pin in plan.constraints))
    if kind == "docker" and os.geteuid() == 0:
        # A root-owned directory is not the container user's to write; under bwrap the
        # sandbox's user is this process's own, mapped.
        for path in (env, work, work / "tmp", work / "cache"):
            os.chown(path, SANDBOX_UID, SANDBOX_GID)


async def _copy_checkout(worktree: Path, target: Path) -> frozenset[str]:
    """Copy the checkout's files (tracked, and new ones not ignored) to `target`; never
    hard links, which a build could write through into the tree under test. Returns their
    names."""
    listed = await run_git(
        ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], worktree
    )
    names = [n for n in listed.text.split("\0") if n]
    await asyncio.to_thread(_copy_files, worktree, target, names)
    return frozenset(names)


async def _keep_generated(worktree: Path, copy: Path, copied: frozenset[str], kept: Path) -> None:
    """Keep in `kept` the files the setup wrote into its copy of the checkout that the
    repository's git ignores (as `git check-ignore` says in `worktree`, whose .gitignore files
    the copy has too). An ignored file is one staging passes over, so laid into a proposal's
    tree it never enters the diff; one that is not ignored would show as a change, and is not
    kept."""
    found = await asyncio.to_thread(_new_files, copy, copied)
    if not found:
        return
    said = await run_git(
        ["check-ignore", "-z", "--no-index", "--stdin"],
        worktree,
        check=False,
        stdin=b"".join(name.encode("utf-8", "surrogateescape") + b"\0" for name in found),
    )
    ignored = {n for n in said.stdout.decode("utf-8", "surrogateescape").split("\0") if n}
    await asyncio.to_thread(_copy_files, copy, kept, [n for n in found if n in ignored])


def _new_files(copy: Path, copied: frozenset[str]) -> list[str]:
    """The regular files under `copy` that were not copied there, past a build's leavings, up
    to the bounds on what is kept."""
    found: list[str] = []
    total = 0
    for base, dirs, files in os.walk(copy):
        dirs[:] = sorted(d for d in dirs if d not in _NOT_GENERATED and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(base, name)
            relative = str(path.relative_to(copy))
            if relative in copied or name.endswith(".pyc") or path.is_symlink():
                continue
            size = path.stat().st_size
            if len(found) >= _GENERATED_FILES or total + size > _GENERATED_BYTES:
                return found
            found.append(relative)
            total += size
    return found


def _copy_files(source: Path, target: Path, names: list[str]) -> None:
    target.mkdir(parents=True)
    for name in names:
        origin = source / name
        if not origin.is_symlink() and not origin.is_file():
            continue
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, destination, follow_symlinks=False)
