"""Helpers shared by the tests: free ports, waiting for servers, and "required part" checks."""

from __future__ import annotations

import os
import shutil
import socket
import time

import pytest

__all__ = ["free_port", "require_binary", "require_part", "wait_for_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s}s")


def require_part(available: bool, what: str) -> None:
    """Skip when a real part is missing on a laptop; fail when CI=true, where it must exist."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required when CI=true but is not available", pytrace=False)
    pytest.skip(f"{what} is not available (it is required when CI=true)")


def require_binary(name: str) -> str:
    path = shutil.which(name)
    require_part(path is not None, f"the {name} binary")
    assert path is not None
    return path
