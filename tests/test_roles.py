"""A model per role, against the scripted OpenAI-compatible server over real HTTP: each agent's
calls go to its role's model, and unset roles fall back to AMBIENT_LLM_MODEL."""

from __future__ import annotations

from agents.llm import Message, OpenAIModel
from agents.roles import RoleModels, models_from_settings, role_of
from bot.config import load_settings
from tests.fixtures.llm_sim import LLMSim


def test_agents_map_to_their_roles() -> None:
    assert [role_of(a) for a in ("planner", "fixer", "reproducer", "reviewer", "security")] == [
        "planner",
        "coder",
        "coder",
        "reviewer",
        "specialist",
    ]


def test_unset_roles_fall_back_to_the_default_model() -> None:
    settings = load_settings({"AMBIENT_LLM_MODEL": "base", "AMBIENT_LLM_REVIEWER_MODEL": "judge"})
    assert [settings.role_model(r) for r in ("planner", "coder", "reviewer")] == [
        "base",
        "base",
        "judge",
    ]


async def test_each_role_calls_its_own_model(llm_sim: LLMSim) -> None:
    llm_sim.set_script([{"content": "ok", "repeat": True}])
    env = {
        "AMBIENT_LLM_BASE_URL": llm_sim.base_url,
        "AMBIENT_LLM_MODEL": "base",
        "AMBIENT_LLM_PLANNER_MODEL": "thinker",
        "AMBIENT_LLM_REVIEWER_MODEL": "base",
    }
    model = models_from_settings(load_settings(env))
    assert isinstance(model, RoleModels)
    try:
        for agent in ("planner", "fixer", "reviewer", "security"):
            await model.complete([Message("user", "hi")], agent=agent)
    finally:
        await model.aclose()
    asked = [(r["agent"], r["model"]) for r in llm_sim.requests()]
    assert asked == [
        ("planner", "thinker"),
        ("fixer", "base"),
        ("reviewer", "base"),
        ("security", "base"),
    ]


def test_no_role_setting_gives_the_one_default_model() -> None:
    env = {"AMBIENT_LLM_BASE_URL": "http://127.0.0.1:9/v1", "AMBIENT_LLM_MODEL": "base"}
    assert isinstance(models_from_settings(load_settings(env)), OpenAIModel)
