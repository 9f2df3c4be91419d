"""docker-compose.yml read as data: the services, their wiring, and the settings it names.

Bringing the stack up needs a compose tool, images and minutes (docs/operations.md records that
run); these checks keep the file honest on every run, and `docker compose config` (or the older
`docker-compose config`) validates it where a compose tool is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import ENV_PREFIX, Settings
from tests.support import require_part

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
#: What `ambient app create` writes into .env (bot/github/registration.py).
APP_CREATE_WRITES = (
    "AMBIENT_GITHUB_APP_ID",
    "AMBIENT_APP_SLUG",
    "AMBIENT_WEBHOOK_SECRET",
    "AMBIENT_GITHUB_PRIVATE_KEY_PATH",
    "AMBIENT_GITHUB_API_URL",
)
SETTINGS = {ENV_PREFIX + name.upper() for name in Settings.model_fields}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def test_the_stack_is_web_workers_and_redis(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert set(services) == {"web", "worker", "redis"}
    assert services["web"]["command"][:3] == ["serve", "--host", "0.0.0.0"]
    assert services["worker"]["command"] == ["worker"]
    # One image for both, with the Dockerfile beside the compose file to build it.
    assert services["web"]["image"] == services["worker"]["image"]
    assert services["web"]["build"] == services["worker"]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()


def test_workers_can_be_scaled(compose: dict[str, Any]) -> None:
    worker = _services(compose)["worker"]
    # `--scale worker=N` refuses a fixed name or a published port.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "hostname" not in worker


def test_redis_keeps_an_append_only_file_on_a_named_volume(compose: dict[str, Any]) -> None:
    redis = _services(compose)["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command
    assert "--dir /data" in command
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data"
    assert volume in compose["volumes"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "ports" not in redis


def test_web_and_worker_wait_for_a_healthy_redis_and_read_env(compose: dict[str, Any]) -> None:
    for name in ("web", "worker"):
        service = _services(compose)[name]
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["env_file"] == ".env"
        assert service["environment"]["AMBIENT_REDIS_URL"] == "redis://redis:6379/0"
        # The image's HEALTHCHECK serves both roles; nothing here turns it off.
        assert "healthcheck" not in service
        assert service["cap_drop"] == ["ALL"]


def test_the_worker_reaches_an_engine_with_workspaces_at_the_same_path(
    compose: dict[str, Any],
) -> None:
    worker = _services(compose)["worker"]
    assert worker["volumes"][0] == "${DOCKER_SOCKET:-/var/run/docker.sock}:/var/run/docker.sock"
    # The engine resolves a sandbox's mounts on the host: the path must be the same on both sides.
    workspaces = worker["environment"]["AMBIENT_WORKSPACE_ROOT"]
    assert workspaces.startswith("${WORKSPACES")
    assert worker["volumes"][1] == f"{workspaces}:{workspaces}"
    assert worker["group_add"][0].startswith("${DOCKER_GID:?")
    assert worker["environment"]["AMBIENT_SANDBOX"] == "docker"
    # The socket is root on the host: the file must say so where it is mounted.
    text = COMPOSE.read_text()
    assert re.search(r"ROOT-EQUIVALENT", text)
    key = worker["environment"]["AMBIENT_GITHUB_PRIVATE_KEY_PATH"]
    assert key == "/run/secrets/github-app-key"
    assert worker["secrets"] == ["github-app-key"]
    assert "github-app-key" in compose["secrets"]
    # Only the worker holds the App's key.
    assert "secrets" not in _services(compose)["web"]


def test_every_ambient_variable_named_is_a_setting() -> None:
    named = set(re.findall(r"\bAMBIENT_[A-Z0-9_]+", COMPOSE.read_text()))
    example = (ROOT / "deploy" / "env.example").read_text()
    named |= set(re.findall(r"^(AMBIENT_[A-Z0-9_]+)=", example, re.MULTILINE))
    assert named, "the compose file names no setting"
    assert named - SETTINGS == set()
    assert set(APP_CREATE_WRITES) <= SETTINGS
    assert set(APP_CREATE_WRITES) <= named


def _compose_tool() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def _config(tool: list[str], directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*tool, "--project-directory", str(directory), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=directory,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(directory)},
    )


def test_a_compose_tool_accepts_the_file(tmp_path: Path) -> None:
    tool = _compose_tool()
    require_part(tool is not None, "`docker compose` or docker-compose")
    assert tool is not None
    key = tmp_path / "app.pem"
    key.write_text("not a key; config only checks that the file is named\n")
    env = tmp_path / ".env"
    env.write_text(
        f"AMBIENT_WEBHOOK_SECRET=s\nAMBIENT_GITHUB_PRIVATE_KEY_PATH={key}\nDOCKER_GID=999\n"
    )
    (tmp_path / "docker-compose.yml").write_text(COMPOSE.read_text())
    checked = _config(tool, tmp_path)
    assert checked.returncode == 0, checked.stderr
    # Without DOCKER_GID the file refuses to start, naming what to set.
    env.write_text(f"AMBIENT_GITHUB_PRIVATE_KEY_PATH={key}\n")
    refused = _config(tool, tmp_path)
    assert refused.returncode != 0
    assert "DOCKER_GID" in refused.stderr
