"""The setup proxy's allowlist (pure) and the proxy itself (real tinyproxy, on loopback)."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sandbox.egress import EgressProxy, Endpoint, endpoints, filter_rules
from tests.support import free_port, require_binary, wait_for_port


def test_the_allowlist_joins_hosts_and_the_index_url_host() -> None:
    allowed = endpoints(["pypi.org", " Files.PythonHosted.org ", "mirror:8443"],
                        ["https://pypi.corp.example/simple/"])  # fmt: skip
    assert allowed == (
        Endpoint("pypi.org"),
        Endpoint("files.pythonhosted.org"),
        Endpoint("mirror", 8443),
        Endpoint("pypi.corp.example"),
    )


def test_a_host_without_a_port_allows_http_and_https_only() -> None:
    lines, ports = filter_rules([Endpoint("pypi.org"), Endpoint("127.0.0.1", 8765)])
    assert ports == [443, 8765]
    assert lines == [
        r"^http://pypi\.org(:80)?/",
        r"^https://pypi\.org(:443)?/",
        r"^pypi\.org:443$",
        r"^https?://127\.0\.0\.1:8765/",
        r"^127\.0\.0\.1:8765$",
    ]


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: object) -> None:
        return


def _get_through(proxy_port: int, url: str) -> str:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{proxy_port}"})
    )
    try:
        return opener.open(url, timeout=10).read().decode()
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"


def _relay(socket_path: str) -> tuple[subprocess.Popen[bytes], int]:
    """socat from a loopback port to the proxy's socket, as the in-sandbox relay runs."""
    port = free_port()
    relay = subprocess.Popen(
        ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", f"UNIX-CONNECT:{socket_path}"]
    )
    wait_for_port(port)
    return relay, port


@pytest.mark.slow
async def test_the_proxy_forwards_only_what_is_listed() -> None:
    require_binary("tinyproxy")
    require_binary("socat")
    listed = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    unlisted = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    for server in (listed, unlisted):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    port, other = listed.server_address[1], unlisted.server_address[1]
    proxy = await EgressProxy.start(endpoints([f"127.0.0.1:{port}"]))
    process, relay = _relay(str(proxy.socket))
    try:
        seen = await asyncio.to_thread(_get_through, relay, f"http://127.0.0.1:{port}/x")
        refused = await asyncio.to_thread(_get_through, relay, f"http://127.0.0.1:{other}/x")
        by_name = await asyncio.to_thread(_get_through, relay, f"http://localhost:{port}/x")
        assert (seen, refused, by_name) == ("hello", "HTTP 403", "HTTP 403")
        assert "refused on filtered url" in proxy.log.read_text().lower()
    finally:
        process.kill()
        process.wait()
        await proxy.close()
        for server in (listed, unlisted):
            server.shutdown()
            server.server_close()
    assert not proxy.socket.exists()
