"""`ambient swarm PATH --task TEXT --glob PATTERN`: one model call per matching file.

The `swarm` command is added to the `ambient` group; `python -m bot.cli.swarm` runs it
alone. It proposes diffs and prints them; it never writes to the working tree. Exit status:
0 when every file was handled, 1 when some failed, 2 when it could not start.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress

from agents.dispatch import DispatchError, DispatchReport, FileResult, dispatch
from agents.llm import OpenAIModel
from bot.cli.env import fail
from bot.config import Settings, load_settings
from bot.errors import ConfigError

__all__ = ["swarm"]

NO_MODEL = (
    "no model configured: set AMBIENT_LLM_BASE_URL (an OpenAI-compatible base URL such as "
    "https://api.openai.com/v1) and AMBIENT_LLM_MODEL (the model name it serves), and "
    "AMBIENT_LLM_API_KEY if the endpoint needs a key"
)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(str(exc))
    if not settings.llm_base_url or not settings.llm_model:
        fail(NO_MODEL)
    return settings


async def _run(
    settings: Settings,
    root: Path,
    task: str,
    pattern: str,
    concurrency: int,
    max_files: int,
    progress: Callable[[int, FileResult | None], None] | None = None,
) -> DispatchReport:
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    model = OpenAIModel(
        base_url=str(settings.llm_base_url),
        model=str(settings.llm_model),
        api_key=key,
        timeout_s=settings.llm_timeout_s,
        max_concurrency=concurrency,
    )
    try:
        return await dispatch(
            model,
            root,
            task,
            pattern,
            concurrency=concurrency,
            max_files=max_files,
            progress=progress,
        )
    finally:
        await model.aclose()


def _describe(report: DispatchReport) -> str:
    out = [f"swarm: {report.summary()}"]
    width = max(len(r.path) for r in report.results)
    for result in report.results:
        if not result.ok:
            out.append(f"  failed  {result.path:<{width}}  {result.error}")
            continue
        titles = "; ".join(p.title for p in result.proposals) or "no change"
        out.append(f"  ok      {result.path:<{width}}  {titles}")
        out.extend(f"          {'':<{width}}  note: {note}" for note in result.notes)
    for result in report.results:
        for proposal in result.proposals:
            out += ["", f"# {result.path}: {proposal.title}", proposal.diff.rstrip("\n")]
    return "\n".join(out)


@click.command("swarm", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--task", required=True, help="What to do to each file, in plain words.")
@click.option(
    "--glob", "pattern", required=True, help="Files to take, relative to PATH (e.g. 'src/**/*.py')."
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="Model calls in flight at once [default: AMBIENT_LLM_MAX_CONCURRENCY].",
)
@click.option(
    "--max-files",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Refuse a glob that matches more files than this.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON, diffs included.")
def swarm(
    path: Path,
    task: str,
    pattern: str,
    concurrency: int | None,
    max_files: int,
    as_json: bool,
) -> None:
    """Propose a change to every file under PATH matching --glob, one model call per file."""
    if not task.strip():
        fail("--task is empty; say what to do to each file")
    settings = _settings()
    limit = concurrency or settings.llm_max_concurrency
    console = Console(stderr=True)
    bar = Progress(transient=True, console=console, disable=as_json or not console.is_terminal)
    job = bar.add_task("files", total=None)

    def advance(total: int, done: FileResult | None) -> None:
        bar.update(job, total=total, advance=0 if done is None else 1)

    try:
        with bar:
            report = asyncio.run(
                _run(settings, path, task.strip(), pattern, limit, max_files, advance)
            )
    except DispatchError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(_describe(report))
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    swarm()
