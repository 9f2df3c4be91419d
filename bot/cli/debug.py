"""`ambient debug …`: look at what the agents would be given, without calling a model.

The `debug` group is added to the `ambient` command; `python -m bot.cli.debug` runs it alone.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from agents.analysis import analyse_checkout
from agents.context import RepoUnreadable, build_pack, read_repo
from agents.pack import ContextPack
from agents.pack_render import render_pack
from agents.specialists import SPECIALISTS, canonical_name
from agents.sweep_pack import SWEEP_BUDGET_TOKENS, SweepPlan, plan_sweep
from bot.cli.env import fail
from bot.flows.local import load_local_cursor
from bot.patch import glob_matches
from bot.repo_config import load_repo_config_file

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
    "--agent",
    default=None,
    help="A specialist (security, refactor, style, performance, tests): show what it would be "
    "shown in the next sweep.",
)
@click.option(
    "--budget",
    default=None,
    type=click.IntRange(min=100),
    help=f"Token budget of the pack [default: {DEFAULT_BUDGET_TOKENS:,}; with --agent, the "
    f"sweep's {SWEEP_BUDGET_TOKENS:,}].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the selection as JSON.")
@click.option("--render", is_flag=True, help="Print the pack's prompt text itself.")
def context(
    path: Path,
    log_file: Path | None,
    touch: tuple[str, ...],
    agent: str | None,
    budget: int | None,
    as_json: bool,
    render: bool,
) -> None:
    """Show the repository pack for the checkout at PATH: files chosen, why, and hot paths."""
    try:
        repo = asyncio.run(read_repo(path))
    except RepoUnreadable as exc:
        fail(str(exc))
    if agent is not None:
        if log_file is not None:
            fail("--log is for a fix's pack; a sweep's pack (--agent) reads no failure log")
        name = _specialist(agent)
        plan = _sweep_plan(path, name, budget or SWEEP_BUDGET_TOKENS, touch)
        pack = plan.packs[name]
        if as_json:
            click.echo(
                json.dumps({"agent": name, "turn": list(plan.turn), **pack.as_dict()}, indent=2)
            )
            return
    else:
        log = log_file.read_text(encoding="utf-8", errors="replace") if log_file else ""
        pack = build_pack(
            repo, budget_tokens=budget or DEFAULT_BUDGET_TOKENS, log=log, touched=touch
        )
        if as_json:
            click.echo(json.dumps(pack.as_dict(), indent=2))
            return
    if render:
        click.echo(render_pack(pack), nl=False)
    else:
        click.echo(_describe(path, pack, len(repo.paths)))


def _specialist(agent: str) -> str:
    name = canonical_name(agent)
    if name is None or name not in SPECIALISTS:
        fail(f"--agent {agent}: not a model specialist; choose one of {', '.join(SPECIALISTS)}")
    return name


def _sweep_plan(path: Path, name: str, budget: int, touched: tuple[str, ...]) -> SweepPlan:
    """The next sweep of the checkout as its own config and cursor make it: its specialists
    (with `name` among them), their tuning, `paths.ignore`, and the turn where the last local
    sweep left off."""
    config = load_repo_config_file(path).config
    agents = config.specialists
    wanted = {*config.sweep_agents(), name}
    specialists = [s for s in SPECIALISTS.values() if s.name in wanted]
    forbidden = config.path_policy().forbidden

    async def plan() -> SweepPlan:
        repo = await read_repo(path)
        analysis = await analyse_checkout(
            path, repo, agents, skip=lambda p: any(glob_matches(g, p) for g in forbidden)
        )
        cursor = await asyncio.to_thread(load_local_cursor, path)
        return plan_sweep(
            analysis, specialists, agents, cursor=cursor, job="debug", budget_tokens=budget,
            touched=touched,
        )  # fmt: skip

    return asyncio.run(plan())


def _describe(path: Path, pack: ContextPack, tracked: int) -> str:
    out = [
        f"context pack for {path}: {pack.used_tokens:,} of {pack.budget_tokens:,} tokens; "
        f"{tracked} files tracked, {len(pack.tree)} listed"
    ]
    if pack.repo_map is not None:
        shown = pack.repo_map
        out.append(
            f"map: {shown.tokens:,} tokens, the definitions of {shown.files} of {shown.indexed} "
            f"Python files; {len(pack.findings)} findings listed"
        )
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
                + (f"  ({packed.detail})" if packed.detail else "")
            )
    if pack.names_only:
        out.append("names only (no room):")
        out.extend(f"  {reason:<9}  {name}" for name, reason in pack.names_only)
    return "\n".join(out)


if __name__ == "__main__":
    debug()
