"""`ambient sweep | fix | watch PATH`: the pipeline on a local checkout."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from agents.fixer import FixTask
from agents.llm import LLM, BudgetedModel, OpenAIModel
from agents.specialists import enabled, read_config
from agents.usage import TokenBudget
from bot.cli.env import fail
from bot.config import Settings, load_settings
from bot.errors import AmbientError
from bot.flows import LocalRun, local_fix, local_sweep
from bot.pipeline import (
    Environments,
    PipelineConfig,
    Report,
    SetupChoice,
    SetupOptions,
    gate_options,
    render_json,
    render_terminal,
)
from bot.repo_config import RepoConfig, load_repo_config_file
from sandbox import SandboxKind

__all__ = ["fix", "sweep", "watch"]

T = TypeVar("T")
SANDBOXES = click.Choice(["docker", "bwrap"])


def _sandbox(choice: str | None, settings: Settings) -> SandboxKind:
    """--sandbox, else AMBIENT_SANDBOX, else bubblewrap when installed (no daemon), else docker."""
    if choice in ("docker", "bwrap"):
        return choice  # type: ignore[return-value]
    if "AMBIENT_SANDBOX" in os.environ:
        return settings.sandbox
    return "bwrap" if shutil.which("bwrap") else "docker"


def _model(settings: Settings) -> LLM | None:
    """The configured model, held to the per-job token budget when one is set."""
    if not (settings.llm_base_url and settings.llm_model):
        return None
    model = OpenAIModel.from_settings(settings)
    if settings.llm_job_tokens is None:
        return model
    return BudgetedModel(model, TokenBudget(settings.llm_job_tokens))


def prepare(path: str, sandbox: str | None) -> tuple[Settings, LocalRun, RepoConfig]:
    """Settings, the run description and the repository config for a checkout at `path`;
    one-line errors. The checkout's own config applies as the App applies the default
    branch's: its `setup`, `verify`, `risk` and `paths`; each problem in it is one line on
    stderr, and the key takes its default."""
    try:
        settings = load_settings()
    except AmbientError as exc:
        fail(str(exc))
    target = Path(path).resolve()
    if not (target / ".git").exists():
        fail(f"{target} is not a git checkout (no .git)")
    loaded = load_repo_config_file(target)
    for problem in loaded.problems:
        click.echo(f"ambient: {problem}", err=True)
    wanted = loaded.config.setup
    on = settings.setup == "auto"
    environments = Environments(SetupOptions.from_settings(settings)) if on else None
    setup = SetupChoice(environments, f"local:{target}", tuple(wanted.commands), wanted.python)
    config = PipelineConfig.from_settings(
        settings,
        sandbox=_sandbox(sandbox, settings),
        setup=setup,
        gates=gate_options(loaded.config),
    )
    run = LocalRun(target, settings.workspace_root, config, _model(settings))
    return settings, run, loaded.config


def closing(
    run: LocalRun, action: Callable[[], Coroutine[Any, Any, T]]
) -> Callable[[], Coroutine[Any, Any, T]]:
    """`action`, then the run's setup proxy stopped, whatever happened."""

    async def main() -> T:
        try:
            return await action()
        finally:
            if run.config.setup.environments is not None:
                await run.config.setup.environments.close()

    return main


def execute(action: Callable[[], Coroutine[Any, Any, T]], status: str, quiet: bool) -> T:
    """Run `action` with a spinner on stderr; an `AmbientError` becomes one line and exit 2."""
    console = Console(stderr=True)
    try:
        if quiet:
            return asyncio.run(action())
        with console.status(status):
            return asyncio.run(action())
    except AmbientError as exc:
        fail(str(exc))


def show(report: Report, as_json: bool) -> None:
    if as_json:
        click.echo(render_json(report))
    else:
        render_terminal(report, Console())


@click.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--agents",
    default="",
    help="Comma-separated specialists (default: the checkout's sweep.agents, else all enabled).",
)
@click.option("--sandbox", type=SANDBOXES, default=None, help="Sandbox backend.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def sweep(path: str, agents: str, sandbox: str | None, as_json: bool) -> None:
    """Run the quality sweep on the checkout at PATH; proposals become review branches.

    The checkout's `.github/ambient.yml` chooses and tunes the specialists (`agents`,
    `sweep.agents`) unless --agents names them."""
    _, run, config = prepare(path, sandbox)
    names = [n.strip() for n in agents.split(",") if n.strip()]
    try:
        chosen = read_config({"enabled": names}).enabled if names else config.sweep_agents()
    except AmbientError as exc:
        fail(str(exc))
    tuned = replace(
        config.specialists, enabled=tuple(dict.fromkeys((*config.specialists.enabled, *chosen)))
    )
    specialists = [s for s in enabled(tuned) if s.name in chosen]
    report = execute(
        closing(
            run,
            lambda: local_sweep(run, agents=tuned, specialists=specialists, ruff="ruff" in chosen),
        ),
        "sweeping…",
        as_json,
    )
    show(report, as_json)


@click.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--task", required=True, help="What to fix, in words.")
@click.option(
    "--log", "log_file", type=click.Path(exists=True, dir_okay=False), help="Failure output."
)
@click.option("--sandbox", type=SANDBOXES, default=None, help="Sandbox backend.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def fix(path: str, task: str, log_file: str | None, sandbox: str | None, as_json: bool) -> None:
    """Fix TASK in the checkout at PATH; a verified fix becomes a review branch."""
    _, run, _ = prepare(path, sandbox)
    model = run.model
    if model is None:
        fail("fix needs a model: set AMBIENT_LLM_BASE_URL and AMBIENT_LLM_MODEL")
    log = Path(log_file).read_text(errors="replace") if log_file else ""
    report = execute(
        closing(run, lambda: local_fix(run, model, FixTask(task, log))), "fixing…", as_json
    )
    show(report, as_json)
    if report.outcomes and report.outcomes[0].fate == "failed":
        sys.exit(1)


@click.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--debounce", default=2.0, show_default=True, help="Quiet seconds before a sweep.")
@click.option("--interval", default=3600.0, show_default=True, help="Seconds between full scans.")
@click.option("--sandbox", type=SANDBOXES, default=None, help="Sandbox backend.")
def watch(path: str, debounce: float, interval: float, sandbox: str | None) -> None:
    """Sweep what changes under PATH (and what imports it), and everything every --interval."""
    from bot.flows import watch_checkout

    _, run, config = prepare(path, sandbox)
    console = Console()
    agents = config.specialists

    def watching() -> Coroutine[Any, Any, None]:
        return watch_checkout(run, console, debounce_s=debounce, interval_s=interval, agents=agents)

    try:
        asyncio.run(closing(run, watching)())
    except KeyboardInterrupt:
        console.print("stopped")
    except AmbientError as exc:
        fail(str(exc))
