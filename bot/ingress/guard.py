"""Bounds on what a connection to the receiver may cost before the app sees a request.

uvicorn (with httptools) reads headers without a size bound or a deadline: a 64 MiB header
block was read whole before the 401, and slow connections stayed open for good. This protocol
is uvicorn's own with four checks added, all before anything proportional to the input is kept:

- header bytes: past `header_bytes` without the end of the headers → 431, and the connection
  closes (the parser holds at most one read beyond the bound);
- header count: more than `header_count` → 431;
- header deadline: the headers of a request must arrive within `header_timeout_s` of its
  first byte (of the connection, for the first request) → 408;
- body deadline: the body must arrive within `body_timeout_s` of the headers → 408.

The body's size is the app's to refuse (413, `AMBIENT_MAX_BODY_BYTES`), from the declared
length before reading it. Idle keep-alive and concurrent connections are uvicorn's own
settings (`timeout_keep_alive`, `limit_concurrency`), set from the same settings.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.config import Settings

__all__ = ["GuardedProtocol", "ReceiverLimits", "guarded_protocol", "server_options"]

_REASONS: Final = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


@dataclass(frozen=True, slots=True)
class ReceiverLimits:
    """What one connection may send, and how slowly."""

    header_bytes: int = 64 * 1024
    header_count: int = 100
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0


def _response(status: int, message: str) -> bytes:
    text = message.encode()
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s"
        % (status, _REASONS[status], len(text), text)
    )


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `limits` enforced (see the module docstring)."""

    limits: ClassVar[ReceiverLimits] = ReceiverLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_headers = True
        self._header_bytes = 0
        self._header_count = 0
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s, "request headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._in_headers and not self._refused:
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.header_bytes:
                self._refuse(431, f"request headers over {self.limits.header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers, self._header_bytes, self._header_count = True, 0, 0
        if self._deadline is None:
            self._arm(self.limits.header_timeout_s, "request headers")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.header_count:
            self._refuse(431, f"more than {self.limits.header_count} request headers")
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_headers = False
        self._disarm()
        super().on_headers_complete()
        self._arm(self.limits.body_timeout_s, "the request body")

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, what, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, what: str, seconds: float) -> None:
        self._deadline = None
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()
            return
        self._refuse(408, f"{what} did not arrive within {seconds:g} s")

    def _refuse(self, status: int, message: str) -> None:
        self._refused = True
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(_response(status, message))
            self.transport.close()


def guarded_protocol(limits: ReceiverLimits) -> type[HttpToolsProtocol]:
    """The guarded protocol with `limits` (pass it to uvicorn as `http=`)."""
    return type("GuardedProtocol", (GuardedProtocol,), {"limits": limits})


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for `ambient serve`: the guarded protocol and the connection bounds."""
    limits = ReceiverLimits(
        header_bytes=settings.receiver_header_bytes,
        header_count=settings.receiver_header_count,
        header_timeout_s=settings.receiver_header_timeout_s,
        body_timeout_s=settings.receiver_body_timeout_s,
    )
    return {
        "http": guarded_protocol(limits),
        "timeout_keep_alive": settings.receiver_keepalive_s,
        "limit_concurrency": settings.receiver_max_connections,
        "access_log": False,
        "log_config": None,
        "server_header": False,
    }
