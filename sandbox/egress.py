"""Egress for the environment setup: an allowlisting forward proxy, and the relay to it.

Setup installs a repository's dependencies, so it needs the package indexes; it also runs
untrusted code (build backends, `setup.py`), so it gets nothing else. The sandbox keeps its own
network namespace with loopback only, exactly as for the checks. The one way out is a Unix
socket bound into it: inside, `socat` relays 127.0.0.1:3128 to that socket; outside, a second
`socat` relays the socket to tinyproxy on the host's loopback, and tinyproxy forwards only
requests whose URL (plain HTTP) or `host:port` (CONNECT, for HTTPS) is on the allowlist, and
refuses everything else with 403 before connecting anywhere. No route exists from the sandbox
to the host's loopback services (Redis), to a metadata endpoint (169.254.169.254) or to a
private range, whatever the setup command tries, because none of them is on the list.

tinyproxy and socat are Debian's packages: the filtering is done by kept proxy software, not by
code of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from bot.errors import Permanent, SandboxError

__all__ = [
    "PROXY_VARIABLES",
    "RELAY_PORT",
    "SOCKET_TARGET",
    "EgressProxy",
    "EgressUnavailable",
    "Endpoint",
    "endpoints",
    "filter_rules",
    "relayed",
]

#: Where the proxy's socket appears inside a sandbox with egress.
SOCKET_TARGET: Final = "/run/ambient/proxy.sock"
#: The port the in-sandbox relay listens on (its loopback only).
RELAY_PORT: Final = 3128
_PROXY_URL: Final = f"http://127.0.0.1:{RELAY_PORT}"
#: Both spellings: pip and uv read either, some tools only one of them.
PROXY_VARIABLES: Final = {
    "HTTP_PROXY": _PROXY_URL,
    "HTTPS_PROXY": _PROXY_URL,
    "http_proxy": _PROXY_URL,
    "https_proxy": _PROXY_URL,
    "NO_PROXY": "",
    "no_proxy": "",
}
# Starts the relay, waits until its port is listening (/proc/net/tcp lists it, in hex), runs
# the command, and leaves the relay to die with the sandbox's PID namespace or container.
_RELAY_SCRIPT: Final = (
    f"socat TCP-LISTEN:{RELAY_PORT},bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:{SOCKET_TARGET}"
    " 2>/dev/null & relay=$!; n=0;"
    f" while ! grep -q ':{RELAY_PORT:04X} ' /proc/net/tcp; do"
    "   n=$((n+1)); if [ $n -gt 500 ]; then echo 'ambient: the proxy relay did not start' >&2;"
    "   exit 125; fi; sleep 0.01; done;"
    ' "$@"; status=$?; kill $relay 2>/dev/null; exit $status'
)
_START_S: Final = 10.0
_SOCKET_PATH_MAX: Final = 107
#: What follows the parent directory in the socket's path (mkdtemp adds 8 characters).
_SOCKET_TAIL: Final = "/ambient-egress-12345678/proxy.sock"


class EgressUnavailable(SandboxError, Permanent):
    """The setup proxy cannot run here (tinyproxy or socat missing, or it did not start)."""


def relayed(argv: Sequence[str]) -> list[str]:
    """`argv` run behind the in-sandbox relay to the proxy's socket."""
    return ["/bin/sh", "-c", _RELAY_SCRIPT, "sh", *argv]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One allowed destination: a host and, when the index runs on another one, its port."""

    host: str
    port: int | None = None

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


def endpoints(hosts: Sequence[str], index_urls: Sequence[str] = ()) -> tuple[Endpoint, ...]:
    """The allowlist: `hosts` (`name` or `name:port`) and the host of each index URL."""
    found: list[Endpoint] = []
    for entry in hosts:
        parts = urlsplit(f"//{entry.strip()}")
        if parts.hostname:
            found.append(Endpoint(parts.hostname.lower(), parts.port))
    for url in index_urls:
        parts = urlsplit(url)
        if parts.hostname:
            found.append(Endpoint(parts.hostname.lower(), parts.port))
    return tuple(dict.fromkeys(found))


def filter_rules(allowed: Sequence[Endpoint]) -> tuple[list[str], list[int]]:
    """tinyproxy's filter lines (extended regexes over the URL, or `host:port` for CONNECT)
    and the ports CONNECT may reach. A host without a port allows 80 and 443 only."""
    lines: list[str] = []
    ports = {443}
    for endpoint in allowed:
        host = re.escape(endpoint.host)
        if endpoint.port is None:
            lines += [f"^http://{host}(:80)?/", f"^https://{host}(:443)?/", f"^{host}:443$"]
        else:
            port = endpoint.port
            lines += [f"^https?://{host}:{port}/", f"^{host}:{port}$"]
            ports.add(port)
    return lines, sorted(ports)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EgressProxy:
    """tinyproxy on the host's loopback with the allowlist, reached through a Unix socket.

    Start it with `EgressProxy.start(...)`, bind `socket` into a sandbox at `SOCKET_TARGET`,
    and `close()` it when the jobs that need it are done.
    """

    def __init__(
        self,
        directory: Path,
        processes: list[asyncio.subprocess.Process],
        allowed: tuple[Endpoint, ...],
    ) -> None:
        self._directory = directory
        self._processes = processes
        self.allowed = allowed

    @property
    def socket(self) -> Path:
        return self._directory / "proxy.sock"

    @property
    def log(self) -> Path:
        """tinyproxy's log: every request, and every refusal with the URL refused."""
        return self._directory / "proxy.log"

    @classmethod
    async def start(cls, allowed: Sequence[Endpoint], parent: Path | None = None) -> EgressProxy:
        """Start tinyproxy and the socket relay in front of it; `EgressUnavailable` if either
        is missing or does not come up.

        The socket lives in a new directory under `parent` (default: the temporary directory):
        a Docker engine binds it from its own host, so a worker in a container puts it on a
        path the host shares (the cache directory)."""
        tinyproxy, socat = shutil.which("tinyproxy"), shutil.which("socat")
        if tinyproxy is None or socat is None:
            raise EgressUnavailable(
                "environment setup needs tinyproxy and socat on the worker's host:"
                " apt-get install tinyproxy socat"
            )
        directory, port = _prepared(tuple(allowed), parent)
        processes: list[asyncio.subprocess.Process] = []
        proxy = cls(directory, processes, tuple(allowed))
        try:
            processes.append(
                await asyncio.create_subprocess_exec(
                    tinyproxy,
                    "-d",
                    "-c",
                    str(directory / "tinyproxy.conf"),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            )
            await _listening(port, processes[0], "tinyproxy")
            processes.append(
                await asyncio.create_subprocess_exec(
                    socat,
                    f"UNIX-LISTEN:{proxy.socket},fork,mode=666",
                    f"TCP:127.0.0.1:{port}",
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            )
            await _socket_ready(proxy.socket, processes[1])
        except BaseException:
            await proxy.close()
            raise
        return proxy

    async def close(self) -> None:
        """Stop both processes and remove the proxy's directory."""
        for process in reversed(self._processes):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        self._processes.clear()
        shutil.rmtree(self._directory, ignore_errors=True)


def _prepared(allowed: tuple[Endpoint, ...], parent: Path | None) -> tuple[Path, int]:
    """The proxy's private directory with its config and filter, and the port it will use."""
    if parent is not None and len(str(parent)) > _SOCKET_PATH_MAX - len(_SOCKET_TAIL):
        # A Unix socket's path holds at most 107 bytes: a deep cache directory cannot hold it.
        parent = None
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="ambient-egress-", dir=parent))
    directory.chmod(0o711)
    port = _free_port()
    lines, ports = filter_rules(allowed)
    (directory / "filter").write_text("".join(f"{line}\n" for line in lines))
    (directory / "tinyproxy.conf").write_text(_config(directory, port, ports))
    return directory, port


def _is_socket(path: Path) -> bool:
    return path.is_socket()


def _config(directory: Path, port: int, ports: Sequence[int]) -> str:
    lines = [
        f"Port {port}",
        "Listen 127.0.0.1",
        "Timeout 120",
        "MaxClients 64",
        "Allow 127.0.0.1",
        "LogLevel Notice",
        f'LogFile "{directory / "proxy.log"}"',
        f'Filter "{directory / "filter"}"',
        "FilterURLs On",
        "FilterType ere",
        "FilterDefaultDeny Yes",
        "DisableViaHeader Yes",
        *(f"ConnectPort {p}" for p in ports),
    ]
    return "\n".join(lines) + "\n"


async def _listening(port: int, process: asyncio.subprocess.Process, name: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _START_S
    while loop.time() < deadline:
        if process.returncode is not None:
            raise EgressUnavailable(f"{name} exited at start with status {process.returncode}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.02)
    raise EgressUnavailable(f"{name} did not listen on 127.0.0.1:{port} within {_START_S:.0f} s")


async def _socket_ready(path: Path, process: asyncio.subprocess.Process) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _START_S
    while loop.time() < deadline:
        if process.returncode is not None:
            raise EgressUnavailable(f"socat exited at start with status {process.returncode}")
        if _is_socket(path):
            return
        await asyncio.sleep(0.01)
    raise EgressUnavailable(f"socat did not create {path} within {_START_S:.0f} s")
