"""The `ambient` command: argument parsing only; each subcommand calls into the package."""

from __future__ import annotations

import sys

import click

from bot import __version__
from bot.cli.env import fail, server_settings

__all__ = ["main"]


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


def _add_commands() -> None:
    from bot.cli.app import app
    from bot.cli.debug import debug
    from bot.cli.jobs import jobs
    from bot.cli.local import fix, sweep, watch
    from bot.cli.patch import patch
    from bot.cli.secrets import scan_diff
    from bot.cli.swarm import swarm
    from bot.cli.verify import verify

    cli.add_command(patch, "patch")
    for command in (sweep, fix, watch, verify):
        cli.add_command(command)
    cli.add_command(scan_diff, "scan-diff")
    cli.add_command(debug, "debug")
    cli.add_command(swarm, "swarm")
    cli.add_command(app, "app")
    cli.add_command(jobs, "jobs")


_add_commands()


def main() -> None:
    """Entry point of the `ambient` console script."""
    cli()
