"""`ambient scan-diff FILE [--json]`: run the secret gate on a diff file (or "-" for stdin).

Exit status: 0 when the diff adds no secret, 1 when it does (the findings are printed, each
with a hash instead of the value, the rule that fired and why), 2 when the input cannot be
used. Every finding blocks the change; what a repository already holds is the sweep's report.
Runs on its own as `python -m bot.cli.secrets` too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO

import click

from bot.redact import redact
from bot.secrets import parse_additions, scan_diff_text

__all__ = ["scan_diff"]


@click.command("scan-diff")
@click.argument("diff_file", metavar="FILE", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--worktree",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Checkout the diff applies to; binary files are then read from it and scanned.",
)
def scan_diff(diff_file: IO[bytes], as_json: bool, worktree: Path | None) -> None:
    """Exit 1 if the diff in FILE ("-" for stdin) adds a secret, and list the findings."""
    name = getattr(diff_file, "name", "FILE")
    data: bytes = diff_file.read()
    text = data.decode("utf-8", "replace")
    if text.strip() and not parse_additions(text) and "\n+++ " not in f"\n{text}":
        raise click.UsageError(f"{name}: not a unified diff (no '+++ ' file header found)")
    report = scan_diff_text(text, worktree)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        if report.findings:
            click.echo("blocks this change:")
        for finding in report.findings:
            click.echo("  " + redact(finding.explain()))
        for path in report.unscanned:
            click.echo(f"{redact(path)}: binary, not scanned (pass --worktree to scan it)")
        click.echo(report.summary(), err=not report.clean)
    sys.exit(0 if report.clean else 1)


if __name__ == "__main__":
    scan_diff()
