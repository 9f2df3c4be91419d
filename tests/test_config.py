"""Settings come from AMBIENT_* variables; a bad one stops the process with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError


def test_defaults_and_secret_rotation_list() -> None:
    settings = load_settings({"AMBIENT_WEBHOOK_SECRET": "new, old ,"})
    assert settings.webhook_secrets == ("new", "old")
    assert settings.github_api_url == "https://api.github.com"
    assert settings.dedupe_ttl_s >= 72 * 3600


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"AMBIENT_LLM_MAX_CONCURRENCY": "many"}, "AMBIENT_LLM_MAX_CONCURRENCY"),
        ({"AMBIENT_LLM_MAX_CONCURRENCY": "0"}, "AMBIENT_LLM_MAX_CONCURRENCY"),
        ({"AMBIENT_GITHUB_API_URL": "api.github.com"}, "AMBIENT_GITHUB_API_URL"),
        ({"AMBIENT_SANDBOX": "chroot"}, "AMBIENT_SANDBOX"),
        ({"AMBIENT_DEDUPE_TTL_S": "60"}, "AMBIENT_DEDUPE_TTL_S"),
        ({"AMBIENT_APP_SLUG": "my app"}, "AMBIENT_APP_SLUG"),
    ],
)
def test_a_malformed_setting_names_the_variable_and_what_to_put(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    message = str(raised.value)
    assert message.startswith(variable)
    assert "\n" not in message


def test_a_required_setting_that_is_missing_is_named() -> None:
    with pytest.raises(ConfigError, match="AMBIENT_WEBHOOK_SECRET is not set; put the webhook"):
        load_settings({}, require=("webhook_secret",))


def test_private_key_from_a_file_or_a_clear_error(tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text("-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n")
    settings = load_settings({"AMBIENT_GITHUB_PRIVATE_KEY_PATH": str(key)})
    assert settings.private_key_pem() == key.read_text()
    missing = load_settings({"AMBIENT_GITHUB_PRIVATE_KEY_PATH": str(tmp_path / "nope.pem")})
    with pytest.raises(ConfigError, match="cannot read"):
        missing.private_key_pem()


def test_the_cli_reports_a_bad_setting_in_one_line_without_a_traceback() -> None:
    env = {"PATH": "/usr/bin:/bin", "AMBIENT_LLM_TIMEOUT_S": "-1"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "worker"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("ambient: AMBIENT_LLM_TIMEOUT_S:")
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_receiver_refuses_to_start_without_a_webhook_secret() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "AMBIENT_WEBHOOK_SECRET is not set" in done.stderr
    assert "Traceback" not in done.stderr
