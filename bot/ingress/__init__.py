"""The webhook receiver: verify the signature, drop redeliveries, route, enqueue, answer 202.

`web` is the starlette app, `enqueue` writes a batch of deliveries and their jobs to Redis in
one atomic step, and `redis_pipe` is the pipelined connection those batches travel on.
"""

from __future__ import annotations

from bot.ingress.web import create_app

__all__ = ["create_app"]
