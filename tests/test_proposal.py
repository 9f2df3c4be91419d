"""Proposals parsed from the messy answers real models give."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.llm import Message, OpenAIModel
from agents.proposal import RISK_LEVELS, Proposal, diff_paths, parse_proposals
from tests.fixtures.llm_sim import LLMSim

# Hunk counts are wrong on purpose (the header claims 7 lines, the hunk has 5), as models write.
DIFF = (
    "--- a/src/auth.py\n"
    "+++ b/src/auth.py\n"
    "@@ -10,7 +10,7 @@ def login(user, password):\n"
    "     conn = connect()\n"
    "-    query = f\"SELECT * FROM users WHERE name = '{user}'\"\n"
    "-    rows = conn.execute(query)\n"
    '+    rows = conn.execute("SELECT * FROM users WHERE name = ?", (user,))\n'
    "     return rows\n"
)

ITEM = {
    "agent": "SecurityGuardian",
    "title": "Fix SQL injection in user login",
    "description": "User input is interpolated into SQL.",
    "diff": DIFF,
    "risk_level": "critical",
    "rationale": "OWASP A03:2021 Injection.",
    "files_touched": ["src/auth.py"],
    "estimated_loc_change": -1,
    "tags": ["security", "sql-injection"],
}


def answer(*items: object) -> str:
    return json.dumps(list(items), indent=2)


def test_prose_around_a_fenced_array_with_a_fenced_diff() -> None:
    fenced = {**ITEM, "diff": "```diff\n" + DIFF + "```"}
    text = (
        "I reviewed the repository and found one issue.\n\n"
        f"```json\n{answer(fenced)}\n```\n\nLet me know if you want more."
    )

    outcome = parse_proposals(text)

    assert outcome.errors == ()
    (proposal,) = outcome.proposals
    assert proposal.diff == DIFF
    assert proposal.risk_level == "critical"
    assert proposal.files_touched == ("src/auth.py",)
    assert proposal.tags == ("security", "sql-injection")


def test_bare_array_with_raw_newlines_inside_the_diff_string() -> None:
    # Models often write the diff's newlines raw instead of as \n escapes.
    raw = answer(ITEM).replace(json.dumps(DIFF), '"' + DIFF.replace('"', '\\"') + '"')
    assert "\n+++ b/src/auth.py\n" in raw

    (proposal,) = parse_proposals(raw).proposals

    assert proposal.diff == DIFF


def test_a_citation_before_the_array_is_not_taken_for_it() -> None:
    text = f"See [1] for the CWE. Proposals:\n{answer(ITEM)}\n[1] CWE-89"

    assert len(parse_proposals(text).proposals) == 1


def test_invalid_items_are_reported_and_the_others_kept() -> None:
    text = answer(
        ITEM,
        {**ITEM, "risk_level": "severe"},
        {**ITEM, "title": None},
        {**ITEM, "diff": "replace line 10 with a parameterized query"},
        {**ITEM, "files_touched": "src/auth.py"},
        {**ITEM, "estimated_loc_change": "3"},
        "just a string",
        {**ITEM, "title": "second good one", "risk_level": "Low"},
    )

    outcome = parse_proposals(text)

    assert [p.title for p in outcome.proposals] == [ITEM["title"], "second good one"]
    assert outcome.proposals[1].risk_level == "low"
    assert outcome.errors == (
        "item 2: risk_level 'severe' is not one of low, medium, high, critical",
        "item 3: title is missing",
        "item 4: diff is not a unified diff (it needs '--- a/PATH' and '+++ b/PATH' lines, "
        "then '@@ -l,n +l,n @@' hunks)",
        "item 5: files_touched must be an array of non-empty strings",
        "item 6: estimated_loc_change must be a whole number, not a string",
        "item 7: expected a proposal object, got a string",
    )
    assert outcome.accepted_items == (1, 8)
    feedback = outcome.feedback()
    assert feedback.startswith("Your answer had problems:\n- item 2: risk_level 'severe'")
    assert "Items 1, 8 were accepted; do not send them again." in feedback


def test_missing_optional_fields_come_from_the_diff_and_the_caller() -> None:
    text = answer({"title": "Use a parameter", "diff": DIFF, "risk_level": "high"})

    (proposal,) = parse_proposals(text, agent="security").proposals

    assert proposal.agent == "security"
    assert proposal.files_touched == ("src/auth.py",)
    assert proposal.estimated_loc_change == -1
    assert (proposal.description, proposal.rationale, proposal.tags) == ("", "", ())


def test_agent_is_required_when_the_caller_does_not_name_one() -> None:
    text = answer({"title": "t", "diff": DIFF, "risk_level": "low"})

    assert parse_proposals(text).errors == ("item 1: agent is missing",)


def test_an_empty_list_in_prose_does_not_hide_the_answer() -> None:
    text = f"When nothing is wrong I answer [], but here:\n{answer(ITEM)}"

    assert len(parse_proposals(text).proposals) == 1


def test_json_mode_object_and_single_object() -> None:
    assert len(parse_proposals(json.dumps({"proposals": [ITEM, ITEM]})).proposals) == 2
    assert len(parse_proposals(json.dumps(ITEM)).proposals) == 1


@pytest.mark.parametrize(
    "text", ["[]", "No issues found.\n\n```json\n[]\n```", '{"proposals": []}']
)
def test_nothing_to_propose(text: str) -> None:
    assert parse_proposals(text) == parse_proposals("[]")
    assert parse_proposals(text).proposals == ()
    assert parse_proposals(text).errors == ()


def test_broken_json_says_where() -> None:
    text = '```json\n[\n  {"title": "x",},\n]\n```'

    (error,) = parse_proposals(text).errors

    assert error.startswith("the JSON in the answer does not parse: Expecting property name")
    assert "line 2 column" in error


def test_no_json_and_empty_answers() -> None:
    assert parse_proposals("I found nothing worth changing.").errors == (
        "the answer holds no JSON array; answer with a JSON array of proposals",
    )
    assert parse_proposals("  \n").errors == (
        "the answer is empty; answer [] when there is nothing to propose",
    )


def test_diff_paths_handles_new_deleted_and_git_headers() -> None:
    diff = (
        "diff --git a/old.py b/old.py\n"
        "--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n"
        "--- /dev/null\n+++ b/new.py\t2024-01-01 00:00:00\n@@ -0,0 +1 @@\n+y = 2\n"
    )

    assert diff_paths(diff) == ("old.py", "new.py")
    assert diff_paths("diff --git a/bin.png b/bin.png\nBinary files differ\n") == ("bin.png",)


def test_crlf_diff_paths_have_no_carriage_return() -> None:
    (proposal,) = parse_proposals(answer({**ITEM, "diff": DIFF.replace("\n", "\r\n")})).proposals

    assert proposal.files_touched == ("src/auth.py",)
    assert diff_paths(proposal.diff) == ("src/auth.py",)


texts = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
proposals = st.builds(
    Proposal,
    agent=texts.filter(str.strip).map(str.strip),
    title=texts.filter(str.strip).map(str.strip),
    description=texts,
    diff=st.just(DIFF),
    risk_level=st.sampled_from(RISK_LEVELS),
    rationale=texts,
    files_touched=st.lists(texts, max_size=3).map(tuple),
    estimated_loc_change=st.integers(-1000, 1000),
    tags=st.lists(texts, max_size=3).map(tuple),
)


@given(st.lists(proposals, max_size=3), st.sampled_from(["{}", "Here:\n```json\n{}\n```\nDone."]))
def test_any_proposals_survive_a_round_trip(items: list[Proposal], frame: str) -> None:
    text = frame.replace("{}", json.dumps([p.as_dict() for p in items]))

    outcome = parse_proposals(text)

    assert outcome.errors == ()
    assert list(outcome.proposals) == items


@given(st.text(max_size=300))
def test_parsing_never_raises(text: str) -> None:
    outcome = parse_proposals(text, agent="a")

    assert all(isinstance(error, str) and error for error in outcome.errors)


async def test_messy_answer_through_the_model_server(llm_sim: LLMSim) -> None:
    messy = (
        "Sure! Here are my proposals.\n\n```json\n"
        + answer({**ITEM, "diff": "```diff\n" + DIFF + "```"}, {**ITEM, "risk_level": "extreme"})
        + "\n```\n"
    )
    llm_sim.set_script([{"match": {"agent": "SecurityGuardian"}, "content": messy}])
    model = OpenAIModel(base_url=llm_sim.base_url, model="sim", max_retries=0)
    try:
        completion = await model.complete(
            [Message("system", "You are SecurityGuardian."), Message("user", "Review.")],
            agent="SecurityGuardian",
        )
    finally:
        await model.aclose()

    outcome = parse_proposals(completion.text, agent="SecurityGuardian")

    assert [p.diff for p in outcome.proposals] == [DIFF]
    assert outcome.errors == (
        "item 2: risk_level 'extreme' is not one of low, medium, high, critical",
    )
