"""The table of repository config keys, generated from the model so the docs cannot drift."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from agents.specialists import ALL_NAMES, SPECIALISTS
from bot.repo_config.model import RepoConfig

__all__ = ["repo_config_table"]


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        resolved: Mapping[str, Any] = defs[ref.rsplit("/", 1)[-1]]
        return resolved
    return schema


def _kind(schema: Mapping[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(str(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "boolean":
        return "true / false"
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        span = f" {low} to {high}" if high is not None else f" ≥ {low}" if low is not None else ""
        return f"integer{span}"
    if kind == "array" or kind == ["array", "null"]:
        return "list of strings" + (" or null" if kind == ["array", "null"] else "")
    return str(kind)


def _shown(value: object) -> str:
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _agent_rows() -> Iterator[str]:
    yield (
        f"| `agents.enabled` | list of names | `{', '.join(ALL_NAMES)}` | the specialists that "
        "run (short names or agent names, any case) |"
    )
    for name, specialist in SPECIALISTS.items():
        tuning = specialist.default_tuning().model_dump(mode="json")
        defaults = ", ".join(f"`{key}: {json.dumps(value)}`" for key, value in tuning.items())
        doc = (specialist.tuning_model.__doc__ or "").split(":", 1)[-1].strip()
        yield f"| `agents.{name}` | mapping | {defaults} | {doc} |"


def _rows() -> Iterator[str]:
    schema = RepoConfig.model_json_schema()
    defs = schema.get("$defs", {})
    defaults = RepoConfig().model_dump(mode="json")
    for name, field in RepoConfig.model_fields.items():
        if name == "agents":
            yield from _agent_rows()
            continue
        section = _resolve(schema["properties"][name], defs)
        if section.get("type") != "object":
            value = _shown(defaults[name])
            yield f"| `{name}` | {_kind(section)} | {value} | {field.description} |"
            continue
        for key, sub in section["properties"].items():
            about = sub.get("description", "")
            value = _shown(defaults[name][key])
            yield f"| `{name}.{key}` | {_kind(sub)} | {value} | {about} |"


def repo_config_table() -> str:
    """A Markdown table: key, type, default, meaning, one row per key of the repo config."""
    header = ["| key | type | default | meaning |", "|---|---|---|---|"]
    return "\n".join([*header, *_rows()]) + "\n"
