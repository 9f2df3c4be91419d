"""The specialists, by name, and which of them a repository enables.

Five model specialists (security, refactor, style, performance, tests) and two that need no
model: `ruff` (its fixes and formatting, as a proposal) and `secrets` (a detect-secrets scan,
reported, never "fixed"). A repository chooses and tunes them in `.github/ambient.yml`:

    agents:
      enabled: [security, tests, ruff, secrets]     # default: all seven
      security: {severity_threshold: medium}
      tests: {prioritize_paths: [src/auth/], max_proposals: 2}
      refactor: {complexity_threshold: 12, focus: "the parser module"}

Names are the short ones above or the agents' own (`SecurityGuardian`), in any case.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from pydantic import ValidationError

from agents.specialists.base import Specialist, SpecialistsConfig, Tuning
from agents.specialists.performance import PERFORMANCE
from agents.specialists.refactor import REFACTOR
from agents.specialists.ruff import RUFF_AGENT
from agents.specialists.secrets_report import SECRETS_AGENT
from agents.specialists.security import SECURITY
from agents.specialists.style import STYLE
from agents.specialists.tests import TESTS
from bot.errors import ConfigError

__all__ = [
    "ALL_NAMES",
    "MODEL_FREE",
    "SPECIALISTS",
    "Specialist",
    "SpecialistsConfig",
    "canonical_name",
    "enabled",
    "read_config",
]


def _priority(specialist: Specialist) -> int:
    return specialist.priority


#: The model specialists by short name, in priority order (conflict ties go to the first).
SPECIALISTS: Final[Mapping[str, Specialist]] = MappingProxyType(
    {s.name: s for s in sorted((SECURITY, REFACTOR, STYLE, PERFORMANCE, TESTS), key=_priority)}
)
#: Specialists that need no model, with the agent name their output carries.
MODEL_FREE: Final[Mapping[str, str]] = MappingProxyType(
    {"ruff": RUFF_AGENT, "secrets": SECRETS_AGENT}
)
ALL_NAMES: Final[tuple[str, ...]] = (*SPECIALISTS, *MODEL_FREE)
_WHERE: Final = ".github/ambient.yml: agents"


def canonical_name(name: str) -> str | None:
    """The short name for `name` (a short or agent name, any case), or None if unknown."""
    wanted = name.strip().lower()
    for short, specialist in SPECIALISTS.items():
        if wanted in (short, specialist.agent.lower()):
            return short
    for short, agent in MODEL_FREE.items():
        if wanted in (short, agent.lower()):
            return short
    return None


def _known(name: object, where: str) -> str:
    short = canonical_name(name) if isinstance(name, str) else None
    if short is None:
        raise ConfigError(
            f"{where} names {name!r}, which is not a specialist; known: {', '.join(ALL_NAMES)}"
        )
    return short


def _enabled_names(value: object) -> tuple[str, ...]:
    if value is None:
        return ALL_NAMES
    if not isinstance(value, list):
        raise ConfigError(f"{_WHERE}.enabled must be a list of specialist names")
    names = [_known(item, f"{_WHERE}.enabled") for item in value]
    return tuple(dict.fromkeys(names))


def _tuning(short: str, value: object) -> Tuning:
    specialist = SPECIALISTS.get(short)
    if specialist is None:
        raise ConfigError(f"{_WHERE}.{short}: the {short} specialist takes no settings")
    if not isinstance(value, dict):
        raise ConfigError(f"{_WHERE}.{short} must be a mapping of settings")
    try:
        return specialist.tuning_model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{_WHERE}.{short}.{key}: {first['msg']}") from None


def read_config(section: Mapping[str, object] | None) -> SpecialistsConfig:
    """The `agents` section of a repository's config as a `SpecialistsConfig`.

    None means the defaults (all enabled, default tuning). Raises `ConfigError` with one line
    naming the key that is wrong.
    """
    if section is None:
        return SpecialistsConfig(ALL_NAMES)
    if not isinstance(section, Mapping):
        raise ConfigError(f"{_WHERE} must be a mapping")
    tuning: dict[str, Tuning] = {}
    for key, value in section.items():
        if key == "enabled":
            continue
        short = _known(key, _WHERE)
        tuning[short] = _tuning(short, value)
    return SpecialistsConfig(_enabled_names(section.get("enabled")), MappingProxyType(tuning))


def enabled(config: SpecialistsConfig) -> tuple[Specialist, ...]:
    """The model specialists `config` enables, in priority order."""
    return tuple(s for name, s in SPECIALISTS.items() if config.wants(name))
