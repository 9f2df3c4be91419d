"""`ambient stats OWNER/REPO`: what became of Ambient's proposals in one repository, per
specialist, read from GitHub (the record the sweeps decide from), not from Redis."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Final

import click

from bot.cli.env import fail, server_settings
from bot.errors import AmbientError

__all__ = ["stats"]

#: Reading PRs is all `stats` does: the token it asks for can do nothing else.
READ_ONLY: Final = {"pull_requests": "read", "metadata": "read"}


async def _records(full_name: str) -> tuple[dict[str, dict[str, object]], str]:
    from bot.flows.memory import remember, stats_table
    from bot.github import GitHubApp

    settings = server_settings("github_app_id")
    key = settings.private_key_pem()
    if settings.github_app_id is None or key is None:
        fail("AMBIENT_GITHUB_APP_ID and the App's private key are not set")
    owner, name = full_name.split("/", 1)
    async with GitHubApp(
        app_id=settings.github_app_id,
        private_key=key,
        base_url=settings.github_api_url,
        app_slug=settings.app_slug,
    ) as app:
        installation = await app.installation_for(owner, name)
        gh = await app.installation_client(installation, owner, name, READ_ONLY)
        memory = remember(await gh.list_pulls("all"), gh.bot_login)
    records = memory.records()
    return {agent: asdict(r) for agent, r in records.items()}, stats_table(records)


@click.command()
@click.argument("repository", metavar="OWNER/REPO")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def stats(repository: str, as_json: bool) -> None:
    """Per specialist: proposed, merged, closed, reverted, open, median hours to merge."""
    if repository.count("/") != 1 or not all(repository.split("/")):
        fail(f"{repository!r} is not OWNER/REPO")
    try:
        figures, table = asyncio.run(_records(repository))
    except AmbientError as exc:
        fail(str(exc), 1)
    if as_json:
        click.echo(json.dumps(figures, indent=2, sort_keys=True))
    else:
        click.echo(table or f"no proposal of Ambient's in {repository} yet")
