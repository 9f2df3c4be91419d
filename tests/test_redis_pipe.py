"""The receiver's pipelined Redis connection against real redis-servers: every way a URL can
name one (TCP, a Unix socket, TLS, a password, a user, a database), replies matched to their
callers, and each way the server can fail the caller."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.ingress.redis_pipe import PipelinedConnection
from tests.fixtures.redis import RedisServer
from tests.support import free_port


async def _run(url: str, *commands: tuple[str | int, ...]) -> list[object]:
    client = Redis.from_url(url)
    try:
        async with PipelinedConnection.like(client) as connection:
            return await connection.execute(commands)
    finally:
        await client.aclose()


async def test_concurrent_callers_each_get_their_own_replies(redis_server: RedisServer) -> None:
    client = Redis.from_url(redis_server.url)
    async with PipelinedConnection.like(client) as connection:
        replies = await asyncio.gather(
            *(connection.execute([("ECHO", f"a{n}"), ("ECHO", f"b{n}")]) for n in range(200))
        )
    await client.aclose()
    assert replies == [[f"a{n}".encode(), f"b{n}".encode()] for n in range(200)]


async def test_an_error_reply_takes_its_place_and_the_connection_carries_on(
    redis_server: RedisServer,
) -> None:
    client = Redis.from_url(redis_server.url)
    async with PipelinedConnection.like(client) as connection:
        first = await connection.execute([("SET", "k", "text"), ("INCR", "k"), ("GET", "k")])
        second = await connection.execute([("PING",)])
    await client.aclose()
    assert first[0] == b"OK"
    assert isinstance(first[1], ResponseError)
    assert "not an integer" in str(first[1])
    assert first[2] == b"text"
    assert second == [b"PONG"]


async def test_it_logs_in_as_the_user_and_selects_the_database_the_url_names(
    redis_factory: Callable[..., RedisServer],
) -> None:
    server = redis_factory()
    admin = Redis.from_url(server.url)
    await admin.execute_command("ACL", "SETUSER", "ambient", "on", ">s3cret", "~*", "+@all")
    await admin.config_set("requirepass", "default-pw")
    url = f"redis://ambient:s3cret@127.0.0.1:{server.port}/3"
    assert await _run(url, ("SET", "where", "here"), ("ACL", "WHOAMI")) == [b"OK", b"ambient"]
    assert await _run(f"redis://:default-pw@127.0.0.1:{server.port}/0", ("PING",)) == [b"PONG"]
    db3 = Redis.from_url(f"redis://:default-pw@127.0.0.1:{server.port}/3")
    assert await db3.get("where") == b"here"
    await db3.aclose()
    await admin.aclose()


async def test_a_wrong_password_is_refused_in_one_line_that_does_not_repeat_it(
    redis_factory: Callable[..., RedisServer],
) -> None:
    server = redis_factory()
    admin = Redis.from_url(server.url)
    await admin.config_set("requirepass", "right-pw")
    await admin.aclose()
    with pytest.raises(RedisConnectionError) as caught:
        await _run(f"redis://:wrong-pw@127.0.0.1:{server.port}/0", ("PING",))
    message = str(caught.value)
    assert message.startswith(f"redis at 127.0.0.1:{server.port} refused the login")
    assert "wrong-pw" not in message
    assert "\n" not in message


async def test_a_unix_socket_url_reaches_the_server(
    redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    socket_path = tmp_path / "redis.sock"
    redis_factory("--unixsocket", str(socket_path), "--unixsocketperm", "700")
    assert await _run(f"unix://{socket_path}?db=2", ("SET", "k", "v"), ("GET", "k")) == [
        b"OK",
        b"v",
    ]


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "redis.crt", directory / "redis.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_a_rediss_url_speaks_tls_and_checks_the_servers_certificate(
    redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    cert, key = _self_signed_certificate(tmp_path)
    tls_port = free_port()
    redis_factory(
        "--tls-port",
        str(tls_port),
        "--tls-cert-file",
        str(cert),
        "--tls-key-file",
        str(key),
        "--tls-ca-cert-file",
        str(cert),
        "--tls-auth-clients",
        "no",
    )
    trusted = f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={cert}"
    assert await _run(trusted, ("PING",)) == [b"PONG"]
    with pytest.raises(RedisConnectionError, match="certificate verify failed"):
        await _run(f"rediss://127.0.0.1:{tls_port}/0", ("PING",))


async def test_nothing_listening_is_a_connection_error_naming_the_address() -> None:
    port = free_port()
    with pytest.raises(RedisConnectionError, match=f"cannot connect to redis at 127.0.0.1:{port}"):
        await _run(f"redis://127.0.0.1:{port}/0", ("PING",))


async def test_a_lost_server_fails_the_call_and_a_returned_one_is_reached_again(
    redis_factory: Callable[..., RedisServer],
) -> None:
    server = redis_factory()
    client = Redis.from_url(server.url)
    async with PipelinedConnection.like(client) as connection:
        assert await connection.execute([("PING",)]) == [b"PONG"]
        server.stop()
        with pytest.raises(RedisConnectionError):
            await connection.execute([("PING",)])
        server.start()
        assert await connection.execute([("PING",)]) == [b"PONG"]
    await client.aclose()


@contextlib.asynccontextmanager
async def _listener(answer: bytes | None) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A TCP server that reads what it is sent and answers `answer` once, or nothing ever."""
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(65536))
        if answer is not None:
            writer.write(answer)
            await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, received


@pytest.fixture
async def silent_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    async with _listener(None) as listener:
        yield listener


@pytest.fixture
async def garbling_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    async with _listener(b"hello, I am not Redis\r\n") as listener:
        yield listener


async def test_a_server_that_stops_answering_times_out_and_is_left(
    silent_server: tuple[int, list[bytes]],
) -> None:
    port, received = silent_server
    client = Redis.from_url(f"redis://127.0.0.1:{port}/0?socket_timeout=0.3")
    async with PipelinedConnection.like(client) as connection:
        for _ in range(2):
            with pytest.raises(RedisTimeoutError, match=r"gave no reply in 0\.3s"):
                await connection.execute([("PING",)])
    await client.aclose()
    # The second call did not wait behind the first's lost reply: it had a connection of its own.
    assert received == [b"*1\r\n$4\r\nPING\r\n"] * 2


async def test_a_server_that_answers_garbage_is_a_connection_error(
    garbling_server: tuple[int, list[bytes]],
) -> None:
    port, _ = garbling_server
    with pytest.raises(RedisConnectionError, match="sent garbage"):
        await _run(f"redis://127.0.0.1:{port}/0", ("PING",))
