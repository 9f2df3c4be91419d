"""Run the GitHub simulator inside this process, on a free port, on its own thread.

`SimServer.start(data_dir)` serves the simulator with uvicorn on a background thread (with
its own event loop) and returns a server whose `.sim` is a `GitHubSim`; `stop()` ends it.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from tests.sim.github_client import GitHubSim

__all__ = ["SimServer"]


@dataclass
class SimServer:
    """A simulator served by uvicorn on a thread of this process."""

    sim: GitHubSim
    server: uvicorn.Server
    thread: threading.Thread

    @classmethod
    def start(
        cls, data_dir: Path, app_slug: str = "ambient-test", private_key_pem: str | None = None
    ) -> SimServer:
        # imported here so a test that only uses the client does not build the app
        from tests.sim.github import create_app

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        app = create_app(data_dir, base, app_slug=app_slug, private_key_pem=private_key_pem)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"github-sim-{port}", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the GitHub simulator did not start")
            time.sleep(0.005)
        return cls(GitHubSim(base), server, thread)

    def stop(self) -> None:
        self.sim.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)
