"""The container image's HEALTHCHECK: one image runs `ambient serve`, `ambient worker` or the CLI.

It finds the `ambient` process in the container and checks what that role needs: the receiver
must answer GET /healthz on its port; a worker's Redis must answer PING (a worker whose Redis is
gone takes no jobs). A container running a CLI command is healthy while it runs. Exit status 0
is healthy and 1 unhealthy, as Docker reads it; the one line printed lands in `docker inspect`.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

TIMEOUT_S: Final = 3.0
DEFAULT_PORT: Final = 8000
ROLES: Final = ("serve", "worker")
_ANY_ADDRESS: Final = frozenset({"0.0.0.0", "::", "[::]", ""})  # noqa: S104 - compared, not bound


def _command_lines() -> Iterator[list[str]]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # the process ended while we looked
        yield [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def ambient_argv(command_lines: Sequence[Sequence[str]]) -> list[str] | None:
    """The arguments after `ambient` of the process serving the container's role, or None.

    A server (`serve`, `worker`) wins over a CLI command run beside it with `docker exec`.
    """
    found: list[list[str]] = []
    for argv in command_lines:
        for i, part in enumerate(argv):
            if Path(part).name == "ambient" and i + 1 < len(argv):
                found.append(list(argv[i + 1 :]))
                break
    servers = [argv for argv in found if argv[0] in ROLES]
    chosen = servers or found
    return chosen[0] if chosen else None


def option(argv: Sequence[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` in `argv`, if given."""
    for i, part in enumerate(argv):
        if part == name and i + 1 < len(argv):
            return argv[i + 1]
        if part.startswith(name + "="):
            return part.partition("=")[2]
    return None


def healthz_url(argv: Sequence[str]) -> str:
    """Where the receiver started with `argv` answers /healthz from inside its container."""
    host = option(argv, "--host") or "127.0.0.1"
    if host in _ANY_ADDRESS:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = option(argv, "--port") or str(DEFAULT_PORT)
    return f"http://{host}:{port}/healthz"


def check_web(argv: Sequence[str]) -> str | None:
    """None when /healthz answers 200, else why not."""
    url = healthz_url(argv)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 - http only
            status = int(response.status)
    except OSError as exc:
        return f"{url}: {exc}"
    return None if status == 200 else f"{url}: status {status}"


def check_worker() -> str | None:
    """None when the worker's Redis (AMBIENT_REDIS_URL) answers PING, else why not."""
    from redis import Redis
    from redis.exceptions import RedisError

    from bot.config import load_settings
    from bot.errors import ConfigError

    try:
        url = load_settings().redis_url
    except ConfigError as exc:
        return str(exc)
    client = Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        client.ping()
    except RedisError as exc:
        return f"redis does not answer: {exc}"
    finally:
        client.close()
    return None


def main() -> int:
    """Check the role this container runs; 0 when healthy."""
    argv = ambient_argv(list(_command_lines()))
    if argv is None:
        sys.stdout.write("no ambient process runs in this container\n")
        return 1
    role = argv[0]
    if role == "serve":
        problem = check_web(argv)
    elif role == "worker":
        problem = check_worker()
    else:
        problem = None
    sys.stdout.write(f"{role}: {problem or 'ok'}\n")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
