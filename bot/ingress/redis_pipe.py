"""One pipelined connection to Redis for the receiver's enqueue batches.

Why not redis-py here, as everywhere else: its asyncio pipeline spends about 140 µs of Python
on each round trip (packing, a pool checkout, one coroutine and one timeout per reply), as much
as the rest of a delivery, and the receiver makes a round trip for every batch it stores
(bench/ingress.py). This connection writes a whole batch at once, handing its long arguments
(the encoded jobs) to the socket without copying them, reads the replies with hiredis, the C
parser redis-py itself uses, and sends the next batches without waiting for the earlier ones'
replies. It takes its address, credentials, database, TLS settings and timeouts from a redis-py
client, so both reach the same server the same way; it speaks RESP2 whatever the client does.

Failures are redis-py's exceptions, so callers handle both alike: a refused or lost connection
is a `ConnectionError`, a server that stops answering a `TimeoutError` (the connection is then
dropped, since its replies can no longer be matched to requests), an error reply is returned as
a `ResponseError` in its place. The next call after a failure connects again.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import ssl
from collections.abc import Sequence
from typing import Final, cast

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["Arg", "PipelinedConnection", "RedisAddress"]

#: A command argument; a tuple of bytes is one argument sent in pieces, never joined in memory.
Arg = bytes | str | int | tuple[bytes, ...]
DEFAULT_TIMEOUT_S: Final = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class RedisAddress:
    """Where a Redis is and how to log in to it."""

    host: str = "localhost"
    port: int = 6379
    path: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = None
    ssl_context: ssl.SSLContext | None = None
    connect_timeout_s: float = DEFAULT_TIMEOUT_S
    reply_timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def of(cls, client: Redis) -> RedisAddress:
        """The address a redis-py client connects to, as its own connections resolve it."""
        template: AbstractConnection = client.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        reply_timeout = template.socket_timeout or DEFAULT_TIMEOUT_S
        login = cls(
            db=int(template.db),
            username=template.username,
            password=template.password,
            connect_timeout_s=template.socket_connect_timeout or reply_timeout,
            reply_timeout_s=reply_timeout,
        )
        if isinstance(template, UnixDomainSocketConnection):
            return dataclasses.replace(login, path=template.path)
        if not isinstance(template, Connection):
            raise TypeError(f"unsupported Redis connection class {type(template).__name__}")
        context = template.ssl_context.get() if isinstance(template, SSLConnection) else None
        return dataclasses.replace(
            login, host=template.host, port=template.port, ssl_context=context
        )

    def describe(self) -> str:
        return self.path or f"{self.host}:{self.port}"


# Arguments longer than this (the encoded jobs) are handed to the socket as they are, not copied
# into the command around them.
SEPARATE_ARG_BYTES: Final = 4096


def _pack(commands: Sequence[Sequence[Arg]]) -> list[bytes]:
    """The commands in RESP, as buffers for one writelines()."""
    buffers: list[bytes] = []
    pending: list[bytes] = []
    for command in commands:
        pending.append(b"*%d\r\n" % len(command))
        for arg in command:
            if isinstance(arg, tuple):
                pieces = arg
            else:
                pieces = (arg if isinstance(arg, bytes) else str(arg).encode(),)
            pending.append(b"$%d\r\n" % sum(map(len, pieces)))
            for piece in pieces:
                if len(piece) > SEPARATE_ARG_BYTES:
                    buffers += (b"".join(pending), piece)
                    pending = []
                else:
                    pending.append(piece)
            pending.append(b"\r\n")
    buffers.append(b"".join(pending))
    return buffers


class _Replies(asyncio.Protocol):
    """Reads replies off the wire and hands each request its own, in the order sent."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._reader = hiredis.Reader(replyError=ResponseError)
        # Per request in flight: how many replies it awaits, those read so far, its future.
        self._waiting: collections.deque[tuple[int, list[object], asyncio.Future[list[object]]]]
        self._waiting = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def send(self, packed: list[bytes], count: int) -> asyncio.Future[list[object]]:
        if self.transport is None or self.closed:
            raise RedisConnectionError(f"connection to redis at {self._address} is closed")
        future: asyncio.Future[list[object]] = asyncio.get_running_loop().create_future()
        self._waiting.append((count, [], future))
        self.transport.writelines(packed)
        return future

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                self.abort(RedisConnectionError(f"redis at {self._address} sent garbage: {exc}"))
                return
            if reply is False:
                return
            if not self._waiting:
                self.abort(RedisConnectionError(f"redis at {self._address} sent an unasked reply"))
                return
            count, replies, future = self._waiting[0]
            replies.append(reply)
            if len(replies) == count:
                self._waiting.popleft()
                if not future.done():
                    future.set_result(replies)

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else ""
        self._fail(RedisConnectionError(f"connection to redis at {self._address} lost{reason}"))

    def abort(self, error: Exception) -> None:
        """Fail every request in flight with `error` and drop the connection."""
        self._fail(error)
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: Exception) -> None:
        self.closed = True
        while self._waiting:
            _, _, future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)


class PipelinedConnection:
    """Send lists of commands and get their replies; concurrent calls share one connection."""

    def __init__(self, address: RedisAddress) -> None:
        self._address = address
        self._protocol: _Replies | None = None
        self._connecting: asyncio.Task[_Replies] | None = None

    @classmethod
    def like(cls, client: Redis) -> PipelinedConnection:
        return cls(RedisAddress.of(client))

    async def execute(self, commands: Sequence[Sequence[Arg]]) -> list[object]:
        """Send `commands` at once and return their replies in order.

        An error reply comes back as a `ResponseError` in its place (inside EXEC's array too);
        the connection fails with `ConnectionError` or `TimeoutError`.
        """
        protocol = await self._connected()
        future = protocol.send(_pack(commands), len(commands))
        return await self._within_timeout(protocol, future)

    async def aclose(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        if self._protocol is not None:
            self._protocol.abort(RedisConnectionError("connection closed"))
            self._protocol = None

    async def __aenter__(self) -> PipelinedConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _within_timeout(
        self, protocol: _Replies, future: asyncio.Future[list[object]]
    ) -> list[object]:
        # A timer on the loop rather than asyncio.timeout(): this is the receiver's hot path,
        # and the timer costs a third as much.
        timeout_s = self._address.reply_timeout_s
        timer = asyncio.get_running_loop().call_later(
            timeout_s,
            protocol.abort,
            RedisTimeoutError(f"redis at {self._address.describe()} gave no reply in {timeout_s}s"),
        )
        try:
            return await future
        finally:
            timer.cancel()

    async def _connected(self) -> _Replies:
        protocol = self._protocol
        if protocol is not None and not protocol.closed:
            return protocol
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
        try:
            # shield: one caller's cancellation must not cancel the others' connection.
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _connect(self) -> _Replies:
        address = self._address
        where = address.describe()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(address.connect_timeout_s):
                if address.path is not None:
                    _, protocol = await loop.create_unix_connection(
                        lambda: _Replies(where), address.path
                    )
                else:
                    _, protocol = await loop.create_connection(
                        lambda: _Replies(where),
                        address.host,
                        address.port,
                        ssl=address.ssl_context,
                    )
        except OSError as exc:  # TimeoutError is one too
            detail = str(exc) or f"no answer in {address.connect_timeout_s}s"
            raise RedisConnectionError(f"cannot connect to redis at {where}: {detail}") from None
        handshake = self._handshake()
        if handshake:
            replies = await self._within_timeout(
                protocol, protocol.send(_pack(handshake), len(handshake))
            )
            refusals = [reply for reply in replies if isinstance(reply, ResponseError)]
            if refusals:
                protocol.abort(RedisConnectionError("connection closed"))
                raise RedisConnectionError(f"redis at {where} refused the login: {refusals[0]}")
        self._protocol = protocol
        return protocol

    def _handshake(self) -> list[tuple[Arg, ...]]:
        address = self._address
        commands: list[tuple[Arg, ...]] = []
        if address.password:
            login = (address.username,) if address.username else ()
            commands.append(("AUTH", *login, address.password))
        if address.db:
            commands.append(("SELECT", address.db))
        return commands
