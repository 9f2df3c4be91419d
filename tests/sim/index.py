"""A package index on loopback for the setup tests: PEP 503 pages over real HTTP, wheels the
tests build, and a count of every request (to tell an install from a cache hit).

    index = PackageIndex.start([build_wheel(tmp, "freezer", "1.0", {"freezer.py": "X = 1"})])
    ... uv pip install --index-url {index.url} freezer ...
    assert index.downloads() == 1
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import threading
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["PackageIndex", "build_wheel", "normalize"]


def normalize(name: str) -> str:
    """PEP 503's normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(
    directory: Path,
    name: str,
    version: str,
    files: Mapping[str, str],
    requires: Iterable[str] = (),
) -> Path:
    """A pure-Python wheel of `files` (path → text) written into `directory`."""
    dist = f"{name.replace('-', '_')}-{version}"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    contents = {path: text.encode() for path, text in files.items()}
    contents[f"{dist}.dist-info/METADATA"] = metadata.encode()
    contents[f"{dist}.dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: ambient-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = [_record_line(path, data) for path, data in contents.items()]
    record.append(f"{dist}.dist-info/RECORD,,")
    contents[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in contents.items():
            archive.writestr(member, data)
    return path


@dataclass
class PackageIndex:
    """The running index: `url` is its simple index, `requests` counts each path served."""

    server: ThreadingHTTPServer
    wheels: dict[str, list[Path]]
    requests: Counter[str] = field(default_factory=Counter)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/simple/"

    @property
    def host(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def downloads(self) -> int:
        """How many wheel files were fetched."""
        return sum(n for path, n in self.requests.items() if path.endswith(".whl"))

    @classmethod
    def start(cls, wheels: Iterable[Path]) -> PackageIndex:
        by_project: dict[str, list[Path]] = {}
        for wheel in wheels:
            by_project.setdefault(normalize(wheel.name.split("-")[0]), []).append(wheel)
        index: PackageIndex

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(with_body=True)

            def do_HEAD(self) -> None:
                self._answer(with_body=False)

            def _answer(self, *, with_body: bool) -> None:
                if with_body:
                    index.requests[self.path] += 1
                body, kind = index.page(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        index = cls(server, by_project)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return index

    def page(self, path: str) -> tuple[bytes | None, str]:
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts == ["simple"]:
            links = "".join(f'<a href="/simple/{p}/">{p}</a>\n' for p in sorted(self.wheels))
            return f"<html><body>{links}</body></html>".encode(), "text/html"
        if len(parts) == 2 and parts[0] == "simple":
            found = self.wheels.get(normalize(parts[1]))
            if found is None:
                return None, ""
            links = "".join(
                f'<a href="/files/{html.escape(w.name)}#sha256='
                f'{hashlib.sha256(w.read_bytes()).hexdigest()}">{html.escape(w.name)}</a>\n'
                for w in found
            )
            return f"<html><body>{links}</body></html>".encode(), "text/html"
        if len(parts) == 2 and parts[0] == "files":
            for wheel in (w for ws in self.wheels.values() for w in ws):
                if wheel.name == parts[1]:
                    return wheel.read_bytes(), "application/octet-stream"
        return None, ""

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
