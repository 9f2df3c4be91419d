"""Server settings, read once from the environment (`AMBIENT_*`) and passed in, never global."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

__all__ = ["SETTING_HINTS", "Settings", "default_cache_dir", "load_settings"]

ENV_PREFIX: Final = "AMBIENT_"

#: What to put in each variable, quoted in the one-line error when it is missing or malformed.
SETTING_HINTS: Final[Mapping[str, str]] = {
    "webhook_secret": "the webhook secret from the GitHub App settings (several, comma-separated, "
    "while rotating)",
    "redis_url": "a Redis URL such as redis://localhost:6379/0",
    "app_slug": "the App's slug, the name people @-mention (github.com/apps/<slug>)",
    "github_app_id": "the numeric App ID from the GitHub App settings",
    "github_private_key": "the App's private key (PEM text)",
    "github_private_key_path": "the path of the App's private key file (.pem)",
    "github_api_url": "https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server",
    "llm_base_url": "an OpenAI-compatible base URL such as https://api.openai.com/v1",
    "llm_api_key": "the model endpoint's API key",
    "llm_model": "the model name the endpoint serves",
    "llm_max_concurrency": "a whole number of concurrent model calls, 1 or more",
    "llm_timeout_s": "seconds to wait for one model answer",
    "llm_planner_model": "the model the planner of issue tasks uses; unset: AMBIENT_LLM_MODEL",
    "llm_coder_model": "the model that writes changes (the fixer, the reproducer); unset: "
    "AMBIENT_LLM_MODEL",
    "llm_reviewer_model": "the model that reviews a verified change; unset: AMBIENT_LLM_MODEL",
    "llm_specialist_model": "the model the sweep's specialists use; unset: AMBIENT_LLM_MODEL",
    "llm_job_tokens": "the most model tokens one job (a sweep, a fix) may use; unset for no limit",
    "job_timeout_s": "seconds one job may run; a job whose worker died runs again this much later",
    "sandbox": "docker or bwrap",
    "sandbox_image": "the sandbox image tag built by sandbox/image/build.sh",
    "sandbox_runtime": "auto (gVisor's runsc when the Docker engine has it, else the engine's "
    "default), runsc (require gVisor: no sandbox opens without it) or runc (never gVisor)",
    "workspace_root": "a writable directory for ephemeral clones",
    "dedupe_ttl_s": "seconds to remember a delivery id, at least 259200 (72 h)",
    "max_body_bytes": "the largest webhook body accepted, in bytes",
    "receiver_header_bytes": "the most bytes of request headers the receiver reads (431 past it)",
    "receiver_header_count": "the most request headers the receiver accepts (431 past it)",
    "receiver_header_timeout_s": "seconds a request's headers may take to arrive (408 after)",
    "receiver_body_timeout_s": "seconds a request's body may take after its headers (408 after)",
    "receiver_keepalive_s": "seconds an idle keep-alive connection stays open",
    "receiver_max_connections": "connections and requests the receiver serves at once (503 "
    "past it)",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
    "metrics_port": "a TCP port for the worker's Prometheus metrics, or 0 for none",
    "worker_max_jobs": "how many jobs one worker process runs at once (1 to 500)",
    "redelivery_interval_min": "minutes between looks for failed webhook deliveries to ask GitHub "
    "for again (1 to 60), or 0 for never",
    "setup": "auto (install each repository's project and test dependencies before its checks) "
    "or off (run the checks with what the sandbox image has)",
    "cache_dir": "a writable directory for the checks' toolchain and set-up environments",
    "setup_cache_bytes": "the most bytes the set-up environments of all repositories may take",
    "setup_index_hosts": "the package index hosts setup may reach, comma-separated (name or "
    "name:port)",
    "setup_index_url": "a Python package index URL (a mirror) that setup installs from",
    "setup_ca_bundle": "a PEM file of the CA certificates setup trusts (a TLS-intercepting "
    "proxy's); unset: the host's /etc/ssl/certs/ca-certificates.crt when present",
    "setup_timeout_s": "seconds one setup command may run",
}


def default_cache_dir() -> Path:
    """Where Ambient keeps what it builds for sandboxes when AMBIENT_CACHE_DIR is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ambient"


class Settings(BaseSettings):
    """Everything a process of Ambient is configured with; immutable once built."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    webhook_secret: SecretStr | None = None
    redis_url: str = "redis://localhost:6379/0"
    app_slug: str = "ambient"
    github_app_id: int | None = None
    github_private_key: SecretStr | None = None
    github_private_key_path: Path | None = None
    github_api_url: str = "https://api.github.com"
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_max_concurrency: int = Field(default=4, ge=1)
    llm_timeout_s: float = Field(default=120.0, gt=0)
    # Optional per-role models on the same endpoint (the planner may be a stronger model than
    # the coder, a reviewer a different one); each falls back to `llm_model`.
    llm_planner_model: str | None = None
    llm_coder_model: str | None = None
    llm_reviewer_model: str | None = None
    llm_specialist_model: str | None = None
    llm_job_tokens: int | None = Field(default=None, ge=1)
    # Model-driven jobs take minutes, not arq's default 300 s.
    job_timeout_s: int = Field(default=1800, ge=10)
    sandbox: Literal["docker", "bwrap"] = "docker"
    sandbox_image: str = "ambient-sandbox:latest"
    # Docker only: "runsc" lets an operator who requires gVisor say so instead of falling back.
    sandbox_runtime: Literal["auto", "runc", "runsc"] = "auto"
    workspace_root: Path = Path(tempfile.gettempdir()) / "ambient-workspaces"
    # GitHub keeps failed deliveries for 3 days: remember ids at least that long.
    dedupe_ttl_s: int = Field(default=72 * 3600, ge=72 * 3600)
    max_body_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    # GitHub sends a few kilobytes of headers, fast; what takes longer is not GitHub.
    receiver_header_bytes: int = Field(default=64 * 1024, ge=1024)
    receiver_header_count: int = Field(default=100, ge=10)
    receiver_header_timeout_s: float = Field(default=10.0, gt=0)
    receiver_body_timeout_s: float = Field(default=30.0, gt=0)
    receiver_keepalive_s: float = Field(default=5.0, gt=0)
    receiver_max_connections: int = Field(default=1024, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # arq's default; each job mostly waits on the model, git and the sandbox.
    worker_max_jobs: int = Field(default=10, ge=1, le=500)
    # GitHub never redelivers a failed delivery by itself (handlers/redelivery.py does).
    redelivery_interval_min: int = Field(default=15, ge=0, le=60)
    setup: Literal["auto", "off"] = "auto"
    cache_dir: Path = Field(default_factory=default_cache_dir)
    setup_cache_bytes: int = Field(default=10 << 30, gt=0)
    # PyPI's index and files, and the npm registry; a mirror's host joins from its URL.
    setup_index_hosts: str = "pypi.org,files.pythonhosted.org,registry.npmjs.org"
    setup_index_url: str = ""
    setup_ca_bundle: Path | None = None
    setup_timeout_s: float = Field(default=900.0, gt=0)

    @field_validator("setup_index_url")
    @classmethod
    def _index_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    def role_model(self, role: str) -> str:
        """The model `role` (planner, coder, reviewer, specialist) uses: its own setting, else
        AMBIENT_LLM_MODEL."""
        own = getattr(self, f"llm_{role}_model", None)
        return str(own or self.llm_model or "")

    @property
    def index_hosts(self) -> tuple[str, ...]:
        """The hosts setup may reach (besides the index URL's)."""
        return tuple(h.strip() for h in self.setup_index_hosts.split(",") if h.strip())

    @field_validator("github_api_url", "llm_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("app_slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c == "-" for c in value):
            raise ValueError("must be letters, digits and dashes")
        return value.lower()

    @model_validator(mode="after")
    def _secrets_not_blank(self) -> Settings:
        if self.webhook_secret is not None and not self.webhook_secrets:
            raise ValueError("AMBIENT_WEBHOOK_SECRET is set but holds no secret")
        return self

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        """The accepted webhook secrets: the first signs, all verify (rotation)."""
        if self.webhook_secret is None:
            return ()
        parts = self.webhook_secret.get_secret_value().split(",")
        return tuple(p.strip() for p in parts if p.strip())

    def private_key_pem(self) -> str | None:
        """The App's private key, from the variable or the file it names."""
        if self.github_private_key is not None:
            return self.github_private_key.get_secret_value().replace("\\n", "\n")
        if self.github_private_key_path is not None:
            try:
                return self.github_private_key_path.read_text()
            except OSError as exc:
                raise ConfigError(
                    f"AMBIENT_GITHUB_PRIVATE_KEY_PATH: cannot read {self.github_private_key_path}"
                    f" ({exc.strerror}); put {SETTING_HINTS['github_private_key_path']}"
                ) from None
        return None


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    variable = ENV_PREFIX + field.upper() if field else "settings"
    hint = SETTING_HINTS.get(field)
    message = first["msg"].removeprefix("Value error, ")
    return f"{variable}: {message}" + (f"; put {hint} there" if hint else "")


def load_settings(
    env: Mapping[str, str] | None = None, *, require: tuple[str, ...] = ()
) -> Settings:
    """Build the settings from `env` (default: the process environment).

    Raises `ConfigError` with one line naming the variable when one is malformed, or when a
    name in `require` is unset.
    """
    try:
        if env is None:
            settings = Settings()
        else:
            relevant = {
                k[len(ENV_PREFIX) :].lower(): v for k, v in env.items() if k.startswith(ENV_PREFIX)
            }
            settings = Settings.model_validate(relevant)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    for name in require:
        if getattr(settings, name) in (None, ""):
            raise ConfigError(
                f"{ENV_PREFIX}{name.upper()} is not set; put {SETTING_HINTS[name]} there"
            )
    return settings
