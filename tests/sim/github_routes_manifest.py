"""GitHub's side of the App manifest flow: the new-App pages and the code conversion.

`POST /settings/apps/new` (or `/organizations/{org}/settings/apps/new`) takes the browser's
form with its `manifest` field, checks it the way GitHub does (a 422 page naming the error)
and, as if the person had clicked "Create GitHub App", redirects to the manifest's
`redirect_url` with `code` and `state`. `POST /app-manifests/{code}/conversions` trades a code
(once, within an hour) for the App and its credentials, and the new App becomes the
simulator's App: the old one's installations and tokens are gone, its key no longer signs.
Register Apps on a private simulator (`github_sim_factory`), never the session's shared one.

GitHub's wording on its error page is not published; the messages here follow what people
report seeing ("Default events unsupported: installation").
"""

from __future__ import annotations

import html
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from githubkit_schemas.latest.webhooks import VALID_EVENT_NAMES
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.sim.github_auth import Refused
from tests.sim.github_context import Sim, sim_of
from tests.sim.github_payloads import app_json, user_json

__all__ = ["ROUTES", "WEB_PATHS"]

CODE_TTL_S: Final = 3600
ALWAYS_SENT: Final = frozenset({"installation", "installation_repositories"})
# Which permission lets an App subscribe to an event; either one of a tuple will do.
EVENT_PERMISSIONS: Final[dict[str, tuple[str, ...]]] = {
    "check_run": ("checks",),
    "check_suite": ("checks",),
    "issue_comment": ("issues", "pull_requests"),
    "issues": ("issues",),
    "pull_request": ("pull_requests",),
    "pull_request_review": ("pull_requests",),
    "pull_request_review_comment": ("pull_requests",),
    "push": ("contents",),
    "workflow_run": ("actions",),
    "workflow_job": ("actions",),
    "status": ("statuses",),
}
_LEVELS: Final = frozenset({"read", "write", "admin"})
#: The browser pages: GitHub's web host, not its REST API.
WEB_PATHS: Final = frozenset({"/settings/apps/new", "/organizations/{org}/settings/apps/new"})


@dataclass
class Pending:
    """A manifest the person confirmed, waiting for its code to be converted."""

    manifest: dict[str, Any]
    owner: str
    created_at: float
    for_org: bool
    used: bool = False


def _pending(request: Request) -> dict[str, Pending]:
    codes: dict[str, Pending] | None = getattr(request.app.state, "manifest_codes", None)
    if codes is None:
        codes = {}
        request.app.state.manifest_codes = codes
    return codes


def _taken(request: Request) -> set[str]:
    names: set[str] | None = getattr(request.app.state, "manifest_names", None)
    if names is None:
        names = set()
        request.app.state.manifest_names = names
    return names


def slug_for(name: str) -> str:
    """GitHub's slug of an App name: lower case, runs of other characters become one dash."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _event_errors(events: list[Any], permissions: dict[str, Any]) -> list[str]:
    unsupported = [e for e in events if e in ALWAYS_SENT or e not in VALID_EVENT_NAMES]
    if unsupported:
        return [f"Default events unsupported: {', '.join(map(str, unsupported))}"]
    uncovered = [
        e
        for e in events
        if e in EVENT_PERMISSIONS and not any(p in permissions for p in EVENT_PERMISSIONS[e])
    ]
    if uncovered:
        return [f"Default events are not supported by permissions: {', '.join(uncovered)}"]
    return []


def manifest_errors(manifest: object, taken: set[str]) -> list[str]:
    """What GitHub would refuse in a manifest, or nothing."""
    if not isinstance(manifest, dict):
        return ["The manifest is not a JSON object"]
    errors: list[str] = []
    if not manifest.get("url"):
        errors.append("Url can't be blank")
    hook = manifest.get("hook_attributes")
    if not isinstance(hook, dict) or not hook.get("url"):
        errors.append("Hook url can't be blank")
    if not manifest.get("redirect_url"):
        errors.append("Redirect url can't be blank")
    name = str(manifest.get("name") or "")
    if not name.strip():
        errors.append("Name can't be blank")
    elif slug_for(name) in taken:
        errors.append("Name has already been taken")
    permissions = manifest.get("default_permissions") or {}
    if not isinstance(permissions, dict) or any(v not in _LEVELS for v in permissions.values()):
        errors.append("Default permissions are invalid")
        permissions = {}
    events = manifest.get("default_events") or []
    if not isinstance(events, list):
        return [*errors, "Default events must be a list"]
    return errors + _event_errors(events, permissions)


def _refused_page(errors: list[str]) -> HTMLResponse:
    items = "".join(f"<li>Error: {html.escape(e)}</li>" for e in errors)
    return HTMLResponse(
        "<!doctype html><html><body><h1>Invalid GitHub App configuration</h1>"
        "<p>The configuration does not appear to be a valid GitHub App manifest.</p>"
        f"<ul>{items}</ul></body></html>",
        status_code=422,
    )


async def new_app(request: Request) -> Response:
    """The person confirms the manifest at once: redirect with a fresh code, or a 422 page."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    try:
        manifest = json.loads(form.get("manifest", [""])[0])
    except ValueError:
        return _refused_page(["The manifest is not valid JSON"])
    taken = _taken(request) | {sim_of(request).state.app_slug}
    errors = manifest_errors(manifest, taken)
    if errors:
        return _refused_page(errors)
    code = secrets.token_hex(10)
    org = request.path_params.get("org")
    _pending(request)[code] = Pending(manifest, org or "ambient-dev", time.time(), org is not None)
    query = {"code": code}
    state = request.query_params.get("state")
    if state is not None:
        query["state"] = state
    redirect = str(manifest["redirect_url"])
    joiner = "&" if "?" in redirect else "?"
    return RedirectResponse(f"{redirect}{joiner}{urlencode(query)}", status_code=302)


def _new_key() -> tuple[str, rsa.RSAPrivateKey]:
    # imported here: tests.sim.github imports this module to register its routes
    from tests.sim.github import new_private_key

    pem = new_private_key()
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return pem, key


async def convert(request: Request) -> Response:
    """The App from a confirmed manifest; it replaces the simulator's App."""
    pending = _pending(request).get(request.path_params["code"])
    if pending is None or pending.used or time.time() - pending.created_at > CODE_TTL_S:
        raise Refused(404, "Not Found")
    pending.used = True
    manifest = pending.manifest
    old = sim_of(request)
    state = old.state
    pem, key = _new_key()
    secret = secrets.token_hex(20)
    hook = manifest["hook_attributes"]
    async with state.lock:
        state.app_id = state.next_id()
        state.app_slug = slug_for(str(manifest["name"]))
        state.webhook_secret = secret
        state.app_permissions = {"metadata": "read", **manifest.get("default_permissions", {})}
        state.installations.clear()
        state.tokens.clear()
        state.webhook_url = str(hook["url"]) if hook.get("active", True) else None
        state.webhook_hook_secret = None
        request.app.state.sim = Sim(state=state, public_key=key.public_key(), private_key_pem=pem)
    _taken(request).add(state.app_slug)
    owner = state.user(pending.owner)
    if pending.for_org:
        owner.type = "Organization"
    body = {
        **app_json(state),
        "name": str(manifest["name"]),
        "description": manifest.get("description"),
        "external_url": str(manifest["url"]),
        "owner": user_json(state, owner),
        "events": list(manifest.get("default_events", [])),
        "client_id": f"Iv23{secrets.token_hex(8)}",
        "client_secret": secrets.token_hex(20),
        "webhook_secret": secret,
        "pem": pem,
    }
    return JSONResponse(body, status_code=201)


async def expire(request: Request) -> Response:
    """Test control: age a code past GitHub's hour."""
    pending = _pending(request).get(request.path_params["code"])
    if pending is None:
        raise Refused(404, "Not Found")
    pending.created_at -= CODE_TTL_S + 1
    return JSONResponse({"expired": True})


ROUTES = [
    Route("/settings/apps/new", new_app, methods=["POST"]),
    Route("/organizations/{org}/settings/apps/new", new_app, methods=["POST"]),
    Route("/app-manifests/{code}/conversions", convert, methods=["POST"]),
    Route("/_sim/app-manifests/{code}/expire", expire, methods=["POST"]),
]
