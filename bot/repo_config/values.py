"""What each value of the repository config must look like: annotated types for the model.

Each validator raises one `problem`: our own wording, continued after the dotted key in the
one-line report, and optionally the key it is really about (`at`) when that is deeper than
the field, as for a specialist's tuning.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from agents.specialists import ALL_NAMES, SPECIALISTS, canonical_name, read_config
from bot.errors import ConfigError

__all__ = [
    "AgentsSection",
    "CommandLines",
    "Globs",
    "Owners",
    "Regexes",
    "SpecialistNames",
    "Strings",
    "problem",
]

#: How `agents.specialists.read_config` starts its messages; cut so a key is named once.
_AGENTS_PREFIX: Final = ".github/ambient.yml: agents"
_OWNER: Final = re.compile(r"@[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?|[^@\s]+@[^@\s]+\.[^@\s]+")


def problem(message: str, *at: str | int) -> PydanticCustomError:
    """A validation error with our own wording; `at` names the key when it is not the field's."""
    context: dict[str, Any] = {"message": message}
    if at:
        context["at"] = at
    return PydanticCustomError("ambient", "{message}", context)


def _string_list(value: object) -> object:
    if not isinstance(value, list | tuple) or not all(
        isinstance(item, str) and item.strip() for item in value
    ):
        raise problem("must be a list of non-empty strings")
    return tuple(item.strip() for item in value)


def _regexes(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        try:
            re.compile(item)
        except re.error as exc:
            raise problem(f"{item!r} is not a regular expression ({exc})") from None
    return value


def _command_lines(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        try:
            shlex.split(item)
        except ValueError as exc:
            raise problem(f"{item!r} cannot be split into words ({exc})") from None
    return value


def _globs(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        if item.startswith("!"):
            raise problem(f"{item!r}: negated patterns are not supported; list what to ignore")
    return value


def _owners(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        if not _OWNER.fullmatch(item):
            raise problem(f"{item!r} is not a CODEOWNERS owner (@user, @org/team or an email)")
    return value


def _specialist_names(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = []
    for item in value:
        short = canonical_name(item)
        if short is None:
            raise problem(f"{item!r} is not a specialist; known: {', '.join(ALL_NAMES)}")
        names.append(short)
    return tuple(dict.fromkeys(names))


def _agents_mapping(value: object) -> object:
    if not isinstance(value, Mapping):
        raise problem("must be a mapping of `enabled` and specialist names")
    return value


def _agent_problem(key: str, exc: ConfigError) -> PydanticCustomError:
    said = str(exc).removeprefix(_AGENTS_PREFIX)
    nested = re.match(r"\.([\w.]+):? (.*)", said, re.DOTALL)
    if nested:
        # The specialists name an entry by its short name; the file may spell it as the
        # agent's name (SecurityGuardian): name the key as written, so that it is found
        # again to be dropped, and its line is the one reported.
        _, *inner = nested[1].split(".")
        return problem(nested[2], "agents", key, *inner)
    return problem(said.strip(), "agents", key)


def _agents(value: dict[str, object]) -> dict[str, object]:
    # One entry at a time, so a problem names its own key and the other entries survive it.
    for key, entry in value.items():
        try:
            read_config({key: entry})
        except ConfigError as exc:
            raise _agent_problem(key, exc) from None
    return value


def _agents_schema() -> dict[str, Any]:
    tunings = {name: s.tuning_model.model_json_schema() for name, s in SPECIALISTS.items()}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "enabled": {"type": "array", "items": {"type": "string", "minLength": 1}},
            **tunings,
        },
    }


_Str = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
Strings = Annotated[tuple[_Str, ...], BeforeValidator(_string_list)]
CommandLines = Annotated[Strings, AfterValidator(_command_lines)]
Regexes = Annotated[Strings, AfterValidator(_regexes)]
Globs = Annotated[Strings, AfterValidator(_globs)]
Owners = Annotated[Strings, AfterValidator(_owners)]
SpecialistNames = Annotated[
    Strings | None,
    AfterValidator(_specialist_names),
    WithJsonSchema({"type": ["array", "null"], "items": {"type": "string", "minLength": 1}}),
]
#: The raw `agents` mapping, each entry checked by the specialists' own `read_config`.
AgentsSection = Annotated[
    dict[str, object],
    BeforeValidator(_agents_mapping),
    AfterValidator(_agents),
    WithJsonSchema(_agents_schema()),
]
