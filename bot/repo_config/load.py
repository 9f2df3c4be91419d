"""A repository's config, `.github/ambient.yml` or `.ambient.yml`: read, validated, never fatal.

`parse_repo_config` never raises for what the file says. A key that is wrong (unknown, of
the wrong type, out of range, or given twice) is reported as one line naming its dotted key
(and its line) and takes its default; the rest of the file still applies, so a typo in
`verify` does not drop `paths.ignore`. Every problem is reported, in the order of the file.
A file that cannot be read as a YAML mapping at all gives the defaults for everything.
Callers report the problems on the check run (or the CLI) and go on with `outcome.config`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bot.repo_config.doc import repo_config_table
from bot.repo_config.model import RepoConfig

__all__ = [
    "CONFIG_PATHS",
    "MAX_CONFIG_BYTES",
    "ConfigOutcome",
    "Problem",
    "RepoConfig",
    "json_schema",
    "load_repo_config_file",
    "parse_repo_config",
    "repo_config_table",
]

#: Where the config is looked for, in order; the first that exists is the one read.
CONFIG_PATHS: Final = (".github/ambient.yml", ".ambient.yml")
MAX_CONFIG_BYTES: Final = 64 * 1024
# YAML aliases can make a small file expand into a huge tree; a config has a few hundred nodes.
_MAX_NODES: Final = 10_000
_MAX_ROUNDS: Final = 100
_MAX_PROBLEMS: Final = 30
_TOO_LARGE: Final = f"is larger than {MAX_CONFIG_BYTES // 1024} KiB; a config is a few dozen lines"
_MESSAGES: Final = {
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be a string",
}

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a config file: where (`key` dotted, "" for the whole file) and what."""

    source: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.key}: " if self.key else ""
        line = f" (line {self.line})" if self.line and self.key else ""
        return f"{self.source}: {where}{self.message}{line}"


@dataclass(frozen=True, slots=True)
class ConfigOutcome:
    """The config to use (defaults in place of what was wrong) and the problems, one line each.

    `source` is the file read, or None when the repository has none.
    """

    config: RepoConfig
    problems: tuple[str, ...] = ()
    source: str | None = None
    details: tuple[Problem, ...] = ()

    @classmethod
    def of(cls, config: RepoConfig, details: list[Problem], source: str | None) -> ConfigOutcome:
        """An outcome whose `problems` are the rendered `details`."""
        return cls(config, tuple(str(p) for p in details), source, tuple(details))


class _Loader(yaml.SafeLoader):
    """The safe loader; its own class so nothing registered on SafeLoader leaks in."""


class _TooBig(ValueError):
    pass


def _key_of(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else "?"


def _survey(root: yaml.Node, lines: dict[Loc, int]) -> list[tuple[Loc, int]]:
    """Walk the node tree once: line of each key, duplicate keys; aliases count every time."""
    duplicates: list[tuple[Loc, int]] = []
    stack: list[tuple[yaml.Node, Loc]] = [(root, ())]
    seen = 0
    while stack:
        node, loc = stack.pop()
        seen += 1
        if seen > _MAX_NODES:
            raise _TooBig(f"expands to more than {_MAX_NODES} values (through YAML aliases)")
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in node.value:
                key = _key_of(key_node)
                if key != "<<" and key in keys:
                    duplicates.append(((*loc, key), key_node.start_mark.line + 1))
                keys.add(key)
                lines.setdefault((*loc, key), key_node.start_mark.line + 1)
                stack.append((value_node, (*loc, key)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines.setdefault((*loc, index), item.start_mark.line + 1)
                stack.append((item, (*loc, index)))
    return duplicates


def _load(text: str, source: str, lines: dict[Loc, int]) -> tuple[object, list[Problem], bool]:
    """The document, its problems, and whether it could be read at all (else: defaults)."""
    try:
        data, duplicates = _compose(text, lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1}: " if mark else ""
        said = " ".join(str(exc.problem or exc.context or "syntax error").split())
        return None, [Problem(source, "", f"{at}not valid YAML: {said}")], False
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        said = f"line {line}: not valid YAML: character #x{exc.character:04x} is not allowed"
        return None, [Problem(source, "", said)], False
    except yaml.YAMLError as exc:
        return None, [Problem(source, "", f"not valid YAML: {' '.join(str(exc).split())}")], False
    except (_TooBig, RecursionError) as exc:
        said = str(exc) if isinstance(exc, _TooBig) else "is nested too deeply"
        return None, [Problem(source, "", said)], False
    data, problems = _drop_duplicates(data, duplicates, source, lines)
    return data, problems, True


def _drop_duplicates(
    data: object, duplicates: list[tuple[Loc, int]], source: str, lines: Mapping[Loc, int]
) -> tuple[object, list[Problem]]:
    """One problem per key given more than once, and the data without it.

    YAML keeps the last value silently; which one was meant is anyone's guess, so the key
    is dropped like any other wrong key. A key inside a dropped one is not reported.
    """
    again: dict[Loc, set[int]] = {}
    for loc, line in duplicates:
        again.setdefault(loc, set()).add(line)
    problems: list[Problem] = []
    for loc, at in again.items():
        if any(loc[:end] in again for end in range(1, len(loc))):
            continue
        later = sorted(at)
        noun = "line" if len(later) == 1 else "lines"
        said = f"is also given on {noun} {', '.join(map(str, later))}; all are ignored"
        problems.append(Problem(source, ".".join(map(str, loc)), said, lines.get(loc)))
        trimmed = _without(data, loc) if isinstance(data, Mapping) else None
        if trimmed is not None:
            data = trimmed
    return data, problems


def _compose(text: str, lines: dict[Loc, int]) -> tuple[object, list[tuple[Loc, int]]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        duplicates = _survey(node, lines)
        return loader.construct_document(node), duplicates
    finally:
        loader.dispose()


def _model_at(loc: Loc) -> type[BaseModel] | None:
    model: type[BaseModel] = RepoConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        inner = field.annotation if field else None
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return None
        model = inner
    return model


def _message(error: ErrorDetails, loc: Loc) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "ambient":
        return _sentence(str(ctx.get("message", error["msg"])))
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = tuple(parent.model_fields) if parent else ()
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"unknown key{hint} (known here: {', '.join(known)})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        model = _model_at(loc)
        keys = f" with keys {', '.join(model.model_fields)}" if model else ""
        return f"must be a mapping{keys}"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = "at least" if kind == "greater_than_equal" else "at most"
        return f"must be {bound} {ctx.get('ge', ctx.get('le'))}"
    return _sentence(error["msg"].removeprefix("Value error, "))


def _sentence(said: str) -> str:
    """Pydantic's wording continued after the key: "Input should be" reads "must be"."""
    said = said.replace("Input should be", "must be", 1)
    if said[:1].isupper() and said[1:2].islower():
        return said[:1].lower() + said[1:]
    return said


def _line(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    # Keys are surveyed as text; pydantic names a key `2:` by the int YAML made of it.
    spelled = tuple(str(part) for part in loc)
    for end in range(len(loc), 0, -1):
        for key in (loc[:end], spelled[:end]):
            if key in lines:
                return lines[key]
    return None


def _key_in(data: Mapping[object, object], part: str | int) -> tuple[bool, object]:
    """Whether `data` has the key `part` names, and that key (as YAML typed it)."""
    if part in data:
        return True, part
    for key in data:
        if str(key) == str(part):
            return True, key
    return False, None


def _without(data: Mapping[object, object], loc: Loc) -> dict[object, object] | None:
    """`data` without the key `loc` leads to (the whole list when it leads into a list);
    None when `data` has no such key."""
    found, head = _key_in(data, loc[0]) if loc else (False, None)
    if not found:
        return None
    inner, rest = data[head], loc[1:]
    if rest and isinstance(inner, Mapping):
        trimmed = _without(inner, rest)
        if trimmed is not None:
            return {**data, head: trimmed}
    return {key: value for key, value in data.items() if key != head}


def _validate(
    data: Mapping[object, object], source: str, lines: Mapping[Loc, int]
) -> tuple[RepoConfig, list[Problem]]:
    problems: list[Problem] = []
    for _ in range(_MAX_ROUNDS):
        try:
            return RepoConfig.model_validate(data), problems
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
        progressed = False
        for error in errors:
            loc: Loc = tuple(error.get("ctx", {}).get("at") or error["loc"])
            problems.append(
                Problem(source, ".".join(map(str, loc)), _message(error, loc), _line(lines, loc))
            )
            trimmed = _without(data, loc)
            if trimmed is not None:
                data, progressed = trimmed, True
        if not progressed:
            break
    return RepoConfig(), problems


def _capped(problems: list[Problem], source: str) -> list[Problem]:
    """At most `_MAX_PROBLEMS` lines: a check run's text is limited, and a reader's patience."""
    if len(problems) <= _MAX_PROBLEMS:
        return problems
    more = len(problems) - _MAX_PROBLEMS
    return [*problems[:_MAX_PROBLEMS], Problem(source, "", f"{more} more problems not shown")]


def parse_repo_config(text: str, source: str = CONFIG_PATHS[0]) -> ConfigOutcome:
    """The config in `text`, with defaults for whatever is wrong; never raises for content.

    `text` is what the caller fetched from the default branch (never a pull request's head:
    a config on a PR would let its author change what Ambient may do). `source` names the
    file in problems.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        return ConfigOutcome.of(RepoConfig(), [Problem(source, "", _TOO_LARGE)], source)
    lines: dict[Loc, int] = {}
    data, found, readable = _load(text, source, lines)
    if not readable or data is None:
        return ConfigOutcome.of(RepoConfig(), found, source)
    if not isinstance(data, Mapping):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        said = f"must be a mapping of keys such as verify and paths, not {kind}"
        return ConfigOutcome.of(RepoConfig(), [Problem(source, "", said)], source)
    config, problems = _validate(data, source, lines)
    # In the order of the file, which is how a person fixes them; sorted is stable.
    ordered = sorted([*found, *problems], key=lambda p: p.line or 0)
    return ConfigOutcome.of(config, _capped(ordered, source), source)


def load_repo_config_file(root: Path) -> ConfigOutcome:
    """The config of the checkout at `root` (first of `CONFIG_PATHS`), or the defaults.

    Only a regular file is read: a symbolic link is reported, not followed, so a checkout
    cannot make Ambient read a file outside it.
    """
    found = [name for name in CONFIG_PATHS if (root / name).is_file() or (root / name).is_symlink()]
    if not found:
        return ConfigOutcome(RepoConfig())
    source = found[0]
    path = root / source
    shadowed = [Problem(name, "", f"ignored: {source} is read instead") for name in found[1:]]
    if path.is_symlink():
        said = "is a symbolic link; a config is read only from a regular file"
        return ConfigOutcome.of(RepoConfig(), [Problem(source, "", said), *shadowed], source)
    if path.stat().st_size > MAX_CONFIG_BYTES:
        return ConfigOutcome.of(RepoConfig(), [Problem(source, "", _TOO_LARGE), *shadowed], source)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        said = f"is not UTF-8 text (byte {exc.start})"
        return ConfigOutcome.of(RepoConfig(), [Problem(source, "", said), *shadowed], source)
    outcome = parse_repo_config(text, source)
    return ConfigOutcome.of(outcome.config, [*outcome.details, *shadowed], source)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the config, for editors and `ambient config schema`."""
    schema = RepoConfig.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
