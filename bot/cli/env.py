"""What every sub-command shares: settings read from the environment, and the one way to fail."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click

from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["fail", "server_settings"]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `ambient: <message>` on stderr and exit with `code` (2: the input was wrong)."""
    click.echo(f"ambient: {message}", err=True)
    sys.exit(code)


def server_settings(*required: str) -> Settings:
    """The server settings, with `required` ones set, or a one-line failure."""
    from bot.config import load_settings

    try:
        return load_settings(require=required)
    except ConfigError as exc:
        fail(str(exc))
