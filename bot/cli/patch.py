"""`ambient patch PATH FILE [--json]`: apply a patch file to a checkout, all or nothing.

Exit 0 when applied (or already applied), 1 when refused (the tree is untouched). Without
`--json` one line says the method and every file written (created, changed or deleted), or
the reason; a refused hunk's excerpt follows it. A dry run says that nothing was written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

import click

from bot.patch import PathPolicy, apply_sync

__all__ = ["patch"]


@click.command("patch")
@click.argument(
    "path", type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path)
)
@click.argument("file", type=click.File("r", encoding="utf-8", errors="surrogateescape"))
@click.option("--json", "as_json", is_flag=True, help="Print the result and debug bundle as JSON.")
@click.option("--dry-run", is_flag=True, help="Check that the patch applies; write nothing.")
@click.option(
    "--allow-workflows", is_flag=True, help="Allow changes under .github/workflows (high risk)."
)
def patch(path: Path, file: TextIO, as_json: bool, dry_run: bool, allow_workflows: bool) -> None:
    """Apply FILE (a unified diff, SEARCH/REPLACE blocks or whole files; - for stdin) to PATH."""
    text = file.read()
    policy = PathPolicy(allow_workflow_changes=allow_workflows)
    result = apply_sync(path, text, policy=policy, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif result.ok:
        files = ", ".join(result.files) or "no file changed"
        risk = f" (high risk: {', '.join(result.high_risk)})" if result.high_risk else ""
        # A dry run names the files it would write; say so, so that nobody looks for them.
        how = f"{result.method} (dry run, nothing written)" if dry_run else result.method
        click.echo(f"{how}: {files}{risk}")
    else:
        click.echo(f"refused: {result.message}", err=True)
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    patch()
