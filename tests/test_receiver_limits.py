"""The receiver under hostile connections: oversized and slow requests are cut off with the
right status while signed deliveries keep being answered. Real uvicorn with the options of
`ambient serve`, a real Redis, loopback only, every loop bounded."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from tests.fixtures.ingress import Receiver
from tests.fixtures.redis import RedisServer

LIMITS = {
    "AMBIENT_RECEIVER_HEADER_BYTES": "8192",
    "AMBIENT_RECEIVER_HEADER_COUNT": "20",
    "AMBIENT_RECEIVER_HEADER_TIMEOUT_S": "0.5",
    "AMBIENT_RECEIVER_BODY_TIMEOUT_S": "0.5",
}
PING = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()


@pytest.fixture
def guarded(receiver_factory: Callable[..., Receiver], redis_server: RedisServer) -> Receiver:
    return receiver_factory(redis_server, **LIMITS)


def _connect(receiver: Receiver) -> socket.socket:
    parts = urlsplit(receiver.url)
    assert parts.hostname == "127.0.0.1"
    return socket.create_connection((parts.hostname, parts.port or 80), timeout=10)


def _answer(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (or 10 s pass)."""
    chunks = []
    sock.settimeout(10)
    try:
        while data := sock.recv(65536):
            chunks.append(data)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)


def test_an_oversized_header_block_gets_431_before_it_is_read_whole(guarded: Receiver) -> None:
    sock = _connect(guarded)
    sent = 0
    sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")
    try:
        for _ in range(64 * 1024):  # up to 64 MiB, in 1 KiB header lines
            sock.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")
            sent += 1012
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = _answer(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large")
    assert b"request headers over 8192 bytes" in answer
    # The server stopped reading long before the 64 MiB were sent.
    assert sent < 8 * 1024 * 1024


def test_too_many_headers_get_431(guarded: Receiver) -> None:
    sock = _connect(guarded)
    lines = b"".join(b"X-%d: 1\r\n" % n for n in range(30))
    sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
    answer = _answer(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 431")
    assert b"more than 20 request headers" in answer


def test_slow_headers_and_silent_connections_are_closed_while_deliveries_go_on(
    guarded: Receiver,
) -> None:
    slow = [_connect(guarded) for _ in range(50)]
    silent = [_connect(guarded) for _ in range(50)]
    for sock in slow:
        sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")
    answered = []
    for n in range(5):
        answered.append(guarded.deliver("ping", PING, f"limits-{n}").status_code)
    started = time.monotonic()
    answers = []
    for sock in slow + silent:
        answers.append(_answer(sock))
        sock.close()
    waited = time.monotonic() - started
    assert answered == [202] * 5 or all(code in (200, 202) for code in answered)
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers)
    assert b"request headers did not arrive within 0.5 s" in answers[0]
    assert waited < 10


def test_a_slow_body_gets_408(guarded: Receiver) -> None:
    sock = _connect(guarded)
    sock.sendall(
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"zen":'
    )
    answer = _answer(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"the request body did not arrive within 0.5 s" in answer


def test_a_signed_body_nested_too_deep_is_a_400(guarded: Receiver) -> None:
    deep = b'{"a":' * 1000 + b"1" + b"}" * 1000
    body = b'{"action":"created","comment":' + deep + b"}"
    response = guarded.deliver("issue_comment", body, "deep-1")
    assert response.status_code == 400
    assert "nests JSON deeper than any GitHub payload" in response.text


def test_keep_alive_requests_still_work_under_the_guard(guarded: Receiver) -> None:
    codes = [guarded.deliver("ping", PING, f"keep-{n}").status_code for n in range(20)]
    assert len(set(codes)) == 1
    assert codes[0] in (200, 202)


def test_concurrent_slow_clients_do_not_starve_a_thread_of_deliveries(guarded: Receiver) -> None:
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            sock = _connect(guarded)
            sock.sendall(b"POST /webhook HTTP/1.1\r\n")
            _answer(sock)
            sock.close()

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        codes = [guarded.deliver("ping", PING, f"busy-{n}").status_code for n in range(10)]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert all(code in (200, 202) for code in codes)
