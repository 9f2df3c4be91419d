"""`ambient debug …`: look at what the agents would be given, without calling a model.

The `debug` group is added to the `ambient` command; `python -m bot.cli.debug` runs it alone.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from agents.context import RepoUnreadable, build_pack, read_repo
from agents.pack import ContextPack
from agents.pack_render import render_pack
from bot.cli.env import fail

__all__ = ["debug"]

DEFAULT_BUDGET_TOKENS = 60_000


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def debug() -> None:
    """Inspect what Ambient would show a model, without calling one."""


@debug.command("context")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--log",
    "log_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A failure log (CI job log, test output) to find hot paths in.",
)
@click.option("--touch", multiple=True, help="A path the change edits (repeatable).")
@click.option(
    "--budget",
    default=DEFAULT_BUDGET_TOKENS,
    show_default=True,
    type=click.IntRange(min=100),
    help="Token budget of the pack.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the selection as JSON.")
@click.option("--render", is_flag=True, help="Print the pack's prompt text itself.")
def context(
    path: Path,
    log_file: Path | None,
    touch: tuple[str, ...],
    budget: int,
    as_json: bool,
    render: bool,
) -> None:
    """Show the repository pack for the checkout at PATH: files chosen, why, and hot paths."""
    try:
        repo = asyncio.run(read_repo(path))
    except RepoUnreadable as exc:
        fail(str(exc))
    log = log_file.read_text(encoding="utf-8", errors="replace") if log_file else ""
    pack = build_pack(repo, budget_tokens=budget, log=log, touched=touch)
    if as_json:
        click.echo(json.dumps(pack.as_dict(), indent=2))
    elif render:
        click.echo(render_pack(pack), nl=False)
    else:
        click.echo(_describe(path, pack, len(repo.paths)))


def _describe(path: Path, pack: ContextPack, tracked: int) -> str:
    out = [
        f"context pack for {path}: {pack.used_tokens:,} of {pack.budget_tokens:,} tokens; "
        f"{tracked} files tracked, {len(pack.tree)} listed"
    ]
    if pack.log_tail:
        out.append(f"log tail: {len(pack.log_tail.splitlines())} lines")
    if pack.hot_paths:
        out.append("hot paths:")
        width = max(len(h.path) for h in pack.hot_paths)
        for hot in pack.hot_paths:
            lines = ", ".join(map(str, hot.lines)) or "-"
            kinds = ", ".join(hot.kinds)
            out.append(f"  {hot.path:<{width}}  lines {lines}  ({hot.mentions} mentions: {kinds})")
    if pack.files:
        out.append("files:")
        width = max(len(f.path) for f in pack.files)
        for packed in pack.files:
            note = " excerpt" if packed.lines else " cut short" if packed.truncated else ""
            out.append(
                f"  {packed.reason:<9}  {packed.path:<{width}}  {packed.tokens:>7,} tokens{note}"
            )
    if pack.names_only:
        out.append("names only (no room):")
        out.extend(f"  {reason:<9}  {name}" for name, reason in pack.names_only)
    return "\n".join(out)


if __name__ == "__main__":
    debug()
