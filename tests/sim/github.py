"""A GitHub simulator: the REST subset Ambient uses, git smart HTTP, and /_sim/ test controls.

Run it with `python -m tests.sim.github --port N --data DIR [--app-slug ambient-test]`.
State lives in memory; repositories are real bare git repositories under DIR.
"""

from __future__ import annotations

import argparse
import itertools
import secrets
from pathlib import Path

import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tests.sim import (
    github_routes_app,
    github_routes_checks,
    github_routes_git,
    github_routes_issues,
    github_routes_manifest,
    github_routes_pulls,
    github_routes_refs,
    github_routes_repos,
    github_routes_sim,
    github_routes_sim_inspect,
    github_routes_sim_merge,
    github_routes_webhooks,
    github_smart_http,
)
from tests.sim.github_auth import Refused, error
from tests.sim.github_context import Sim, sim_of
from tests.sim.github_middleware import SimMiddleware
from tests.sim.github_state import SimState

__all__ = ["create_app", "main", "new_private_key"]

_generations = itertools.count(1)


def new_private_key() -> str:
    """A fresh RSA 2048 key in PEM (PKCS#1), the form GitHub hands out for Apps."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def _new_sim(
    data_dir: Path,
    base_url: str,
    slug: str,
    key_pem: str,
    app_id: int,
    webhook_secret: str | None = None,
) -> Sim:
    generation = data_dir / f"gen{next(_generations)}"
    generation.mkdir(parents=True, exist_ok=True)
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    first_id = int(generation.name.removeprefix("gen")) * 1_000_000
    state = SimState(
        data_dir=generation,
        base_url=base_url,
        app_id=app_id,
        app_slug=slug,
        webhook_secret=webhook_secret or secrets.token_hex(20),
        # ids never repeat across resets, so a client's cached token cannot meet a new world
        _ids=itertools.count(first_id),
    )
    return Sim(state=state, public_key=key.public_key(), private_key_pem=key_pem)


async def _reset(request: Request) -> Response:
    """Forget everything but the App and its key: the cheap way to reuse one server."""
    old = sim_of(request)
    settings = request.app.state.settings
    request.app.state.sim = _new_sim(
        settings["data_dir"],
        old.state.base_url,
        old.state.app_slug,
        old.private_key_pem,
        old.state.app_id,
        old.state.webhook_secret,
    )
    return JSONResponse({"reset": True})


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # GitHub answers an unknown route and an unsupported method alike: 404 Not Found
    if exc.status_code in (404, 405):
        return error(404, "Not Found")
    return error(exc.status_code, str(exc.detail))


async def _crash(request: Request, exc: Exception) -> Response:
    """A simulator bug still answers in GitHub's shape; uvicorn logs the traceback."""
    return error(500, f"Server Error ({type(exc).__name__}: {exc})")


def create_app(
    data_dir: Path,
    base_url: str,
    *,
    app_slug: str = "ambient-test",
    private_key_pem: str | None = None,
    app_id: int = 4242,
) -> Starlette:
    """The simulator as an ASGI app; `base_url` is where clients reach it (URLs in bodies)."""
    routes: list[BaseRoute] = [
        Route("/_sim/reset", _reset, methods=["POST"]),
        *github_routes_sim.ROUTES,
        *github_routes_sim_inspect.ROUTES,
        *github_routes_sim_merge.ROUTES,
        *github_routes_webhooks.ROUTES,
        *github_routes_app.ROUTES,
        *github_routes_manifest.ROUTES,
        *github_routes_repos.ROUTES,
        *github_routes_git.ROUTES,
        *github_routes_refs.ROUTES,
        *github_routes_issues.ROUTES,
        *github_routes_pulls.ROUTES,
        *github_routes_checks.ROUTES,
        *github_smart_http.ROUTES,
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SimMiddleware)],
        exception_handlers={Refused: _refused, HTTPException: _http_error, Exception: _crash},
    )
    app.state.settings = {"data_dir": data_dir}
    app.state.sim = _new_sim(
        data_dir, base_url.rstrip("/"), app_slug, private_key_pem or new_private_key(), app_id
    )
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m tests.sim.github`."""
    parser = argparse.ArgumentParser(prog="python -m tests.sim.github", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data", type=Path, required=True, help="where bare repos are kept")
    parser.add_argument("--app-slug", default="ambient-test")
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    app = create_app(args.data, f"http://{args.host}:{args.port}", app_slug=args.app_slug)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
