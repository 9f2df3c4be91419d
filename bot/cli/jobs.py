"""`ambient jobs`: what arq's queue holds, why jobs failed, re-running them, exporting it all."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final, TypeVar

import click
import orjson

from bot.cli.env import fail, server_settings
from bot.errors import QueueUnavailable
from bot.jobs import STATES, JobRecord, JobStore, RetryStep, open_store, plan_retries
from bot.redact import redact

__all__ = ["jobs"]

T = TypeVar("T")
COLUMNS: Final = ("ID", "FUNCTION", "STATE", "TRIES", "ENQUEUED", "STARTED", "FINISHED", "DETAIL")


@click.group()
def jobs() -> None:
    """Inspect arq's job queue in Redis (AMBIENT_REDIS_URL) and re-run failed jobs."""


@jobs.command("list")
@click.option(
    "--state",
    type=click.Choice([*STATES, "all"]),
    default="all",
    show_default=True,
    help="Only jobs in this state.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON (see export).")
def list_jobs(state: str, as_json: bool) -> None:
    """One line per job: id, function, state, tries, times (UTC), and why a failed job failed."""
    records = _run(lambda store: store.snapshot())
    shown = [r for r in records if state in ("all", r.state)]
    if as_json:
        click.echo(_dumps(shown), nl=False)
        return
    for line in _table(shown):
        click.echo(line)
    counts = ", ".join(f"{sum(r.state == s for r in records)} {s}" for s in STATES)
    click.echo(f"{len(shown)} of {len(records)} job(s) shown; in Redis: {counts}")


@jobs.command("show")
@click.argument("job_id", metavar="ID")
@click.option("--full", is_flag=True, help="Also print the whole webhook body.")
def show(job_id: str, full: bool) -> None:
    """Everything known about one job; exit 1 when Redis has no job with this ID."""
    record = _run(lambda store: store.get(job_id))
    if record is None:
        fail(f"no job {job_id} in Redis (results are kept for 24 h)", code=1)
    for name, value in _details(record):
        click.echo(f"{name + ':':<17}{value}")
    if full:
        click.echo("arguments:")
        for arg in record.args:
            click.echo(redact(arg if isinstance(arg, str) else orjson.dumps(arg).decode()))


@jobs.command("retry-failed")
@click.option("--dry-run", is_flag=True, help="Say what would be enqueued, enqueue nothing.")
@click.option("--function", "function", metavar="NAME", help="Only failed jobs of this function.")
def retry_failed(dry_run: bool, function: str | None) -> None:
    """Enqueue each failed job again under ID:retryN, unless an attempt is queued or running.

    The same function and arguments run again; jobs are idempotent, so what a failed job had
    already published is found again, not duplicated.
    """

    async def work(store: JobStore) -> list[str]:
        steps = plan_retries(await store.snapshot(), function)
        return [await _retry(store, step, dry_run) for step in steps]

    lines = _run(work)
    for line in lines:
        click.echo(line)
    verb = "would enqueue" if dry_run else "enqueued"
    made = sum(line.startswith(("retried", "would retry")) for line in lines)
    click.echo(f"{verb} {made} job(s); {len(lines) - made} failed job(s) skipped")


@jobs.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def export(file: str) -> None:
    """Write every job as a JSON list (fields in docs/jobs.md) to FILE, atomically; - is stdout."""
    records = _run(lambda store: store.snapshot())
    text = _dumps(records)
    if file == "-":
        click.echo(text, nl=False)
        return
    try:
        _write_atomically(Path(file), text)
    except OSError as exc:
        fail(f"{file}: cannot be written ({exc.strerror or exc})")
    click.echo(f"exported {len(records)} job(s) to {file}")


async def _retry(store: JobStore, step: RetryStep, dry_run: bool) -> str:
    job = step.job
    if step.new_id is None:
        return f"skipped {job.id} ({job.function}): {step.why}"
    if dry_run:
        return f"would retry {job.id} ({job.function}) as {step.new_id}"
    if await store.enqueue_retry(step):
        return f"retried {job.id} ({job.function}) as {step.new_id}"
    return f"skipped {job.id} ({job.function}): {step.new_id} was enqueued meanwhile"


def _run(work: Callable[[JobStore], Awaitable[T]]) -> T:
    settings = server_settings()

    async def main() -> T:
        async with open_store(settings.redis_url) as store:
            return await work(store)

    try:
        return asyncio.run(main())
    except QueueUnavailable as exc:
        fail(str(exc))


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _detail(record: JobRecord) -> str:
    if record.state == "failed":
        detail = record.reason or ""
        return detail + (f" (retried as {record.retried_as})" if record.retried_as else "")
    if record.state == "queued" and record.due_at is not None:
        return f"due {_when(record.due_at)}"
    if record.state == "done" and record.outcome not in (None, "done"):
        return f"outcome {record.outcome}"
    return ""


def _table(records: Sequence[JobRecord]) -> list[str]:
    rows = [COLUMNS] + [
        (
            r.id,
            r.function,
            r.state,
            str(r.tries),
            _when(r.enqueued_at),
            _when(r.started_at),
            _when(r.finished_at),
            _detail(r),
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return [
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]
        ).rstrip()
        for row in rows
    ]


def _details(record: JobRecord) -> list[tuple[str, str]]:
    data = record.to_json()
    details = [(name.replace("_", " "), _shown(value)) for name, value in data.items()]
    details = [(name, value) for name, value in details if value]
    if record.body_bytes is not None:
        details.append(("arguments", "the spec and the webhook body (--full prints them)"))
    elif record.args:
        details.append(("arguments", f"{len(record.args)} (--full prints them)"))
    return details


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _dumps(records: Sequence[JobRecord]) -> str:
    return orjson.dumps([r.to_json() for r in records], option=orjson.OPT_INDENT_2).decode() + "\n"


def _write_atomically(path: Path, text: str) -> None:
    # A reader (or a crash) never sees half an export: write beside it, then rename over it.
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as handle:
        try:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        except OSError:
            os.unlink(handle.name)
            raise
    try:
        os.replace(handle.name, path)
    except OSError:
        os.unlink(handle.name)
        raise
