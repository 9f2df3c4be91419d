"""The application image, built for real by scripts/build-image.sh (offline: a local Debian base,
the host's docker CLI and host-downloaded wheels), then run: as a non-root user, as the CLI, as
the receiver with its HEALTHCHECK turning healthy, and as a worker against a real Redis.

The script tags the image by a hash of its recipe and source, so only the first run after a
change builds (minutes); later runs find the image and take seconds.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import __version__
from tests.fixtures.redis import RedisServer
from tests.support import free_port, require_binary, require_part

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
VALID_CONFIG = "verify:\n  commands: ['python -m pytest -q']\n"
INVALID_CONFIG = "verify:\n  comands: ['python -m pytest -q']\n"


def _docker(
    *args: str, timeout: float = 120, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def image() -> str:
    """The image tag `ambient:<hash>` the build script printed."""
    require_binary("docker")
    require_part(_docker("info").returncode == 0, "a Docker engine (DOCKER_HOST or the socket)")
    require_binary("mmdebstrap")
    build = subprocess.run(
        [str(ROOT / "scripts" / "build-image.sh")],
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    # "image ambient:<hash> built offline in …" or "image ambient:<hash> is up to date …"
    return build.stdout.split()[1]


@pytest.fixture
def container(image: str) -> Iterator[list[str]]:
    """Names of containers a test started; each is removed after the test."""
    names: list[str] = []
    yield names
    for name in names:
        _docker("rm", "--force", name, timeout=60)


def _start(container: list[str], image: str, *options: str, command: tuple[str, ...] = ()) -> str:
    name = f"ambient-image-test-{len(container)}-{time.monotonic_ns()}"
    started = _docker(
        "run", "--detach", f"--name={name}", "--health-interval=1s", *options, image, *command
    )
    assert started.returncode == 0, started.stderr
    container.append(name)
    return name


def _health(name: str) -> str:
    state = _docker("inspect", "--format", "{{json .State}}", name)
    data = json.loads(state.stdout)
    if not data["Running"]:
        logs = _docker("logs", name)
        pytest.fail(f"{name} stopped: {logs.stdout[-2000:]}{logs.stderr[-2000:]}")
    return str(data["Health"]["Status"])


def _wait_healthy(name: str, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    status = _health(name)
    while status != "healthy" and time.monotonic() < deadline:
        time.sleep(0.5)
        status = _health(name)
    log = _docker("inspect", "--format", "{{json .State.Health.Log}}", name).stdout
    assert status == "healthy", log


def test_the_image_runs_as_a_non_root_user(image: str) -> None:
    config = json.loads(_docker("image", "inspect", "--format", "{{json .Config}}", image).stdout)
    assert config["User"] == "10001:10001"
    ids = _docker("run", "--rm", "--entrypoint", "id", image)
    assert ids.returncode == 0, ids.stderr
    assert "uid=10001(ambient)" in ids.stdout
    assert "uid=0" not in ids.stdout


def test_the_cli_answers_its_version(image: str) -> None:
    answer = _docker("run", "--rm", image, "--version")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == f"ambient, version {__version__}"


def test_config_check_validates_a_repository_config_inside_the_image(image: str) -> None:
    script = "cat > /tmp/ambient.yml && ambient config check /tmp/ambient.yml"
    good = _docker(
        "run", "--rm", "-i", "--entrypoint", "sh", image, "-c", script, stdin=VALID_CONFIG
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "/tmp/ambient.yml: ok"
    bad = _docker(
        "run", "--rm", "-i", "--entrypoint", "sh", image, "-c", script, stdin=INVALID_CONFIG
    )
    assert bad.returncode == 1
    assert "comands" in bad.stdout


def test_serve_answers_healthz_and_its_healthcheck_turns_healthy(
    image: str, container: list[str]
) -> None:
    port = free_port()
    name = _start(
        container,
        image,
        "--env=AMBIENT_WEBHOOK_SECRET=test-secret",
        f"--publish=127.0.0.1:{port}:8000",
    )
    deadline = time.monotonic() + 60
    body = b""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                body = answer.read()
                break
        except (urllib.error.URLError, ConnectionError):
            _health(name)  # fails the test at once if the server died
            time.sleep(0.3)
    assert json.loads(body) == {"status": "ok"}
    _wait_healthy(name)
    check = json.loads(
        _docker("image", "inspect", "--format", "{{json .Config.Healthcheck}}", image).stdout
    )
    # The HEALTHCHECK that turned healthy is the image's own (only its interval was shortened).
    assert check["Test"] == ["CMD", "/opt/ambient/bin/python", "/opt/ambient/healthcheck.py"]


def test_a_worker_connects_to_redis_and_is_healthy(
    image: str, container: list[str], redis_server: RedisServer
) -> None:
    # The test's Redis listens on the host's loopback: the worker shares the host's network.
    name = _start(
        container,
        image,
        "--network=host",
        f"--env=AMBIENT_REDIS_URL={redis_server.url}",
        command=("worker",),
    )
    _wait_healthy(name)
    deadline = time.monotonic() + 60
    logs = ""
    while "worker started" not in logs and time.monotonic() < deadline:
        time.sleep(0.3)
        printed = _docker("logs", name)
        logs = printed.stdout + printed.stderr
    assert "worker started" in logs
    uid = _docker("exec", name, "id", "-u")
    assert uid.stdout.strip() == "10001"


def test_the_image_holds_no_build_tools_and_no_wheels(image: str) -> None:
    probe = (
        "for tool in gcc cc c++ make pip pip3; do command -v $tool; done; "
        "ls /opt/ambient/bin/pip* /src /root/.cache /home/ambient/.cache 2>/dev/null; "
        # Python's own ensurepip wheels (Debian keeps them in /usr/share/python-wheels) are part
        # of the interpreter, not a cache of ours.
        "find / -xdev -name '*.whl' -not -path '/usr/share/python-wheels/*' "
        "-not -path '*/ensurepip/_bundled/*' 2>/dev/null; true"
    )
    found = _docker("run", "--rm", "--user=0", "--entrypoint", "sh", image, "-c", probe)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == []
