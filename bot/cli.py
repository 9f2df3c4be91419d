"""The `ambient` command: argument parsing only; each subcommand calls into the package."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from bot import __version__
from bot.config import Settings, load_settings
from bot.errors import ConfigError

__all__ = ["main"]


def _settings(*required: str) -> Settings:
    try:
        return load_settings(require=required)
    except ConfigError as exc:
        _fail(str(exc))


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"ambient: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ambient")
def cli() -> None:
    """Ambient: propose, verify and publish code fixes; a person decides what merges."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Run the webhook receiver (POST /webhook, /healthz, /readyz, /metrics)."""
    import uvicorn

    from bot.telemetry import configure_logging
    from bot.web import create_app

    settings = _settings("webhook_secret")
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        server_header=False,
    )


@cli.command()
def worker() -> None:
    """Run a worker that takes jobs from Redis."""
    from bot.telemetry import configure_logging
    from bot.worker import create_worker

    settings = _settings()
    configure_logging(settings.log_level)
    create_worker(settings).run()


@cli.group()
def config() -> None:
    """Inspect Ambient's configuration."""


@config.command("env")
def config_env() -> None:
    """Print the AMBIENT_* variables as a Markdown table."""
    from bot.settings_doc import settings_table

    click.echo(settings_table(), nl=False)


def _add_commands() -> None:
    from agents.debug_cli import debug
    from agents.swarm_cli import swarm
    from bot.local_cli import fix, sweep, watch
    from bot.patch_cli import patch
    from bot.secret_cli import scan_diff
    from sandbox.cli import verify

    cli.add_command(patch, "patch")
    for command in (sweep, fix, watch, verify):
        cli.add_command(command)
    cli.add_command(scan_diff, "scan-diff")
    cli.add_command(debug, "debug")
    cli.add_command(swarm, "swarm")


_add_commands()


def main() -> None:
    """Entry point of the `ambient` console script."""
    cli()
