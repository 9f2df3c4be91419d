"""Registering the App: app.yml against the router, the jobs and the guide, and the manifest
flow end to end over real HTTP against a private GitHub simulator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from githubkit import AppAuthStrategy, GitHub
from githubkit_schemas.latest.webhooks import VALID_EVENT_NAMES

from bot.cli.app import app as app_command
from bot.config import load_settings
from bot.errors import ConfigError
from bot.events.event import Event
from bot.events.routing import RouteContext
from bot.flows.fix import PERMISSIONS as JOB_PERMISSIONS
from bot.github.client import GitHubApp
from bot.github.manifest import (
    ALWAYS_SENT,
    EVENTS,
    PERMISSIONS,
    api_url_for,
    build_manifest,
    events_table,
    load_app_yml,
    permissions_table,
    registration_url,
)
from bot.github.registration import CreateOptions, RegistrationFailed, register_app
from handlers import ROUTES
from handlers.comment import _HELP_PERMISSIONS  # the one job token scoped differently
from tests.sim.github_routes_manifest import manifest_errors
from tests.sim.github_server import SimServer
from tests.support import free_port

ROOT = Path(__file__).parent.parent
APP_YML = load_app_yml((ROOT / "app.yml").read_text())
GUIDE = (ROOT / "docs" / "installation.md").read_text()
HOOK = "http://127.0.0.1:9/webhook"  # never called: nothing emits webhooks in these tests
_LEVEL = {"read": 1, "write": 2, "admin": 3}

SimFactory = Callable[..., SimServer]


def routed_events() -> set[str]:
    """Every event some route in the registry claims (returns a verdict for, not None)."""
    context = RouteContext(app_slug="ambient")
    claimed: set[str] = set()
    for name in VALID_EVENT_NAMES:
        event = Event(name, None, "d-1", {"sender": {"login": "alice", "type": "User"}}, b"{}")
        if any(route(event, context) is not None for route in ROUTES):
            claimed.add(name)
    return claimed


def test_app_yml_subscribes_to_exactly_the_events_the_router_handles() -> None:
    subscribed = set(APP_YML["default_events"])
    assert subscribed == routed_events() - ALWAYS_SENT, "update app.yml and EVENTS together"
    assert subscribed == set(EVENTS)
    assert all(EVENTS[name].strip() for name in subscribed)


def test_every_permission_in_app_yml_has_its_reason_and_level() -> None:
    listed = APP_YML["default_permissions"]
    assert set(listed) <= set(PERMISSIONS), "a permission without a reason in PERMISSIONS"
    assert listed == {name: need.level for name, need in PERMISSIONS.items()}
    assert all(need.why.strip() for need in PERMISSIONS.values())


def test_the_jobs_tokens_ask_for_exactly_what_app_yml_grants() -> None:
    granted = APP_YML["default_permissions"]
    asked: dict[str, str] = {}
    for scope in (JOB_PERMISSIONS, _HELP_PERMISSIONS):
        for name, level in scope.items():
            assert name in granted, f"a job asks for {name}, which app.yml does not grant"
            assert _LEVEL[granted[name]] >= _LEVEL[level], f"{name}: {level} > {granted[name]}"
            asked[name] = max(asked.get(name, level), level, key=_LEVEL.__getitem__)
    assert asked == granted, "app.yml grants what no job asks for"


def test_github_would_accept_the_manifest_built_from_app_yml() -> None:
    manifest = build_manifest(APP_YML, webhook_url=HOOK, redirect_url="http://127.0.0.1:1/cb")
    assert manifest_errors(manifest, set()) == []
    assert manifest["hook_attributes"] == {"active": True, "url": HOOK}
    assert manifest["url"] == "http://127.0.0.1:9"


def test_the_guide_shows_the_permissions_and_events_tables_as_generated() -> None:
    for marker, table in (("app-permissions", permissions_table()), ("app-events", events_table())):
        begin = GUIDE.index(f"<!-- {marker}:begin -->\n") + len(f"<!-- {marker}:begin -->\n")
        assert GUIDE[begin : GUIDE.index(f"<!-- {marker}:end -->")] == table


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: A\ndefault_events: [installation, push]\n", "may not name installation"),
        ("name: A\nsecret: x\n", "unknown manifest field secret"),
        ("name: A\ndefault_permissions: {contents: all}\n", "contents must be read, write"),
        ("- a\n", "must be a mapping"),
        ("description: x\n", "name must be"),
    ],
)
def test_a_broken_app_yml_is_named_in_one_line(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as info:
        load_app_yml(text)
    assert "\n" not in str(info.value)


def test_urls_for_github_com_an_organization_and_enterprise_server() -> None:
    assert api_url_for("https://github.com") == "https://api.github.com"
    assert api_url_for("https://ghe.example.com/") == "https://ghe.example.com/api/v3"
    assert registration_url("https://github.com", None, "s") == (
        "https://github.com/settings/apps/new?state=s"
    )
    assert registration_url("https://ghe.example.com", "acme", "s") == (
        "https://ghe.example.com/organizations/acme/settings/apps/new?state=s"
    )
    with pytest.raises(ConfigError, match="--webhook-url must be an http"):
        build_manifest(APP_YML, webhook_url="ambient.example/webhook", redirect_url="x")


class _Form(HTMLParser):
    """The first form of a page: its action and its hidden fields, as a browser reads them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.action:
            self.action = values["action"]
        if tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"]] = values.get("value", "")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs if not k.startswith("#")}


def test_create_registers_the_app_and_writes_settings_that_work(
    github_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = github_sim_factory().sim
    env_file = tmp_path / "conf" / ".env"
    env_file.parent.mkdir()
    argv = [sys.executable, "-m", "bot", "app", "create", "--no-browser", "--name", "Ambient E2E"]
    argv += ["--github-url", sim.api_url, "--api-url", sim.api_url, "--webhook-url", HOOK]
    argv += ["--env-file", str(env_file)]
    with subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        local = re.search(r"http://127\.0\.0\.1:\d+/", first)
        assert local, first
        page = httpx.get(local.group(0))
        form = _Form(page.text)
        assert form.action.startswith(f"{sim.api_url}/settings/apps/new?state=")
        confirmed = httpx.post(form.action, data=form.fields)
        assert confirmed.status_code == 302
        back = httpx.get(confirmed.headers["location"])
        assert back.status_code == 200, back.text
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert f"{sim.api_url}/apps/ambient-e2e/installations/new" in out.decode()

    app_id = int(_env(env_file)["AMBIENT_GITHUB_APP_ID"])
    key_file = env_file.parent / f"ambient-e2e.{app_id}.private-key.pem"
    assert (_mode(env_file), _mode(key_file)) == (0o600, 0o600)
    settings = load_settings(_env(env_file), require=("webhook_secret", "github_app_id"))
    assert (settings.app_slug, settings.github_api_url) == ("ambient-e2e", sim.api_url)
    assert settings.github_private_key_path == key_file
    pem = settings.private_key_pem()
    assert pem is not None
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    # no temporary files are left beside them
    assert sorted(p.name for p in env_file.parent.iterdir()) == [".env", key_file.name]

    with GitHub(AppAuthStrategy(settings.github_app_id, pem), base_url=sim.api_url) as gh:
        me = gh.rest.apps.get_authenticated().json()
    assert (me["id"], me["slug"]) == (settings.github_app_id, "ambient-e2e")
    assert me["permissions"] == APP_YML["default_permissions"]


async def test_the_new_app_gets_the_tokens_the_jobs_ask_for(
    github_sim_factory: SimFactory, tmp_path: Path
) -> None:
    server = github_sim_factory()
    registered, _ = await _register(server, tmp_path)
    repo = await asyncio.to_thread(server.sim.create_repo, "acme", "widgets", {"a.py": "x = 1\n"})
    assert repo.installation_id is not None
    async with GitHubApp(
        app_id=registered.app.id, private_key=registered.app.pem, base_url=server.sim.api_url
    ) as github:
        client = await github.installation_client(
            repo.installation_id, "acme", "widgets", JOB_PERMISSIONS
        )
        assert (await client.get_repo()).full_name == "acme/widgets"


def _options(server: SimServer, tmp_path: Path, **changes: Any) -> CreateOptions:
    (tmp_path / "out").mkdir(exist_ok=True)
    fields: dict[str, Any] = {
        "github_url": server.sim.api_url,
        "api_url": server.sim.api_url,
        "webhook_url": HOOK,
        "env_file": tmp_path / "out" / ".env",
        "name": "Ambient Flow",
        **changes,
    }
    return CreateOptions(**fields)


@contextlib.asynccontextmanager
async def _flow(options: CreateOptions) -> AsyncIterator[tuple[asyncio.Task[Any], str]]:
    """`register_app` running, and its local page; stopped if the test leaves it running."""
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(register_app(options, ready.set_result))
    try:
        waiting: set[asyncio.Future[Any]] = {ready, task}
        done, _ = await asyncio.wait(waiting, timeout=30, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()
        yield task, ready.result()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, RegistrationFailed):
            await task


async def _confirm(client: httpx.AsyncClient, local: str) -> httpx.URL:
    """What the browser does: load the page, submit its form, and get sent back."""
    form = _Form((await client.get(local)).text)
    confirmed = await client.post(form.action, data=form.fields)
    assert confirmed.status_code == 302, confirmed.text
    return httpx.URL(confirmed.headers["location"])


async def _register(server: SimServer, tmp_path: Path, **changes: Any) -> tuple[Any, httpx.URL]:
    async with _flow(_options(server, tmp_path, **changes)) as (task, local):
        async with httpx.AsyncClient(timeout=30) as client:
            back = await _confirm(client, local)
            assert (await client.get(back)).status_code == 200
        return await task, back


async def test_an_organization_registers_through_its_own_page(
    github_sim_factory: SimFactory, tmp_path: Path
) -> None:
    registered, back = await _register(github_sim_factory(), tmp_path, org="acme")
    assert back.params["code"]
    assert registered.install_url.endswith("/apps/ambient-flow/installations/new")


async def _refused_callback(
    server: SimServer, tmp_path: Path, spoil: Callable[[httpx.URL], httpx.URL]
) -> str:
    async with _flow(_options(server, tmp_path)) as (task, local):
        async with httpx.AsyncClient(timeout=30) as client:
            back = spoil(await _confirm(client, local))
            answer = await client.get(back)
        assert answer.status_code == 400
        with pytest.raises(RegistrationFailed) as info:
            await task
    assert list((tmp_path / "out").iterdir()) == [], "nothing is written after a refusal"
    message = str(info.value)
    assert "\n" not in message
    assert message in answer.text.replace("&#x27;", "'")
    return message


async def test_a_callback_with_another_state_is_refused(
    github_sim_factory: SimFactory, tmp_path: Path
) -> None:
    message = await _refused_callback(
        github_sim_factory(), tmp_path, lambda url: url.copy_set_param("state", "forged")
    )
    assert "state does not match" in message


async def test_a_used_code_is_refused(github_sim_factory: SimFactory, tmp_path: Path) -> None:
    server = github_sim_factory()

    def use_up(url: httpx.URL) -> httpx.URL:
        code = url.params["code"]
        assert httpx.post(f"{server.sim.api_url}/app-manifests/{code}/conversions").is_success
        return url

    message = await _refused_callback(server, tmp_path, use_up)
    assert message.startswith("GitHub refused the manifest code (404)")


async def test_an_expired_code_is_refused(github_sim_factory: SimFactory, tmp_path: Path) -> None:
    server = github_sim_factory()

    def age(url: httpx.URL) -> httpx.URL:
        expire = f"{server.sim.api_url}/_sim/app-manifests/{url.params['code']}/expire"
        assert httpx.post(expire).is_success
        return url

    message = await _refused_callback(server, tmp_path, age)
    assert "a code works once and for an hour" in message


async def test_an_unreachable_api_is_one_line_and_writes_nothing(
    github_sim_factory: SimFactory, tmp_path: Path
) -> None:
    server = github_sim_factory()
    dead = f"http://127.0.0.1:{free_port()}"
    async with _flow(_options(server, tmp_path, api_url=dead)) as (task, local):
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.get(await _confirm(client, local))
        assert answer.status_code == 400
        with pytest.raises(RegistrationFailed, match=f"cannot reach {dead} .*: check --api-url"):
            await task
    assert list((tmp_path / "out").iterdir()) == []


def test_an_existing_env_file_is_kept_unless_forced(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AMBIENT_REDIS_URL=redis://x\n")
    args = ["create", "--webhook-url", HOOK, "--env-file", str(env_file), "--no-browser"]
    result = CliRunner().invoke(app_command, args)
    assert result.exit_code == 1
    assert result.output == f"ambient: app create: {env_file} exists: remove it or pass --force\n"
    assert env_file.read_text() == "AMBIENT_REDIS_URL=redis://x\n"


async def test_force_replaces_the_env_file_and_keeps_it_private(
    github_sim_factory: SimFactory, tmp_path: Path
) -> None:
    env_file = tmp_path / "out" / ".env"
    env_file.parent.mkdir()
    env_file.write_text("old\n")
    os.chmod(env_file, 0o644)
    registered, _ = await _register(github_sim_factory(), tmp_path, force=True)
    assert registered.env_file == env_file
    assert _mode(env_file) == 0o600
    assert "AMBIENT_GITHUB_APP_ID=" in env_file.read_text()


def test_the_simulator_refuses_what_github_refuses() -> None:
    manifest = build_manifest(APP_YML, webhook_url=HOOK, redirect_url="http://127.0.0.1:1/cb")
    with_installation = {**manifest, "default_events": ["installation", "push"]}
    assert manifest_errors(with_installation, set()) == ["Default events unsupported: installation"]
    without_checks = {**manifest, "default_permissions": {"issues": "write"}}
    assert manifest_errors(without_checks, set()) == [
        "Default events are not supported by permissions: check_suite, workflow_run, push, "
        "pull_request, pull_request_review, pull_request_review_comment"
    ]
    no_hook = {**manifest, "hook_attributes": {"active": True}}
    assert manifest_errors(no_hook, {"ambient"}) == [
        "Hook url can't be blank",
        "Name has already been taken",
    ]
