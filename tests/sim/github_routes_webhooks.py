"""Webhook delivery: signed POSTs to the receiver, the delivery log, and redelivery."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import ssl
import time
import uuid
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.github_auth import Refused, need_app
from tests.sim.github_context import Sim, body_json, sim_of
from tests.sim.github_state import Delivery, iso
from tests.sim.github_webhooks import build_payload

__all__ = ["ROUTES", "deliver"]

JSON = dict[str, Any]
HOOK_ID = 109948940


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default context, built once: building it per delivery took ~50 ms."""
    return httpx.create_ssl_context()


def _signed_headers(sim: Sim, event: str, guid: str, body: bytes) -> dict[str, str]:
    state = sim.state
    secret = (state.webhook_hook_secret or state.webhook_secret).encode()
    return {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/4c5d5c1",
        "X-GitHub-Delivery": guid,
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(HOOK_ID),
        "X-GitHub-Hook-Installation-Target-ID": str(state.app_id),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        # sha1 is still sent for old receivers; sha256 is the one to check
        "X-Hub-Signature": "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest(),
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
    }


async def deliver(
    sim: Sim,
    event: str,
    payload: JSON,
    guid: str | None = None,
    body: bytes | None = None,
    redelivery: bool = False,
) -> Delivery:
    """POST one event to the configured receiver and log the delivery, whatever happened."""
    state = sim.state
    guid = guid or str(uuid.uuid4())
    raw = body if body is not None else json.dumps(payload, separators=(",", ":")).encode()
    headers = _signed_headers(sim, event, guid, raw)
    started = time.monotonic()
    status_code, response_headers, response_body = 0, {}, ""
    if state.webhook_url:
        try:
            async with httpx.AsyncClient(timeout=10.0, verify=_tls()) as client:
                resp = await client.post(state.webhook_url, content=raw, headers=headers)
            status_code = resp.status_code
            response_headers = dict(resp.headers)
            response_body = resp.text
        except httpx.HTTPError as exc:
            response_body = f"failed to connect to host: {type(exc).__name__}"
    repo = payload.get("repository")
    inst = payload.get("installation")
    delivery = Delivery(
        id=state.next_id() * 1000 + 7,
        guid=guid,
        event=event,
        action=payload.get("action"),
        installation_id=inst.get("id") if isinstance(inst, dict) else None,
        repository_id=repo.get("id") if isinstance(repo, dict) else None,
        delivered_at=time.time(),
        status_code=status_code,
        duration=round(time.monotonic() - started, 3),
        redelivery=redelivery,
        request_headers=headers,
        body=raw,
        response_headers=response_headers,
        response_body=response_body,
    )
    state.deliveries.append(delivery)
    return delivery


def _status(delivery: Delivery) -> str:
    if 200 <= delivery.status_code < 300:
        return "OK"
    if delivery.status_code == 0:
        return delivery.response_body or "failed to connect to host"
    return f"Invalid HTTP Response: {delivery.status_code}"


def delivery_item(delivery: Delivery) -> JSON:
    return {
        "id": delivery.id,
        "guid": delivery.guid,
        "delivered_at": iso(delivery.delivered_at),
        "redelivery": delivery.redelivery,
        "duration": delivery.duration,
        "status": _status(delivery),
        "status_code": delivery.status_code,
        "event": delivery.event,
        "action": delivery.action,
        "installation_id": delivery.installation_id,
        "repository_id": delivery.repository_id,
        "throttled_at": None,
    }


async def set_webhook(request: Request) -> Response:
    state = sim_of(request).state
    body = await body_json(request)
    state.webhook_url = body.get("url")
    state.webhook_hook_secret = body.get("secret")
    return JSONResponse({"url": state.webhook_url})


async def emit(request: Request) -> Response:
    sim = sim_of(request)
    body = await body_json(request)
    event = str(body.get("event", ""))
    payload = body.get("payload")
    if payload is None:
        async with sim.state.lock:
            payload = await build_payload(sim, event, dict(body.get("kwargs") or {}))
    delivery = await deliver(sim, event, payload)
    return JSONResponse({**delivery_item(delivery), "payload": payload}, status_code=201)


async def sim_deliveries(request: Request) -> Response:
    items = []
    for d in reversed(sim_of(request).state.deliveries):
        items.append(
            {
                **delivery_item(d),
                "request_headers": d.request_headers,
                "body": d.body.decode(),
                "response_body": d.response_body,
            }
        )
    return JSONResponse(items)


async def list_deliveries(request: Request) -> Response:
    sim = sim_of(request)
    need_app(request, sim.state, sim.public_key)
    try:
        per_page = max(1, min(100, int(request.query_params.get("per_page", "30"))))
    except ValueError:
        raise Refused(400, "Bad request") from None
    cursor = request.query_params.get("cursor")
    items = sorted(sim.state.deliveries, key=lambda d: -d.id)
    status = request.query_params.get("status")
    if status in ("success", "failure"):
        items = [d for d in items if (200 <= d.status_code < 300) == (status == "success")]
    if cursor:
        try:
            before = int(cursor.removeprefix("v1_"))
        except ValueError:
            raise Refused(422, "Validation Failed: cursor is not valid") from None
        items = [d for d in items if d.id < before]
    chunk = items[:per_page]
    headers = {}
    if len(items) > per_page:
        nxt = request.url.include_query_params(per_page=per_page, cursor=f"v1_{chunk[-1].id}")
        headers["Link"] = f'<{nxt}>; rel="next"'
    return JSONResponse([delivery_item(d) for d in chunk], headers=headers)


def _find(sim: Sim, request: Request) -> Delivery:
    wanted = int(request.path_params["delivery_id"])
    found = next((d for d in sim.state.deliveries if d.id == wanted), None)
    if found is None:
        raise Refused(404, "Not Found")
    return found


async def get_delivery(request: Request) -> Response:
    sim = sim_of(request)
    need_app(request, sim.state, sim.public_key)
    d = _find(sim, request)
    return JSONResponse(
        {
            **delivery_item(d),
            "url": sim.state.webhook_url or "",
            "request": {"headers": d.request_headers, "payload": json.loads(d.body)},
            "response": {"headers": d.response_headers, "payload": d.response_body},
        }
    )


async def redeliver(request: Request) -> Response:
    sim = sim_of(request)
    need_app(request, sim.state, sim.public_key)
    d = _find(sim, request)
    # a redelivery keeps the GUID and the exact bytes, and is flagged as such
    await deliver(sim, d.event, json.loads(d.body), guid=d.guid, body=d.body, redelivery=True)
    return JSONResponse({}, status_code=202)


ROUTES = [
    Route("/_sim/webhook", set_webhook, methods=["PUT"]),
    Route("/_sim/emit", emit, methods=["POST"]),
    Route("/_sim/deliveries", sim_deliveries, methods=["GET"]),
    Route("/app/hook/deliveries", list_deliveries, methods=["GET"]),
    Route("/app/hook/deliveries/{delivery_id:int}", get_delivery, methods=["GET"]),
    Route("/app/hook/deliveries/{delivery_id:int}/attempts", redeliver, methods=["POST"]),
]
