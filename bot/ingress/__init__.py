"""The webhook receiver: verify the signature, drop redeliveries, route, enqueue, answer 202.

`web` is the starlette app, `enqueue` writes a batch of deliveries and their jobs to Redis in
one atomic step, `redis_pipe` is the pipelined connection those batches travel on, and `guard`
bounds what a connection may cost before a request reaches the app.
"""

from __future__ import annotations

from bot.ingress.guard import ReceiverLimits, guarded_protocol, server_options
from bot.ingress.web import create_app

__all__ = ["ReceiverLimits", "create_app", "guarded_protocol", "server_options"]
