"""The second baseline for bench/ingress.py: the least a receiver that loses nothing can do.

It checks the signature, parses the body, and batches the deliveries that arrive while the
previous batch is in Redis into one pipelined write (SET NX for the delivery, the body under a
job key, the queue entry) before answering 202. It has no routing, no atomic
dedupe-and-enqueue, no arq job encoding, no metrics and no log context: the ingress budget was
calibrated on a receiver of this kind, so running it in the same run shows what that budget
means on the machine at hand.

Usage: _reference_receiver.py PORT REDIS_URL SECRET
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import sys
import time

import orjson
import uvicorn
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DELIVERY_TTL_S = 72 * 3600
JOB_TTL_MS = 24 * 3600 * 1000


class BatchedWriter:
    """One batch in Redis at a time; whatever arrives meanwhile forms the next one."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._pending: list[tuple[str, bytes, asyncio.Future[None]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def write(self, delivery: str, body: bytes) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((delivery, body, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            pipe = self._redis.pipeline(transaction=False)
            for delivery, body, _ in batch:
                pipe.set(f"ambient:delivery:{delivery}", 1, nx=True, ex=DELIVERY_TTL_S)
                pipe.psetex(f"arq:job:{delivery}", JOB_TTL_MS, body)
                pipe.zadd("arq:queue", {delivery: time.time() * 1000})
            try:
                await pipe.execute()
            except Exception as exc:  # every waiter learns of the failure, whatever it was
                for _, _, future in batch:
                    future.set_exception(exc)
                continue
            for _, _, future in batch:
                future.set_result(None)


def create_app(redis_url: str, secret: bytes) -> Starlette:
    writer = BatchedWriter(Redis.from_url(redis_url))

    async def webhook(request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-hub-signature-256", ""), expected):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            return JSONResponse({"error": "not JSON"}, status_code=400)
        delivery = request.headers.get("x-github-delivery", "")
        await writer.write(delivery, body)
        return JSONResponse({"queued": [delivery]}, status_code=202)

    return Starlette(routes=[Route("/webhook", webhook, methods=["POST"])])


if __name__ == "__main__":
    port, redis_url, secret = sys.argv[1], sys.argv[2], sys.argv[3]
    uvicorn.run(
        create_app(redis_url, secret.encode()),
        host="127.0.0.1",
        port=int(port),
        access_log=False,
        log_config=None,
        server_header=False,
    )
