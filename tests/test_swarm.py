"""The swarm against the scripted model server over real HTTP: messy answers, failures,
corrections, the refine round, overlap selection, risk, and the concurrency bound."""

from __future__ import annotations

import asyncio
import difflib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agents.context import build_pack
from agents.llm import BudgetedModel, OpenAIModel
from agents.pack import RepoFiles
from agents.pack_render import render_pack
from agents.proposal import Proposal, diff_paths
from agents.specialists import SPECIALISTS, read_config
from agents.specialists.base import Specialist
from agents.swarm import SwarmOptions, run_swarm
from agents.usage import TokenBudget
from tests.fixtures.llm_sim import LLMSim

DB = """import sqlite3


def find_user(db, name):
    cursor = db.cursor()
    cursor.execute("SELECT * FROM users WHERE name = '%s'" % name)
    return cursor.fetchone()


def count(db):
    return len(db.cursor().execute("SELECT * FROM users").fetchall())
"""
APP = 'def greet(name):\n    return "hello " + name\n'
FILES = {"src/db.py": DB, "src/app.py": APP, "tests/test_app.py": "def test_x():\n    pass\n"}
CONTEXT = render_pack(build_pack(RepoFiles.from_texts(FILES), budget_tokens=4000))
PROPOSE = "The repository as it is now"
REFINE = "Refine round"
ALL = tuple(SPECIALISTS.values())
NO_REFINE = SwarmOptions(refine=False)


def edit(path: str, new: str) -> str:
    old = FILES.get(path, "")
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        )
    )


def item(title: str, diff: str, risk: str = "low", **extra: Any) -> dict[str, Any]:
    return {"title": title, "description": "", "diff": diff, "risk_level": risk, **extra}


def answer(*items: dict[str, Any]) -> str:
    return json.dumps(list(items))


def step(agent: str, content: str, user: str = PROPOSE, **options: Any) -> dict[str, Any]:
    return {"match": {"agent": agent, "user": user}, "content": content, **options}


def only(*specialists: str) -> tuple[Specialist, ...]:
    return tuple(SPECIALISTS[name] for name in specialists)


UNSAFE = "\"SELECT * FROM users WHERE name = '%s'\" % name"
SQL_FIX = edit("src/db.py", DB.replace(UNSAFE, '"SELECT * FROM users WHERE name = ?", (name,)'))
RENAME = edit("src/db.py", DB.replace("    cursor", "    cur"))
SLOW = 'len(db.cursor().execute("SELECT * FROM users").fetchall())'
COUNT = edit(
    "src/db.py", DB.replace(SLOW, 'db.execute("SELECT COUNT(*) FROM users").fetchone()[0]')
)
DOC = edit("src/app.py", APP.replace("):\n", '):\n    """Greet name."""\n', 1))
TEST = edit(
    "tests/test_app.py", FILES["tests/test_app.py"] + "\n\ndef test_greet():\n    assert 1\n"
)


@pytest.fixture
async def model(llm_sim: LLMSim) -> AsyncIterator[OpenAIModel]:
    client = OpenAIModel(
        base_url=llm_sim.base_url,
        model="sim-model",
        timeout_s=10,
        max_retries=0,
        max_concurrency=16,
    )
    yield client
    await client.aclose()


async def test_messy_answers_from_all_five_specialists(llm_sim: LLMSim, model: OpenAIModel) -> None:
    fenced = "I found one issue.\n\n```json\n" + json.dumps(
        [item("Parameterise", SQL_FIX, "critical")]
    )
    raw_newlines = (
        'Here you go:\n[{"title": "Document greet", "risk_level": "low", "diff": "'
        + DOC.replace('"', '\\"')
        + '"}]\nThat is all.'
    )
    llm_sim.set_script(
        [
            step("SecurityGuardian", fenced),
            step("RefactorArchitect", json.dumps({"proposals": [item("Count", COUNT, "MEDIUM")]})),
            step("StyleEnforcer", raw_newlines),
            step("PerformanceOptimizer", "Nothing measurable to gain here.\n\n[]"),
            step("TestEnhancer", json.dumps(item("Test greet", TEST, "Low", tags=["test"]))),
        ]
    )
    result = await run_swarm(model, ALL, CONTEXT, config=read_config(None), options=NO_REFINE)
    assert result.failures == ()
    assert result.rejected == ()
    titles = {a.proposal.agent: a.proposal.title for a in result.selected}
    assert titles == {
        "SecurityGuardian": "Parameterise",
        "RefactorArchitect": "Count",
        "StyleEnforcer": "Document greet",
        "TestEnhancer": "Test greet",
    }
    assert result.selected[0].proposal.title == "Parameterise"  # the most severe first
    assert result.usage.total.calls == 5
    assert [agent for agent, _ in result.usage.by_agent] == [s.agent for s in ALL]
    for asked in llm_sim.requests():
        assert asked["system"].startswith(f"You are {asked['agent']}")
        assert CONTEXT in asked["user"]


async def test_a_failing_specialist_is_reported_and_the_others_go_on(
    llm_sim: LLMSim, model: OpenAIModel
) -> None:
    llm_sim.set_script(
        [
            {"match": {"agent": "SecurityGuardian"}, "status": 500, "error": "overloaded"},
            {"match": {"agent": "RefactorArchitect"}, "malformed": True},
            {"match": {"agent": "PerformanceOptimizer"}, "empty": True},
            step("StyleEnforcer", answer(item("Document greet", DOC))),
        ]
    )
    specialists = only("security", "refactor", "performance", "style")
    result = await run_swarm(model, specialists, CONTEXT, config=read_config(None))
    assert [a.proposal.title for a in result.selected] == ["Document greet"]
    failed = {f.agent: (f.stage, f.error) for f in result.failures}
    assert set(failed) == {"SecurityGuardian", "RefactorArchitect", "PerformanceOptimizer"}
    assert failed["SecurityGuardian"] == (
        "propose",
        f"model endpoint {llm_sim.base_url} answered 500 after 1 tries: overloaded",
    )
    assert [f.retryable for f in result.failures] == [True, False, False]
    assert "body that is not JSON" in failed["RefactorArchitect"][1]
    assert "empty answer" in failed["PerformanceOptimizer"][1]
    assert all("\n" not in error for _, error in failed.values())
    assert [f.agent for f in result.failures] == [
        "SecurityGuardian",
        "PerformanceOptimizer",
        "RefactorArchitect",
    ]
    assert result.usage.total.calls == 1


async def test_a_malformed_item_is_corrected_with_precise_feedback(
    llm_sim: LLMSim, model: OpenAIModel
) -> None:
    first = [item("Parameterise", SQL_FIX, "critical"), item("Count", COUNT, "severe")]
    llm_sim.set_script(
        [
            step("SecurityGuardian", json.dumps(first)),
            step("SecurityGuardian", answer(item("Count", COUNT, "medium")), "problems"),
        ]
    )
    result = await run_swarm(
        model, only("security"), CONTEXT, config=read_config(None), options=NO_REFINE
    )
    assert [a.proposal.title for a in result.selected] == ["Parameterise", "Count"]
    assert result.failures == ()
    feedback = llm_sim.requests()[1]["user"]
    assert "item 2: risk_level 'severe' is not one of low, medium, high, critical" in feedback
    assert "Items 1 were accepted; do not send them again." in feedback
    assert result.usage.total.calls == 2


async def test_a_failed_correction_keeps_what_was_valid(
    llm_sim: LLMSim, model: OpenAIModel
) -> None:
    first = [item("Parameterise", SQL_FIX, "critical"), item("Count", COUNT, "severe")]
    llm_sim.set_script(
        [
            step("SecurityGuardian", json.dumps(first)),
            {"match": {"user": "problems"}, "status": 429, "error": "slow down"},
        ]
    )
    result = await run_swarm(
        model, only("security"), CONTEXT, config=read_config(None), options=NO_REFINE
    )
    assert [a.proposal.title for a in result.selected] == ["Parameterise"]
    (failure,) = result.failures
    assert failure.error == (
        f"correction stopped: model endpoint {llm_sim.base_url} answered 429 after 1 tries: "
        "slow down; 1 proposals from earlier answers kept"
    )
    assert result.usage.total.calls == 1


async def test_an_answer_unusable_after_every_try_is_a_failure(
    llm_sim: LLMSim, model: OpenAIModel
) -> None:
    llm_sim.set_script([{"match": {"agent": "TestEnhancer"}, "content": "[{oops", "repeat": True}])
    result = await run_swarm(model, only("tests"), CONTEXT, config=read_config(None))
    (failure,) = result.failures
    assert failure.agent == "TestEnhancer"
    assert failure.error.startswith(
        "answer unusable after 3 tries: the JSON in the answer does not parse"
    )
    assert len(llm_sim.requests()) == 3
    assert result.selected == ()


async def test_two_specialists_overlap_and_one_is_selected(
    llm_sim: LLMSim, model: OpenAIModel
) -> None:
    llm_sim.set_script(
        [
            step("SecurityGuardian", answer(item("Parameterise the query", SQL_FIX, "high"))),
            step("RefactorArchitect", answer(item("Rename cursor to cur", RENAME, "low"))),
            step("SecurityGuardian", '{"decisions": [{"id": "P1", "action": "keep"}]}', REFINE),
            step("RefactorArchitect", '{"decisions": [{"id": "P2", "action": "keep"}]}', REFINE),
        ]
    )
    result = await run_swarm(model, only("security", "refactor"), CONTEXT, config=read_config(None))
    (selected,) = result.selected
    assert selected.proposal.title == "Parameterise the query"
    assert selected.risk.level == "high"
    (lost,) = result.superseded
    assert (lost.proposal.title, lost.kind, lost.by.title) == (
        "Rename cursor to cur",
        "conflict",
        "Parameterise the query",
    )
    assert lost.reason == (
        'conflicts with SecurityGuardian\'s "Parameterise the query": both change src/db.py '
        "lines 5-6; kept that one: higher severity (high over low)"
    )
    refine_asks = [r for r in llm_sim.requests() if REFINE in r["user"]]
    assert sorted(r["agent"] for r in refine_asks) == ["RefactorArchitect", "SecurityGuardian"]
    for asked in refine_asks:
        assert '### P1: "Parameterise the query" by SecurityGuardian' in asked["user"]
        assert '### P2: "Rename cursor to cur" by RefactorArchitect' in asked["user"]
        assert "(yours)" in asked["user"]
        # The refine question continues the conversation: pack, then its own answer.
        roles = [m["role"] for m in asked["messages"]]
        assert roles == ["system", "user", "assistant", "user"]
    assert result.usage.total.calls == 4


async def test_refine_drops_and_revises(llm_sim: LLMSim, model: OpenAIModel) -> None:
    revised = item("Count rows in SQL (revised)", COUNT, "medium")
    decisions = {
        "decisions": [
            {"id": "P2", "action": "drop", "reason": "P1 fixes the same query"},
            {"id": "P3", "action": "revise", "reason": "clearer", "proposal": revised},
        ]
    }
    llm_sim.set_script(
        [
            step("SecurityGuardian", answer(item("Parameterise", SQL_FIX, "critical"))),
            step("RefactorArchitect", answer(item("Rename", RENAME), item("Count", COUNT))),
            step("SecurityGuardian", '[{"id": "P1", "action": "keep"}]', REFINE),
            step("RefactorArchitect", "Sure.\n" + json.dumps(decisions), REFINE),
        ]
    )
    result = await run_swarm(model, only("security", "refactor"), CONTEXT, config=read_config(None))
    assert [a.proposal.title for a in result.selected] == [
        "Parameterise",
        "Count rows in SQL (revised)",
    ]
    (dropped,) = result.rejected
    assert (dropped.proposal.title, dropped.stage) == ("Rename", "refine")
    assert dropped.reasons == (
        "dropped by RefactorArchitect after seeing the others: P1 fixes the same query",
    )
    assert result.failures == ()


async def test_malformed_refine_decisions_are_corrected(
    llm_sim: LLMSim, model: OpenAIModel
) -> None:
    bad = {"decisions": [{"id": "P9", "action": "keep"}, {"id": "P2", "action": "merge"}]}
    llm_sim.set_script(
        [
            step("SecurityGuardian", answer(item("Parameterise", SQL_FIX, "critical"))),
            step("StyleEnforcer", answer(item("Doc", DOC), item("Doc tests", TEST))),
            step("SecurityGuardian", '{"decisions": [{"id": "P1", "action": "keep"}]}', REFINE),
            step("StyleEnforcer", json.dumps(bad), REFINE),
            step("StyleEnforcer", '{"decisions": [{"id": "P2", "action": "drop"}]}', "problems"),
            step("StyleEnforcer", '{"decisions": []}', "problems"),
        ]
    )
    result = await run_swarm(model, only("security", "style"), CONTEXT, config=read_config(None))
    feedback = next(r["user"] for r in llm_sim.requests() if "problems" in r["user"])
    assert "decision 1: id 'P9' is not one of your proposals (P2, P3)" in feedback
    assert "decision 2: P2: action 'merge' is not keep, revise or drop" in feedback
    assert "no decision for P3" in feedback
    # P2 was dropped on the retry; P3 got no decision at all and is kept, with a note.
    assert [a.proposal.title for a in result.selected] == ["Parameterise", "Doc tests"]
    assert [r.proposal.title for r in result.rejected] == ["Doc"]
    (failure,) = result.failures
    assert (failure.agent, failure.stage) == ("StyleEnforcer", "refine")
    assert failure.error == "no valid decision for P3 after the retries; kept as proposed"


async def test_a_failed_refine_keeps_the_proposals(llm_sim: LLMSim, model: OpenAIModel) -> None:
    llm_sim.set_script(
        [
            step("SecurityGuardian", answer(item("Parameterise", SQL_FIX, "critical"))),
            step("StyleEnforcer", answer(item("Doc", DOC))),
            {"match": {"user": REFINE}, "status": 503, "repeat": True},
        ]
    )
    result = await run_swarm(model, only("security", "style"), CONTEXT, config=read_config(None))
    assert [a.proposal.title for a in result.selected] == ["Parameterise", "Doc"]
    assert {(f.agent, f.stage) for f in result.failures} == {
        ("SecurityGuardian", "refine"),
        ("StyleEnforcer", "refine"),
    }
    assert all(f.error.endswith("; undecided proposals kept") for f in result.failures)


async def test_filters_limits_and_risk_rules(llm_sim: LLMSim, model: OpenAIModel) -> None:
    wide = "".join(edit(f"src/m{n}.py", f"x = {n}\n") for n in range(11))
    manifest = edit("requirements.txt", "requests==2.32.3\n")
    llm_sim.set_script(
        [
            step("SecurityGuardian", answer(item("Pin", manifest), item("Minor", DOC))),
            step("TestEnhancer", answer(item("Src", DOC), item("T1", TEST), item("T2", TEST))),
            step("RefactorArchitect", answer(item("Everything", wide, "medium"))),
        ]
    )
    config = read_config({"security": {"severity_threshold": "low"}, "tests": {"max_proposals": 1}})
    specialists = only("security", "tests", "refactor")
    result = await run_swarm(model, specialists, CONTEXT, config=config, options=NO_REFINE)
    levels = {a.proposal.title: (a.risk.level, a.risk.needs_approval) for a in result.selected}
    assert levels == {"Pin": ("high", True), "Minor": ("low", False), "T1": ("low", False)}
    pin = next(a for a in result.selected if a.proposal.title == "Pin")
    assert pin.risk.reasons == ("changes a dependency manifest (requirements.txt)",)
    rejected = [(r.proposal.title, r.stage, r.reasons[-1]) for r in result.rejected]
    assert rejected == [
        ("Src", "filter", "a test proposal may change test files only, not src/app.py"),
        ("T2", "filter", "over this specialist's limit of 1 proposals"),
        ("Everything", "risk", "touches 11 files (more than 10); split it"),
    ]


async def test_extra_model_free_proposals_take_part_in_selection(
    llm_sim: LLMSim, model: OpenAIModel
) -> None:
    ruff_doc = Proposal("Ruff", "Format", "", DOC, "low", "", diff_paths(DOC), 0, ("ruff",))
    llm_sim.set_script([step("StyleEnforcer", answer(item("Document greet", DOC)))])
    result = await run_swarm(
        model, only("style"), CONTEXT, config=read_config(None), extra=[ruff_doc]
    )
    assert [a.proposal.agent for a in result.selected] == ["StyleEnforcer"]
    (lost,) = result.superseded
    assert (lost.proposal.agent, lost.kind) == ("Ruff", "duplicate")


async def test_calls_stay_within_the_concurrency_limit(llm_sim: LLMSim, model: OpenAIModel) -> None:
    llm_sim.set_script([{"content": "[]", "latency_s": 0.2, "repeat": True}])
    result = await run_swarm(
        model, ALL, CONTEXT, config=read_config(None), limiter=asyncio.Semaphore(2)
    )
    assert result.usage.total.calls == 5
    assert llm_sim.max_in_flight() == 2


async def test_a_spent_budget_fails_every_specialist_without_a_call(
    llm_sim: LLMSim, model: OpenAIModel
) -> None:
    budget = TokenBudget(10)
    result = await run_swarm(
        BudgetedModel(model, budget), only("security", "style"), CONTEXT, config=read_config(None)
    )
    assert {f.agent for f in result.failures} == {"SecurityGuardian", "StyleEnforcer"}
    assert all(f.error.startswith("token budget spent") for f in result.failures)
    assert llm_sim.requests() == []
    assert result.summary().startswith("0 selected, 0 superseded, 0 rejected; failed: ")
