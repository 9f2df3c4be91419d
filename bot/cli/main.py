"""The `ambient` command: argument parsing only; each subcommand calls into the package.

Sub-commands are imported when they are asked for, not before: `ambient --version` or
`ambient scan-diff` should not pay for the GitHub client, the model client and the sandboxes
(importing every sub-command took about 1.5 s of CPU).
"""

from __future__ import annotations

import importlib
import sys
from typing import Final

import click

from bot import __version__
from bot.cli.env import fail, server_settings

__all__ = ["main"]

#: Sub-command name → (module, attribute), imported on first use.
LAZY_COMMANDS: Final = {
    "patch": ("bot.cli.patch", "patch"),
    "sweep": ("bot.cli.local", "sweep"),
    "fix": ("bot.cli.local", "fix"),
    "task": ("bot.cli.task", "task"),
    "watch": ("bot.cli.local", "watch"),
    "verify": ("bot.cli.verify", "verify"),
    "scan-diff": ("bot.cli.secrets", "scan_diff"),
    "debug": ("bot.cli.debug", "debug"),
    "swarm": ("bot.cli.swarm", "swarm"),
    "app": ("bot.cli.app", "app"),
    "jobs": ("bot.cli.jobs", "jobs"),
    "stats": ("bot.cli.stats", "stats"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, attribute = LAZY_COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)  # noqa: S101 (a table of our own)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ambient")
def cli() -> None:
    """Ambient: propose, verify and publish code fixes; a person decides what merges."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Run the webhook receiver (POST /webhook, /healthz, /readyz, /metrics)."""
    import uvicorn

    from bot.ingress import create_app, server_options
    from bot.telemetry import configure_logging

    settings = server_settings("webhook_secret")
    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=host, port=port, **server_options(settings))


@cli.command()
def worker() -> None:
    """Run a worker that takes jobs from Redis."""
    from redis.exceptions import RedisError

    from bot.jobs import create_worker
    from bot.redact import without_password
    from bot.telemetry import configure_logging

    settings = server_settings()
    configure_logging(settings.log_level)
    try:
        create_worker(settings).run()
    except (RedisError, OSError) as exc:
        # arq has retried the connection a few times already; the process manager restarts us.
        fail(f"redis unreachable at {without_password(settings.redis_url)}: {exc}", code=1)


@cli.group()
def config() -> None:
    """Inspect Ambient's configuration."""


@config.command("env")
def config_env() -> None:
    """Print the AMBIENT_* variables as a Markdown table."""
    from bot.cli.settings_doc import settings_table

    click.echo(settings_table(), nl=False)


@config.command("schema")
@click.option("--markdown", is_flag=True, help="Print the table of keys instead.")
def config_schema(markdown: bool) -> None:
    """Print the JSON Schema of .github/ambient.yml (for editors and CI)."""
    import json

    from bot.repo_config import json_schema, repo_config_table

    if markdown:
        click.echo(repo_config_table(), nl=False)
        return
    click.echo(json.dumps(json_schema(), indent=2))


@config.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def config_check(file: str) -> None:
    """Validate a repository config FILE: "FILE: ok", or one line per problem and exit 1."""
    from pathlib import Path

    from bot.repo_config import parse_repo_config

    try:
        text = Path(file).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        click.echo(f"{file}: is not UTF-8 text (byte {exc.start})")
        sys.exit(1)
    except OSError as exc:
        click.echo(f"{file}: cannot be read ({exc.strerror})")
        sys.exit(1)
    outcome = parse_repo_config(text, file)
    for problem in outcome.problems:
        click.echo(problem)
    if outcome.problems:
        sys.exit(1)
    click.echo(f"{file}: ok")


def main() -> None:
    """Entry point of the `ambient` console script."""
    cli()
