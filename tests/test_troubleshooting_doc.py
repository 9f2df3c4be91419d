"""docs/troubleshooting.md quotes what Ambient really prints: each mistake is made here against
real parts (the GitHub simulator, a receiver over HTTP, the docker CLI, a model client) and
the words Ambient prints must stand in the page as written.

Only the parts Ambient does not write are replaced before comparing: GitHub's own message
(`<GitHub's message>`), a port (`<port>`), the socket's error (`<socket error>`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from redis.asyncio import Redis

from agents.llm import Message, OpenAIModel
from bot.config import load_settings
from bot.deps import Deps
from bot.errors import AmbientError, ConfigError
from bot.events.event import sign
from bot.events.spec import JobSpec
from bot.flows.fix import PERMISSIONS
from bot.github.client import GitHubApp
from bot.ingress.web import create_app
from bot.publish.report import failed_summary
from bot.telemetry import JsonFormatter
from handlers.comment import JOBS
from sandbox import start_sandbox
from sandbox.dockercli import docker, docker_argv
from sandbox.egress import EgressProxy, endpoints
from tests.fixtures.llm_sim import LLMSim
from tests.fixtures.sandbox import require_backend
from tests.sim.github import new_private_key
from tests.sim.github_client import GitHubSim
from tests.sim.github_server import SimServer
from tests.support import free_port, require_binary
from tests.webhook_corpus import selected

DOC = (Path(__file__).parent.parent / "docs" / "troubleshooting.md").read_text()
OWNER, NAME = "acme", "widgets"
FIX_PR = next(j for j in JOBS if j.__name__ == "fix_pr")


def quoted(message: str) -> None:
    """The message stands in the page, as written."""
    assert message in DOC, f"docs/troubleshooting.md does not quote:\n{message}"


def github_part(message: str, status: int) -> str:
    """The message with GitHub's own words (between the status and the hint) replaced."""
    return re.sub(rf"(failed: {status}) .+?( \([^()]*\))?$", r"\1 <GitHub's message>\2", message)


@contextlib.asynccontextmanager
async def receiver(settings: dict[str, str]) -> AsyncIterator[str]:
    """`ambient serve`'s app on a free port of this event loop; yields its /webhook URL."""
    port = free_port()
    app = create_app(load_settings(settings))
    config = uvicorn.Config(app, port=port, log_config=None, lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_wrong_webhook_secret(
    github_sim: GitHubSim, caplog: pytest.LogCaptureFixture
) -> None:
    async with receiver({"AMBIENT_WEBHOOK_SECRET": "the-right-one"}) as base:
        github_sim.set_webhook(f"{base}/webhook", "another-one")
        await asyncio.to_thread(github_sim.emit, "ping", {"zen": "Keep it logically awesome."})
    (delivery,) = github_sim.deliveries()
    assert delivery["status_code"] == 401
    quoted(f"`{delivery['response_body']}`")
    (refused,) = [r for r in caplog.records if r.name == "ambient.web"]
    line = re.sub(r'^\{"ts": "[^"]+"', '{"ts": "<time>"', JsonFormatter().format(refused))
    line = line.replace('"event": "ping"', '"event": "<event>"')
    line = re.sub(r'"delivery_id": "[^"]+"', '"delivery_id": "<delivery id>"', line)
    quoted(f"`{line}`")
    app = github_sim.app
    listed = httpx.get(
        f"{github_sim.api_url}/app/hook/deliveries",
        headers={"Authorization": f"Bearer {_jwt(app.id, app.private_key_pem)}"},
    ).json()
    quoted(f"`{listed[0]['status']}`")


def _jwt(app_id: int, pem: str) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now - 30, "exp": now + 300, "iss": str(app_id)}, pem, "RS256")


async def _run_fix(sim: GitHubSim, github: GitHubApp, caplog: pytest.LogCaptureFixture) -> str:
    """Run the fix job for an `@app fix` comment on acme/widgets; the line the worker logs."""
    repo = sim.create_repo(OWNER, NAME, {"README.md": "# w\n"})
    payload = selected("issue_comment.created.on_issue").payload
    payload["repository"] = {
        **payload["repository"],  # type: ignore[dict-item]
        "name": NAME,
        "full_name": f"{OWNER}/{NAME}",
        "owner": {**payload["repository"]["owner"], "login": OWNER},  # type: ignore[index]
    }
    payload["installation"] = {"id": repo.installation_id, "node_id": "MDIzOkludGVncmF0aW9u"}
    spec = JobSpec(
        "fix_pr",
        "fix:1",
        "issue_comment.created",
        "d-7",
        f"{OWNER}/{NAME}",
        None,
        (("number", "1"),),
    )
    settings = load_settings({"AMBIENT_APP_SLUG": sim.app.slug})
    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}")  # not reached: the token fails
    try:
        deps = Deps(settings, redis, github)
        with caplog.at_level(logging.INFO, logger="ambient.jobs"):
            result = await FIX_PR({"deps": deps, "job_try": 1}, spec.to_json(), json.dumps(payload))
    finally:
        await redis.aclose()
        await github.aclose()
    assert result["status"] == "failed"
    (line,) = [r for r in caplog.records if r.name == "ambient.jobs" and r.levelname == "ERROR"]
    return line.getMessage()


def _app(sim: GitHubSim, **changes: Any) -> GitHubApp:
    fields: dict[str, Any] = {
        "app_id": sim.app.id,
        "private_key": sim.app.private_key_pem,
        "base_url": sim.api_url,
        "app_slug": sim.app.slug,
        **changes,
    }
    return GitHubApp(**fields)


def registered_sim(factory: Callable[..., SimServer]) -> GitHubSim:
    """A private simulator hosting an App of its own, with an id no other test signs for.

    githubkit caches an App's JWT process-wide by App id alone: a JWT signed with a wrong key
    for the shared simulator's App would be sent by every later test for minutes.
    """
    sim = factory().sim
    manifest = {
        "name": "Ambient Trouble",
        "url": "http://127.0.0.1:9",
        "hook_attributes": {"url": "http://127.0.0.1:9/webhook"},
        "redirect_url": "http://127.0.0.1:9/callback",
        "default_permissions": dict(PERMISSIONS),
    }
    form = {"manifest": json.dumps(manifest)}
    answer = httpx.post(f"{sim.api_url}/settings/apps/new", data=form)
    code = httpx.URL(answer.headers["location"]).params["code"]
    httpx.post(f"{sim.api_url}/app-manifests/{code}/conversions").raise_for_status()
    return sim


async def test_wrong_private_key(
    github_sim_factory: Callable[..., SimServer], caplog: pytest.LogCaptureFixture
) -> None:
    sim = registered_sim(github_sim_factory)
    github = _app(sim, private_key=new_private_key())
    quoted(github_part(await _run_fix(sim, github, caplog), 401))


async def test_wrong_app_id(
    github_sim_factory: Callable[..., SimServer], caplog: pytest.LogCaptureFixture
) -> None:
    sim = registered_sim(github_sim_factory)
    github = _app(sim, app_id=sim.app.id + 1)
    quoted(github_part(await _run_fix(sim, github, caplog), 401))


async def test_a_permission_the_app_lacks(
    github_sim: GitHubSim, caplog: pytest.LogCaptureFixture
) -> None:
    github_sim.set_app_permissions({k: v for k, v in PERMISSIONS.items() if k != "actions"})
    quoted(await _run_fix(github_sim, _app(github_sim), caplog))


async def test_a_call_the_token_does_not_cover(github_sim: GitHubSim) -> None:
    repo = github_sim.create_repo(OWNER, NAME, {"README.md": "# w\n"})
    assert repo.installation_id is not None
    async with _app(github_sim) as app:
        gh = await app.installation_client(repo.installation_id, OWNER, NAME, {"issues": "read"})
        with pytest.raises(AmbientError) as info:
            await gh.create_issue("Ambient dashboard", "- [ ] x")
    reason = github_part(str(info.value), 403)
    quoted(reason)
    quoted(failed_summary(reason, "").reply)


async def test_redis_unreachable() -> None:
    port = free_port()
    sample = selected("issue_comment.created.on_issue")
    body = json.dumps(
        {**sample.payload, "comment": {**sample.payload["comment"], "body": "@ambient fix"}}  # type: ignore[dict-item]
    ).encode()
    settings = {"AMBIENT_WEBHOOK_SECRET": "s", "AMBIENT_REDIS_URL": f"redis://127.0.0.1:{port}"}
    headers = {
        "X-GitHub-Event": "issue_comment",
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": sign("s", body),
        "Content-Type": "application/json",
    }
    async with receiver(settings) as base, httpx.AsyncClient() as client:
        answer = await client.post(f"{base}/webhook", content=body, headers=headers)
        ready = await client.get(f"{base}/readyz")
    assert (answer.status_code, ready.status_code) == (503, 503)
    quoted(_unplace(answer.text, port))
    quoted(_unplace(ready.text, port))


def _unplace(text: str, port: int) -> str:
    text = text.replace(str(port), "<port>")
    return re.sub(
        r"((?:connecting to|connect to redis at) 127\.0\.0\.1:<port>(?:\.|:) ).*?(\"|$)",
        r"\1<socket error>\2",
        text,
    )


async def test_docker_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(AmbientError) as info:
        docker_argv("version")
    quoted(str(info.value))


async def test_docker_engine_not_running(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    require_binary("docker")
    socket_path = tmp_path / "docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket_path}")
    with pytest.raises(AmbientError) as info:
        await docker("version")
    quoted(str(info.value).replace(str(socket_path), "/run/docker.sock"))


async def test_model_endpoint_wrong(llm_sim: LLMSim) -> None:
    with pytest.raises(ConfigError) as info:
        OpenAIModel.from_settings(load_settings({}))
    quoted(str(info.value))
    port = free_port()
    for base_url in (f"http://127.0.0.1:{port}/v1", llm_sim.base_url.removesuffix("/v1")):
        llm = OpenAIModel(base_url=base_url, model="m", max_retries=0)
        try:
            with pytest.raises(AmbientError) as failed:
                await llm.complete([Message("user", "hi")], agent="fixer")
        finally:
            await llm.aclose()
        said = str(failed.value).replace(str(port), "<port>").replace(base_url, "<url>", 1)
        quoted(re.sub(r"\(404\): .*?;", "(404): <the server's message>;", said))


def test_unreadable_key_file() -> None:
    settings = load_settings({"AMBIENT_GITHUB_PRIVATE_KEY_PATH": "/nonexistent/app.pem"})
    with pytest.raises(ConfigError) as info:
        settings.private_key_pem()
    quoted(str(info.value))


@pytest.mark.docker
async def test_sandbox_image_missing(tmp_path: Path) -> None:
    require_backend("docker")
    with pytest.raises(AmbientError) as info:
        await start_sandbox("docker", tmp_path, image="ambient-sandbox:missing")
    quoted(str(info.value))


async def test_setup_proxy_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AmbientError) as info:
        await EgressProxy.start(endpoints(["pypi.org"]))
    quoted(str(info.value))
