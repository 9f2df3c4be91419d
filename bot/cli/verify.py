"""`ambient verify PATH`: set up the repository's environment, run its checks in a sandbox,
and report each result.

Exit status 0 when every command passed, 1 when one failed, 2 when nothing could run (a refused
command, a missing sandbox, a bad config, a failed setup); errors are one line, never a
traceback.
Also runnable alone: `python -m bot.cli.verify PATH`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Final

import click

from bot.config import load_settings
from bot.errors import AmbientError, ConfigError
from bot.pipeline import (
    CONFIG_PATH,
    Environments,
    PipelineConfig,
    SetupChoice,
    SetupOptions,
    read_checks,
)
from bot.repo_config import load_repo_config_file
from sandbox import CommandPolicy, Result, SandboxKind
from sandbox.base import Command
from sandbox.verify import SetupRun

__all__ = ["verify"]

_TAIL_LINES: Final = 30


@click.command("verify")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--sandbox",
    "kind",
    type=click.Choice(["docker", "bwrap"]),
    default=None,
    help="Backend; default AMBIENT_SANDBOX, else docker.",
)
@click.option(
    "--cmd",
    "lines",
    multiple=True,
    help="Command to run instead of the configured checks (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--timeout", "timeout_s", type=float, default=600.0, show_default=True)
@click.option(
    "--setup/--no-setup",
    default=None,
    help="Install the project and its test dependencies first (cached); default: AMBIENT_SETUP.",
)
@click.pass_context
def verify(
    ctx: click.Context,
    path: Path,
    kind: SandboxKind | None,
    lines: tuple[str, ...],
    as_json: bool,
    timeout_s: float,
    setup: bool | None,
) -> None:
    """Run the checks of the repository at PATH in a sandbox; exit 0 only if all passed."""
    try:
        settings = load_settings()
        chosen: SandboxKind = kind or settings.sandbox
        checks = read_checks(path)
        commands = [Command.parse(line, timeout_s=timeout_s) for line in lines or checks.commands]
        if not commands:
            raise ConfigError(
                f"no checks configured or detected in {path}: pass --cmd, or list them under"
                f" verify.commands in {CONFIG_PATH}"
            )
        policy = CommandPolicy().extended(checks.allow, CONFIG_PATH)
        for command in commands:
            policy.check(command.argv)
        wanted = load_repo_config_file(path).config.setup
        wanted_setup = settings.setup == "auto" if setup is None else setup
        environments = Environments(SetupOptions.from_settings(settings)) if wanted_setup else None
        choice = SetupChoice(
            environments, f"local:{path.resolve()}", tuple(wanted.commands), wanted.python
        )
        config = PipelineConfig.from_settings(settings, sandbox=chosen, setup=choice)
        ran, results = asyncio.run(_run_all(config, path, commands, policy))
    except (AmbientError, ValueError) as exc:
        click.echo(f"ambient verify: {exc}", err=True)
        ctx.exit(2)
    passed = bool(results) and all(r.ok for r in results)
    if as_json:
        document = _document(chosen, path, commands, results, passed)
        click.echo(json.dumps({**document, "setup": ran.as_dict() if ran else None}, indent=2))
    elif ran is not None and (ran.runs or ran.cached or not ran.ok):
        click.echo(ran.line())
    if ran is not None and not ran.ok:
        if not as_json:
            _print_tail(ran)
        ctx.exit(2)
    if not as_json:
        _print_human(chosen, commands, results)
    ctx.exit(0 if passed else 1)


async def _run_all(
    config: PipelineConfig, path: Path, commands: list[Command], policy: CommandPolicy
) -> tuple[SetupRun | None, list[Result]]:
    environments = config.setup.environments
    prepared = None
    try:
        prepared = await config.set_up(path)
        if prepared is not None and not prepared.run.ok:
            return prepared.run, []
        provision = prepared.provision if prepared else None
        async with config.sandbox_on(path, policy, provision) as sandbox:
            results = [await sandbox.run(command) for command in commands]
        return (prepared.run if prepared else None), results
    finally:
        if prepared is not None:
            prepared.release()
        if environments is not None:
            await environments.close()


def _print_tail(ran: SetupRun) -> None:
    failed = next((r for r in ran.runs if not r.ok), None)
    if failed is not None:
        for line in failed.output_tail.rstrip().splitlines()[-_TAIL_LINES:]:
            click.echo(f"  | {line}")


def _verdict(result: Result) -> str:
    if result.timed_out:
        return "TIMEOUT"
    if result.oom_killed:
        return "OOM"
    if result.workspace_exceeded:
        return "DISK"
    return "PASS" if result.ok else "FAIL"


def _print_human(kind: SandboxKind, commands: list[Command], results: list[Result]) -> None:
    for command, result in zip(commands, results, strict=True):
        click.echo(
            f"{_verdict(result):<7} {command}  (exit {result.exit_code}, {result.duration_s:.2f}s)"
        )
        if not result.ok:
            output = (result.stdout + result.stderr).rstrip().splitlines()[-_TAIL_LINES:]
            for line in output:
                click.echo(f"  | {line}")
    failed = sum(not r.ok for r in results)
    click.echo(
        f"{len(results)} command(s) in the {kind} sandbox: {len(results) - failed} passed,"
        f" {failed} failed"
    )


def _document(
    kind: SandboxKind, path: Path, commands: list[Command], results: list[Result], passed: bool
) -> dict[str, object]:
    return {
        "sandbox": kind,
        "path": str(path.resolve()),
        "passed": passed,
        "results": [
            {
                "command": str(command),
                "verdict": _verdict(result),
                "exit_code": result.exit_code,
                "duration_s": round(result.duration_s, 3),
                "timed_out": result.timed_out,
                "oom_killed": result.oom_killed,
                "workspace_exceeded": result.workspace_exceeded,
                "truncated": result.truncated,
                "stdout": result.stdout,
                "stderr": result.stderr,
            }
            for command, result in zip(commands[: len(results)], results, strict=True)
        ],
    }


if __name__ == "__main__":
    verify()
