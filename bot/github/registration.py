"""`ambient app create`: GitHub's manifest flow, served from a page on 127.0.0.1.

The page at `/` POSTs the manifest to GitHub's new-App page with a random `state`; once the
person confirms, GitHub sends the browser to `/callback?code=…&state=…`, the code is exchanged
for the App's id, key and webhook secret (`POST /app-manifests/{code}/conversions`, which
needs no credentials), and both are written beside each other with mode 0600.

The exchange goes around `bot.github.client`, the gateway: it acts as an App or an installation, and
here there is no App yet. A code works once and for an hour, so every check that could stop
the writing (an existing file, an unwritable directory) runs before the flow starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import os
import re
import secrets
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pydantic
import uvicorn
from githubkit import GitHub
from githubkit.exception import RequestError, RequestFailed
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.errors import Permanent
from bot.github.manifest import build_manifest, find_app_yml, load_app_yml, manifest_json
from bot.github.manifest import registration_url as new_app_url

__all__ = ["CreateOptions", "NewApp", "Registered", "RegistrationFailed", "register_app"]

#: GitHub's codes expire after an hour; nobody is waiting on the page after that.
WAIT_S: Final = 3600.0
_CODE: Final = re.compile(r"[A-Za-z0-9_-]{1,200}")


class RegistrationFailed(Permanent):
    """The manifest flow stopped; nothing was written."""


@dataclass(frozen=True, slots=True)
class CreateOptions:
    """What `ambient app create` was asked for (URLs without a trailing slash)."""

    github_url: str
    api_url: str
    webhook_url: str
    env_file: Path
    org: str | None = None
    name: str | None = None
    port: int = 0
    force: bool = False
    manifest: Path | None = None

    @property
    def key_dir(self) -> Path:
        return self.env_file.resolve().parent


@dataclass(frozen=True, slots=True)
class NewApp:
    """What GitHub hands back for a code: the App and its credentials."""

    id: int
    slug: str
    name: str
    html_url: str
    pem: str = field(repr=False)
    webhook_secret: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class Registered:
    """The App registered, and where its settings went."""

    app: NewApp
    env_file: Path
    key_file: Path

    @property
    def install_url(self) -> str:
        return f"{self.app.html_url}/installations/new"


def _key_file(options: CreateOptions, app: NewApp) -> Path:
    # Named for the App's id, which no earlier App had: the one file that cannot be checked
    # before the code is spent can never be in the way of the key.
    return options.key_dir / f"{app.slug}.{app.id}.private-key.pem"


def _check_writable(options: CreateOptions) -> None:
    directory = options.key_dir
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        raise RegistrationFailed(f"{directory}: not a writable directory for the env file")
    if options.env_file.exists() and not options.force:
        raise RegistrationFailed(f"{options.env_file} exists: remove it or pass --force")


def _write_private(path: Path, text: str, *, force: bool) -> None:
    """Write `path` with mode 0600 from its first byte; never replace it unless `force`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # mkstemp creates 0600 already; fchmod makes it so whatever the platform's default.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the name is taken: a file is never replaced
    except FileExistsError:
        raise RegistrationFailed(f"{path} exists: remove it or pass --force") from None
    except OSError as exc:
        raise RegistrationFailed(f"cannot write {path} ({exc.strerror})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def env_text(app: NewApp, key_file: Path, api_url: str) -> str:
    """The env file: one `AMBIENT_*=value` a line, as `docker --env-file` and systemd read it."""
    lines = [
        f"# The GitHub App {app.name} ({app.html_url}), written by `ambient app create`.",
        f"AMBIENT_GITHUB_APP_ID={app.id}",
        f"AMBIENT_APP_SLUG={app.slug}",
        f"AMBIENT_GITHUB_PRIVATE_KEY_PATH={key_file}",
        f"AMBIENT_GITHUB_API_URL={api_url}",
    ]
    if app.webhook_secret:
        lines.append(f"AMBIENT_WEBHOOK_SECRET={app.webhook_secret}")
    return "\n".join(lines) + "\n"


def write_credentials(options: CreateOptions, app: NewApp) -> Registered:
    """Write the key file, then the env file naming it; on failure neither is left behind."""
    key_file = _key_file(options, app)
    _write_private(key_file, app.pem, force=options.force)
    try:
        _write_private(
            options.env_file, env_text(app, key_file, options.api_url), force=options.force
        )
    except RegistrationFailed:
        key_file.unlink(missing_ok=True)
        raise
    return Registered(app, options.env_file, key_file)


async def exchange_code(api_url: str, code: str) -> NewApp:
    """Trade a manifest code for the App's id, key and webhook secret (once, within an hour)."""
    if not _CODE.fullmatch(code):
        raise RegistrationFailed("the callback's code is not one GitHub makes")
    try:
        async with GitHub(base_url=api_url, timeout=30.0, http_cache=False, auto_retry=False) as gh:
            response = await gh.rest.apps.async_create_from_manifest(code)
            data = response.parsed_data
    except RequestFailed as exc:
        status = exc.response.status_code
        raise RegistrationFailed(
            f"GitHub refused the manifest code ({status}): a code works once and for an hour; "
            "run `ambient app create` again"
        ) from None
    except RequestError as exc:
        raise RegistrationFailed(f"cannot reach {api_url} ({exc.exc}): check --api-url") from None
    except pydantic.ValidationError:
        raise RegistrationFailed(f"{api_url} answered the code with something not an App") from None
    slug = data.slug if isinstance(data.slug, str) else ""
    return NewApp(data.id, slug, data.name, data.html_url, data.pem, data.webhook_secret)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status)


class _Flow:
    """The two pages and the outcome they decide."""

    def __init__(self, options: CreateOptions, manifest: str, state: str) -> None:
        self.options = options
        self.manifest = manifest
        self.state = state
        self.outcome: asyncio.Future[Registered] = asyncio.get_running_loop().create_future()

    async def start(self, request: Request) -> Response:
        action = new_app_url(self.options.github_url, self.options.org, self.state)
        form = (
            f'<form id="register" method="post" action="{html.escape(action)}">'
            f'<input type="hidden" name="manifest" value="{html.escape(self.manifest)}">'
            "<p>Sending Ambient's manifest to GitHub…</p>"
            '<button type="submit">Register the App on GitHub</button></form>'
            '<script>document.getElementById("register").submit()</script>'
        )
        return _page("Register Ambient's GitHub App", form)

    def stopped(self, serving: object) -> None:
        """The local server ended: if GitHub has not answered yet, it never will."""
        if not self.outcome.done():
            failed = RegistrationFailed("stopped before GitHub answered; nothing was written")
            self.outcome.set_exception(failed)

    def _check_state(self, state: str) -> None:
        if not hmac.compare_digest(state.encode(), self.state.encode()):
            raise RegistrationFailed(
                "the callback's state does not match this run's: open the page this run "
                "printed, not one from an earlier run"
            )

    async def callback(self, request: Request) -> Response:
        if self.outcome.done():
            return _page("Already done", "<p>This run has finished; close this page.</p>", 409)
        try:
            self._check_state(request.query_params.get("state", ""))
            app = await exchange_code(self.options.api_url, request.query_params.get("code", ""))
            registered = write_credentials(self.options, app)
        except RegistrationFailed as exc:
            self.outcome.set_exception(exc)
            return _page("Registration failed", f"<p>{html.escape(str(exc))}</p>", 400)
        self.outcome.set_result(registered)
        link = html.escape(registered.install_url)
        return _page(
            f"{app.name} is registered",
            f"<p>Settings written to {html.escape(str(registered.env_file))}. "
            f'Now <a href="{link}">install the App</a> on your repositories.</p>',
        )


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise RegistrationFailed(f"cannot listen on 127.0.0.1:{port} ({exc.strerror})") from None
    return sock


async def register_app(options: CreateOptions, on_ready: Callable[[str], None]) -> Registered:
    """Run the manifest flow; `on_ready(url)` gets the local page to open in a browser.

    Returns once the callback wrote the settings; raises `RegistrationFailed` (or
    `ConfigError` for a bad app.yml) in one line, having written nothing.
    """
    path = find_app_yml(options.manifest)
    template = load_app_yml(path.read_text(encoding="utf-8"), str(path))
    _check_writable(options)
    sock = _listen(options.port)
    local = f"http://127.0.0.1:{sock.getsockname()[1]}"
    manifest = build_manifest(
        template,
        webhook_url=options.webhook_url,
        redirect_url=f"{local}/callback",
        name=options.name,
    )
    flow = _Flow(options, manifest_json(manifest), secrets.token_urlsafe(32))
    app = Starlette(
        routes=[
            Route("/", flow.start, methods=["GET"]),
            Route("/callback", flow.callback, methods=["GET"]),
        ]
    )
    config = uvicorn.Config(
        app, log_config=None, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if serving.done():
                raise RegistrationFailed(f"the local page on {local} did not start")
            await asyncio.sleep(0.01)
        # The server also ends on Ctrl-C (uvicorn catches it): stop waiting then too.
        serving.add_done_callback(flow.stopped)
        on_ready(f"{local}/")
        try:
            return await asyncio.wait_for(flow.outcome, WAIT_S)
        except TimeoutError:
            raise RegistrationFailed(
                f"no answer from GitHub within {WAIT_S / 60:.0f} minutes"
            ) from None
    finally:
        server.should_exit = True
        await serving
        sock.close()
