"""The table of AMBIENT_* variables, generated from the settings model so docs cannot drift."""

from __future__ import annotations

from pydantic_core import PydanticUndefined

from bot.config import ENV_PREFIX, SETTING_HINTS, Settings

__all__ = ["settings_table"]


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.default
    if value is PydanticUndefined or value is None:
        return "—"
    if name == "workspace_root":
        return "`$TMPDIR/ambient-workspaces`"
    return f"`{value}`"


def settings_table() -> str:
    """A Markdown table: variable, default, what to put there."""
    rows = ["| variable | default | what to put there |", "|---|---|---|"]
    for name in Settings.model_fields:
        hint = SETTING_HINTS.get(name, "")
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | {_default(name)} | {hint} |")
    return "\n".join(rows) + "\n"
