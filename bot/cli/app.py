"""`ambient app …`: register the GitHub App Ambient runs as. Argument parsing only."""

from __future__ import annotations

import asyncio
import webbrowser
from pathlib import Path

import click

from bot.cli.env import fail
from bot.errors import AmbientError
from bot.github import CreateOptions, api_url_for, register_app

__all__ = ["app"]


@click.group()
def app() -> None:
    """Register the GitHub App Ambient runs as."""


def _ready(url: str, *, browser: bool) -> None:
    if browser and webbrowser.open(url):
        click.echo(f"Opened {url} in your browser: confirm the App on GitHub there.")
    else:
        click.echo(f"Open {url} in a browser signed in to GitHub, and confirm the App there.")


@app.command("create")
@click.option(
    "--webhook-url",
    required=True,
    help="Where GitHub will send webhooks: the public URL of the receiver's /webhook.",
)
@click.option("--org", default=None, help="Register the App for this organization, not you.")
@click.option(
    "--github-url",
    default="https://github.com",
    show_default=True,
    help="GitHub's web address (https://HOST for GitHub Enterprise Server).",
)
@click.option(
    "--api-url", default=None, help="The REST API. [default: api.github.com, or HOST/api/v3]"
)
@click.option("--name", default=None, help="The App's name (GitHub wants it unique). [app.yml]")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".env"),
    show_default=True,
    help="Where to write the AMBIENT_* settings (mode 0600); the key goes beside it.",
)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The app.yml to register. [the one shipped with Ambient]",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port of the local page on 127.0.0.1; 0 picks a free one.",
)
@click.option("--no-browser", is_flag=True, help="Print the local page's URL; open nothing.")
@click.option("--force", is_flag=True, help="Replace an existing env file and key file.")
def create(
    webhook_url: str,
    org: str | None,
    github_url: str,
    api_url: str | None,
    name: str | None,
    env_file: Path,
    manifest: Path | None,
    port: int,
    no_browser: bool,
    force: bool,
) -> None:
    """Register the App from app.yml with GitHub's manifest flow; write its settings."""
    try:
        options = CreateOptions(
            github_url=github_url.rstrip("/"),
            api_url=(api_url or api_url_for(github_url)).rstrip("/"),
            webhook_url=webhook_url,
            env_file=env_file,
            org=org,
            name=name,
            port=port,
            force=force,
            manifest=manifest,
        )
        registered = asyncio.run(
            register_app(options, lambda url: _ready(url, browser=not no_browser))
        )
    except AmbientError as exc:
        fail(f"app create: {exc}", 1)
    except KeyboardInterrupt:
        fail("app create: stopped; nothing was written", 130)
    click.echo(
        f"Registered the GitHub App {registered.app.name} (ID {registered.app.id}); wrote "
        f"{registered.env_file} and {registered.key_file}, both mode 0600."
    )
    if not registered.app.webhook_secret:
        click.echo(
            "GitHub sent no webhook secret: set one in the App's settings and add it to "
            f"{registered.env_file} as AMBIENT_WEBHOOK_SECRET."
        )
    click.echo(f"Install it on your repositories: {registered.install_url}")
