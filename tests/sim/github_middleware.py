"""Every request through the simulator: fault injection, GitHub's headers, and the request log."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from http import HTTPStatus
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.sim.github_state import Fault, SimState

__all__ = ["SimMiddleware", "redact"]

SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again. If you reach out to GitHub Support for help, please include the request ID {rid}."
)
SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)


def redact(value: str) -> str:
    """An Authorization value cut to its scheme and the first characters of its credential."""
    scheme, _, credential = value.partition(" ")
    if not credential:
        return scheme[:4] + "…"
    return f"{scheme} {credential[:8]}…"


def _take_fault(state: SimState, method: str, path: str) -> Fault | None:
    for fault in state.faults:
        if fault.method in ("*", method) and fault.path.search(path):
            fault.times -= 1
            if fault.times <= 0:
                state.faults.remove(fault)
            return fault
    return None


def _fault_answer(fault: Fault, rid: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    headers = {k.lower(): v for k, v in fault.headers.items()}
    if fault.body is not None:
        body: dict[str, Any] = fault.body
    elif fault.status in (403, 429) and (fault.retry_after is not None or fault.status == 429):
        body = {
            "message": SECONDARY.format(rid=rid),
            "documentation_url": SECONDARY_DOCS,
            "status": str(fault.status),
        }
    else:
        try:
            phrase = HTTPStatus(fault.status).phrase
        except ValueError:
            phrase = "Error"
        body = {
            "message": phrase,
            "documentation_url": "https://docs.github.com/rest",
            "status": str(fault.status),
        }
    if fault.retry_after is not None:
        headers["retry-after"] = str(
            int(fault.retry_after)
            if fault.retry_after == int(fault.retry_after)
            else fault.retry_after
        )
    headers.setdefault("content-type", "application/json; charset=utf-8")
    raw = json.dumps(body).encode()
    pairs = [(k.encode(), v.encode()) for k, v in headers.items()]
    pairs.append((b"content-length", str(len(raw)).encode()))
    return raw, pairs


class SimMiddleware:
    """Pure ASGI, so git's streamed bodies pass through without being buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_sim/"):
            await self.app(scope, receive, send)
            return
        state: SimState = scope["app"].state.sim.state
        method: str = scope["method"]
        rid = secrets.token_hex(8).upper()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if "authorization" in headers:
            headers["authorization"] = redact(headers["authorization"])
        record: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": 0,
            "headers": headers,
            "json": None,
            "time": time.time(),
        }
        state.requests.append(record)
        fault = _take_fault(state, method, path)
        if fault is not None and fault.delay_s > 0:
            await asyncio.sleep(fault.delay_s)
        if fault is not None and fault.status:
            raw, pairs = _fault_answer(fault, rid)
            record["status"] = fault.status
            await send({"type": "http.response.start", "status": fault.status, "headers": pairs})
            await send({"type": "http.response.body", "body": raw})
            return
        await self._forward(scope, receive, send, record, rid)

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, record: dict[str, Any], rid: str
    ) -> None:
        body = bytearray()
        keep_body = not record["path"].startswith("/git/")

        async def tee() -> Message:
            msg = await receive()
            if keep_body and msg["type"] == "http.request":
                body.extend(msg.get("body", b""))
                if not msg.get("more_body"):
                    record["json"] = _maybe_json(bytes(body))
            return msg

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
                if keep_body:
                    version = record["headers"].get("x-github-api-version", "2022-11-28")
                    extra = _github_headers(rid, version)
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, tee, send_with_headers)


def _maybe_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _github_headers(rid: str, version: str) -> list[tuple[bytes, bytes]]:
    reset = str(int(time.time()) + 3600)
    pairs = {
        "x-github-request-id": rid,
        "x-github-api-version-selected": version,
        "x-github-media-type": "github.v3; format=json",
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
        "x-ratelimit-reset": reset,
        "x-ratelimit-used": "1",
        "x-ratelimit-resource": "core",
    }
    return [(k.encode(), v.encode()) for k, v in pairs.items()]
