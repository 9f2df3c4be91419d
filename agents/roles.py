"""A model per role: the planner, the coder (fixer and reproducer), the reviewer, and the
sweep's specialists may each use their own model of the endpoint, any of them falling back to
the default one (`AMBIENT_LLM_MODEL`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Final, Literal

from agents.llm import LLM, Completion, Message, OpenAIModel
from bot.config import Settings

__all__ = ["ROLES", "Role", "RoleModels", "models_from_settings", "role_of"]

Role = Literal["planner", "coder", "reviewer", "specialist"]
ROLES: Final[tuple[Role, ...]] = ("planner", "coder", "reviewer", "specialist")
_BY_AGENT: Final[Mapping[str, Role]] = {
    "planner": "planner",
    "fixer": "coder",
    "reproducer": "coder",
    "reviewer": "reviewer",
}


def role_of(agent: str) -> Role:
    """The role an agent (as named in its model calls) plays; any other agent is a specialist."""
    return _BY_AGENT.get(agent, "specialist")


class RoleModels:
    """An `LLM` that answers each call with the model of the caller's role, else `default`."""

    def __init__(self, default: LLM, by_role: Mapping[Role, LLM]) -> None:
        self.default = default
        self.by_role = dict(by_role)

    async def complete(
        self, messages: Sequence[Message], *, agent: str, json: bool = False
    ) -> Completion:
        """See `LLM.complete`."""
        model = self.by_role.get(role_of(agent), self.default)
        return await model.complete(messages, agent=agent, json=json)

    async def aclose(self) -> None:
        """Close the connections of every model this one holds."""
        for model in {id(m): m for m in (self.default, *self.by_role.values())}.values():
            if isinstance(model, OpenAIModel):
                await model.aclose()


def models_from_settings(settings: Settings) -> OpenAIModel | RoleModels:
    """The worker's model: the default one, or per-role ones where AMBIENT_LLM_<ROLE>_MODEL
    names another model; all share one concurrency limit (AMBIENT_LLM_MAX_CONCURRENCY)."""
    limiter = asyncio.Semaphore(settings.llm_max_concurrency)
    default = OpenAIModel.from_settings(settings, limiter=limiter)
    others = {
        role: settings.role_model(role)
        for role in ROLES
        if settings.role_model(role) != default.model
    }
    if not others:
        return default
    by_role: dict[Role, LLM] = {
        role: OpenAIModel.from_settings(settings, model=name, limiter=limiter)
        for role, name in others.items()
    }
    return RoleModels(default, by_role)
