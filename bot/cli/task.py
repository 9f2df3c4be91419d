"""`ambient task PATH --issue-file FILE | --task TEXT`: the task flow on a local checkout."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from agents.planner import IssueText
from agents.sanitize import sanitize_trigger_text
from bot.cli.env import fail
from bot.cli.local import SANDBOXES, closing, execute, prepare, show
from bot.flows import local_task

__all__ = ["issue_from_text", "task"]


def issue_from_text(text: str) -> IssueText:
    """An issue from a file's text: its first line is the title (a leading `#` dropped), the
    rest the body; hidden Markdown/HTML is dropped as on GitHub."""
    title, _, body = text.strip().partition("\n")
    clean = sanitize_trigger_text
    return IssueText(0, clean(title.lstrip("#").strip()), clean(body.strip()))


@click.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--issue-file",
    type=click.Path(exists=True, dir_okay=False),
    help="An issue as Markdown: the first line its title, the rest its body.",
)
@click.option("--task", "text", help="The task, in words (instead of --issue-file).")
@click.option("--sandbox", type=SANDBOXES, default=None, help="Sandbox backend.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def task(
    path: str, issue_file: str | None, text: str | None, sandbox: str | None, as_json: bool
) -> None:
    """Plan, reproduce, fix and verify a task in the checkout at PATH; a verified change
    becomes a review branch."""
    if (issue_file is None) == (text is None):
        fail("task needs exactly one of --issue-file FILE and --task TEXT")
    source = Path(issue_file).read_text(errors="replace") if issue_file else str(text)
    issue = issue_from_text(source)
    if not issue.title:
        fail("the task is empty: say what to do")
    _, run, _ = prepare(path, sandbox)
    model = run.model
    if model is None:
        fail("task needs a model: set AMBIENT_LLM_BASE_URL and AMBIENT_LLM_MODEL")
    report = execute(closing(run, lambda: local_task(run, model, issue)), "working…", as_json)
    show(report, as_json)
    if not report.outcomes or report.outcomes[0].fate == "failed":
        sys.exit(1)
