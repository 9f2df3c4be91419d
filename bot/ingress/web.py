"""The webhook receiver: verify → dedupe → enqueue → 202, plus health and metrics endpoints.

Nothing slow happens here: payloads are parsed into typed models by the worker, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.config import Settings
from bot.errors import QueueUnavailable, SignatureInvalid, WebhookMalformed
from bot.events import JobSpec, RouteContext, parse_event, route_event, verify_signature
from bot.github import ALWAYS_SENT, EVENTS
from bot.ingress.enqueue import Enqueuer
from bot.ingress.redis_pipe import PipelinedConnection
from bot.telemetry import DELIVERIES, ENQUEUE_SECONDS, bound
from handlers import ROUTES

__all__ = ["WebhookReceiver", "create_app"]

log = logging.getLogger("ambient.web")

READY_TIMEOUT_S: Final = 1.0


class BodyTooLarge(Exception):
    """The request body exceeds the configured limit."""


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


# The metric label of refusals made before the signature is checked: until then the
# X-GitHub-Event header is anyone's to write, and labels taken from it would let strangers
# mint metric series without end. The log line still names the event the request claimed.
UNVERIFIED: Final = "unverified"
# The header is not signed either, so even after the check only the events GitHub sends this
# App (those it subscribes to, those every App gets, and the set-up ping) name their series.
LABELLED_EVENTS: Final = frozenset(EVENTS) | ALWAYS_SENT | {"ping"}
OTHER_EVENT: Final = "other"


@functools.cache
def _delivery_counter(event: str, outcome: str) -> Counter:
    """The series for one label pair; both come from small fixed sets, so the cache is too."""
    return DELIVERIES.labels(event=event, outcome=outcome)


def _answer(event: str, outcome: str, status: int, content: dict[str, object]) -> Response:
    """Count and answer a delivery whose signature was checked (its event may still be any
    name: the header is not signed)."""
    label = event if event in LABELLED_EVENTS else OTHER_EVENT
    return _respond(label, event, outcome, status, content)


def _claimed_event(headers: Headers) -> str:
    """The event the request says it is: unsigned, so for logs and checked labels only."""
    return headers.get("x-github-event", "unknown")[:64]


def _refuse(headers: Headers, outcome: str, status: int, error: str) -> Response:
    """Refuse a request before its signature is checked: counted as unverified, whatever it
    claims, and logged with the event it claimed."""
    return _respond(UNVERIFIED, _claimed_event(headers), outcome, status, {"error": error})


def _respond(
    label: str, event: str, outcome: str, status: int, content: dict[str, object]
) -> Response:
    _delivery_counter(label, outcome).inc()
    if status >= 400:
        log.warning("delivery refused: %s", content.get("error"), extra={"event": event})
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


@dataclass(frozen=True, slots=True)
class _Accepted:
    """What survives of a verified, routed delivery while it waits for Redis: not the payload."""

    event: str
    delivery_id: str
    jobs: tuple[JobSpec, ...]
    body: bytes


class WebhookReceiver:
    """POST /webhook: each step answers on its own failure, in the order GitHub expects."""

    def __init__(self, settings: Settings, enqueuer: Enqueuer) -> None:
        self._secrets = settings.webhook_secrets
        self._limit = settings.max_body_bytes
        self._enqueuer = enqueuer
        self._context = RouteContext(app_slug=settings.app_slug)

    async def handle(self, request: Request) -> Response:
        headers = request.headers
        with bound(delivery_id=headers.get("x-github-delivery", "")[:100]):
            try:
                body = await _read_body(request, self._limit)
            except BodyTooLarge:
                return _refuse(headers, "too_large", 413, f"body over {self._limit} bytes")
            accepted = self._accept(headers, body)
            if isinstance(accepted, Response):
                return accepted
            return await self._enqueue(accepted)

    def _accept(self, headers: Headers, body: bytes) -> _Accepted | Response:
        """Verify, parse and route in one step. The parsed payload is dropped when this returns,
        before the wait for Redis: freed while still in cache, its memory serves the next
        delivery's parse, instead of dozens of payloads lingering until their batch is stored."""
        try:
            verify_signature(self._secrets, body, headers.get("x-hub-signature-256"))
        except SignatureInvalid as exc:
            return _refuse(headers, "bad_signature", 401, str(exc))
        try:
            event = parse_event(headers, body)
        except WebhookMalformed as exc:
            return _answer(_claimed_event(headers), "malformed", 400, {"error": str(exc)})
        routed = route_event(event, self._context, ROUTES)
        if not routed.jobs:
            return _answer(event.name, "ignored", 200, {"ignored": routed.ignored})
        return _Accepted(event.name, event.delivery_id, routed.jobs, event.body)

    async def _enqueue(self, accepted: _Accepted) -> Response:
        started = time.perf_counter()
        try:
            outcome = await self._enqueuer.submit(
                accepted.delivery_id, accepted.jobs, accepted.body
            )
        except QueueUnavailable as exc:
            return _answer(accepted.event, "unavailable", 503, {"error": str(exc)})
        ENQUEUE_SECONDS.observe(time.perf_counter() - started)
        if outcome.duplicate:
            return _answer(accepted.event, "duplicate", 200, {"duplicate": True})
        content: dict[str, object] = {"queued": list(outcome.queued)}
        if outcome.existing:
            content["already_queued"] = list(outcome.existing)
        return _answer(accepted.event, "queued", 202, content)


class _WebhookFirst:
    """The whole app: a POST to /webhook goes straight to the receiver, the rest to starlette.

    Starlette's router and its two error middlewares cost each delivery about as much as its
    signature check (bench/ingress.py), and webhooks are nearly all the traffic. /webhook stays
    one of starlette's routes too, so what this does not take (another method, an app mounted
    under a root path) is answered as before; an error escaping the receiver is uvicorn's 500.
    """

    def __init__(self, receiver: WebhookReceiver, app: Starlette) -> None:
        self._receiver = receiver
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/webhook"
            and scope["method"] == "POST"
            and not scope.get("root_path")
        ):
            response = await self._receiver.handle(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def create_app(settings: Settings, redis: Redis | None = None) -> ASGIApp:
    """The receiver for `settings`; `redis` is made from `settings.redis_url` when not given."""
    if not settings.webhook_secrets:
        raise ValueError(
            "AMBIENT_WEBHOOK_SECRET is required: the receiver never skips verification"
        )
    client = redis or Redis.from_url(
        settings.redis_url, socket_connect_timeout=2.0, socket_timeout=5.0
    )
    connection = PipelinedConnection.like(client)
    receiver = WebhookReceiver(settings, Enqueuer(connection, delivery_ttl_s=settings.dedupe_ttl_s))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await asyncio.wait_for(client.ping(), READY_TIMEOUT_S)
        except (RedisError, OSError, TimeoutError) as exc:
            return JSONResponse(
                {"status": "unavailable", "error": f"redis unreachable: {exc}"}, status_code=503
            )
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Everything loaded at start-up lives as long as the process: keep it out of the
        # collector's sight, so collections triggered by parsed payloads stay short.
        gc.freeze()
        yield
        await connection.aclose()
        if redis is None:
            await client.aclose()

    app = Starlette(
        routes=[
            Route("/webhook", receiver.handle, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    return _WebhookFirst(receiver, app)
