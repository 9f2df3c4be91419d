"""What the App answers to `@<app-slug> help` (and to a command it does not know)."""

from __future__ import annotations

__all__ = ["help_reply"]


def help_reply(app_slug: str, note: str = "") -> str:
    """The list of commands, after `note` (e.g. "unknown command: …") when there is one."""
    mention = f"@{app_slug}"
    lines = [
        *([f"{note}.", ""] if note else []),
        f"Commands {mention} understands (write access to this repository required):",
        "",
        f"- `{mention} fix this` on a pull request: fix its failing checks, verify the fix in a "
        "sandbox and push a signed commit to the pull request's branch (or open a pull "
        "request into it when that branch may not be pushed to).",
        f"- `{mention} fix <instructions>`: the same, following your instructions.",
        f"- `{mention} <instructions>` (or `fix this`) on an issue, the issue assigned to "
        "the App, or the `ambient` label (`tasks.label`): plan the change, show the bug with a "
        "failing test, fix and verify it, and open a pull request that closes the issue.",
        f"- `{mention} sweep`: run the quality sweep on the default branch now.",
        f"- `{mention} help`: this list.",
        "",
        "Nothing is merged: a person always decides.",
    ]
    return "\n".join(lines)
