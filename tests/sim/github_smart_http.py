"""Git smart HTTP: a CGI bridge to `git http-backend` that only admits installation tokens.

Request bodies are streamed into the CGI process as they arrive (pushes can be large) and
gzip bodies are handed over untouched with HTTP_CONTENT_ENCODING, which http-backend inflates
itself; the response is streamed back the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.sim.github_auth import allows, token_from_basic
from tests.sim.github_context import sim_of

__all__ = ["ROUTES"]

_SERVICES = {"git-upload-pack": "read", "git-receive-pack": "write"}
_CHUNK = 64 * 1024


def _unauthorized() -> Response:
    return PlainTextResponse(
        "Invalid username or token. Password authentication is not supported for Git operations.\n",
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="GitHub"'},
    )


def _service(request: Request, rest: str) -> str | None:
    if rest == "info/refs":
        return request.query_params.get("service")
    if request.method == "POST" and rest in _SERVICES:
        return rest
    return None


async def smart_http(request: Request) -> Response:
    sim = sim_of(request)
    state = sim.state
    owner = request.path_params["owner"]
    name = request.path_params["repo"].removesuffix(".git")
    rest = request.path_params["rest"]
    service = _service(request, rest)
    if service not in _SERVICES:
        return PlainTextResponse("Not Found\n", status_code=404)
    credential = token_from_basic(request.headers.get("authorization", ""))
    token = state.tokens.get(credential or "")
    if token is None:
        return _unauthorized()
    repo = state.find_repo(owner, name)
    inst = state.installations.get(token.installation_id)
    if (
        repo is None
        or repo.id not in token.repo_ids
        or inst is None
        or repo.id not in inst.repo_ids
    ):
        return PlainTextResponse("Repository not found.\n", status_code=404)
    if not allows(token, "contents", _SERVICES[service]):
        return PlainTextResponse(
            f"Permission to {repo.full_name}.git denied to {state.bot_login}.\n",
            status_code=403,
        )
    return await _run_backend(request, repo.path, rest)


def _cgi_env(request: Request, git_dir: os.PathLike[str], rest: str) -> dict[str, str]:
    root = os.fspath(git_dir)
    project_root, _, _ = root.rpartition(os.sep)
    project_root, _, owner = project_root.rpartition(os.sep)
    env = {
        **os.environ,
        "GIT_PROJECT_ROOT": project_root,
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{owner}/{os.path.basename(root)}/{rest}",
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.url.query,
        "REMOTE_USER": "x-access-token",
        "REMOTE_ADDR": request.client.host if request.client else "127.0.0.1",
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "GIT_HTTP_MAX_REQUEST_BUFFER": str(1 << 30),
    }
    for header, var in (
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "HTTP_GIT_PROTOCOL"),
        ("content-length", "CONTENT_LENGTH"),
    ):
        if header in request.headers:
            env[var] = request.headers[header]
    return env


async def _feed(request: Request, stdin: asyncio.StreamWriter) -> None:
    try:
        async for chunk in request.stream():
            if chunk:
                stdin.write(chunk)
                await stdin.drain()
    finally:
        stdin.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await stdin.wait_closed()


async def _run_backend(request: Request, git_dir: os.PathLike[str], rest: str) -> Response:
    proc = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=_cgi_env(request, git_dir, rest),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    feeder = asyncio.create_task(_feed(request, proc.stdin))
    status = 200
    headers: dict[str, str] = {}
    while True:
        raw = await proc.stdout.readline()
        if not raw:
            status = 500  # http-backend died before it wrote its CGI headers
            break
        line = raw.decode("latin-1").rstrip("\r\n")
        if not line:
            break
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers[key.strip()] = value.strip()

    async def body() -> AsyncIterator[bytes]:
        assert proc.stdout is not None
        try:
            while chunk := await proc.stdout.read(_CHUNK):
                yield chunk
            await feeder
            await proc.wait()
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError, BrokenPipeError, ConnectionError):
                await feeder
            await proc.wait()

    return _CGIResponse(body(), status, headers)


class _CGIResponse(Response):
    """Streams the CGI output without starlette's disconnect listener.

    StreamingResponse listens for a disconnect by reading `receive()`, which would swallow
    the request body chunks a push is still sending to the feeder task.
    """

    def __init__(self, chunks: AsyncIterator[bytes], status: int, headers: dict[str, str]) -> None:
        self.status_code = status
        self.background = None
        # no content-length: the length is unknown until the CGI process is done
        self.raw_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        async for chunk in self.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


ROUTES = [
    Route("/git/{owner}/{repo}/{rest:path}", smart_http, methods=["GET", "POST"]),
]
