"""The `ambient` command: argument parsing and printing; each sub-command calls into the package."""

from __future__ import annotations

from bot.cli.main import main

__all__ = ["main"]
