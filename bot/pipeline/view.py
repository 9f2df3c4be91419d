"""How a pipeline report looks in a terminal (rich) and to machines (JSON)."""

from __future__ import annotations

import json
from typing import Final

from rich.console import Console
from rich.table import Table

from bot.pipeline.process import Report

__all__ = ["render_json", "render_terminal"]

_STYLE: Final = {
    "published": "green",
    "awaiting-approval": "yellow",
    "superseded": "dim",
}


def render_json(report: Report) -> str:
    """The report as one JSON document."""
    return json.dumps(report.as_dict(), indent=2)


def render_terminal(report: Report, console: Console) -> None:
    """The report as a table of proposals and their fates, notes first."""
    for note in report.notes:
        console.print(f"[bold yellow]note:[/] {note}")
    table = Table(title=f"ambient {report.kind}: {report.target}", show_lines=False)
    for column in ("fate", "agent", "proposal", "risk", "branch / reason"):
        table.add_column(column, overflow="fold")
    for outcome in report.outcomes:
        style = _STYLE.get(outcome.fate, "red")
        where = outcome.branch or outcome.reason
        table.add_row(
            f"[{style}]{outcome.fate}[/]", outcome.agent, outcome.title, outcome.risk, where
        )
    if report.outcomes:
        console.print(table)
    else:
        console.print("no proposals")
    for failure in report.failures:
        console.print(f"[red]failed:[/] {failure}")
    for finding in report.findings:
        console.print(f"[red]secret found (not changed; rotate it):[/] {finding}")
    if report.usage:
        console.print(f"model use: {report.usage}")
    if report.timings:
        stages = ", ".join(f"{stage} {seconds:.1f}s" for stage, seconds in report.timings)
        console.print(f"time: {stages}")
