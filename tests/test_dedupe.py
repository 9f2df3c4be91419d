"""Dedupe and conflict selection: hunk spans from real and damaged diffs, overlap, the rule."""

from __future__ import annotations

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.dedupe import Span, changed_spans, first_overlap, same_intent, select
from agents.proposal import Proposal, RiskLevel, diff_paths

BASE = "".join(f"line {n}\n" for n in range(1, 31))
PRIORITY = {"SecurityGuardian": 0, "PerformanceOptimizer": 1, "RefactorArchitect": 2}


def edit(path: str, new: str, old: str = BASE) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        )
    )


def replaced(mapping: dict[int, str], old: str = BASE) -> str:
    """BASE with the given 1-based lines replaced (an empty string deletes the line)."""
    lines = old.splitlines(keepends=True)
    for number, text in mapping.items():
        lines[number - 1] = text
    return "".join(lines)


def make(
    agent: str, title: str, diff: str, risk: RiskLevel = "low", tags: tuple[str, ...] = ()
) -> Proposal:
    return Proposal(agent, title, "", diff, risk, "", diff_paths(diff), 0, tags)


def test_spans_of_a_real_diff_are_the_changed_lines() -> None:
    diff = edit("app.py", replaced({10: "ten\n", 11: "eleven\n"}))
    (span,) = changed_spans(diff)
    assert span == Span("app.py", 20, 22)
    assert span.describe() == "app.py lines 10-11"


def test_a_pure_insertion_is_a_point_between_lines() -> None:
    diff = edit("app.py", BASE.replace("line 5\n", "line 5\nnew\n"))
    (span,) = changed_spans(diff)
    assert span.describe() == "app.py after line 5"
    assert (span.start, span.end) == (11, 11)


def test_spans_ignore_wrong_hunk_counts() -> None:
    right = edit("app.py", replaced({10: "ten\n"}))
    wrong = right.replace("@@ -7,7 +7,7 @@", "@@ -7,99 +7,1 @@")
    assert wrong != right
    assert changed_spans(wrong) == changed_spans(right)


def test_blank_context_lines_without_their_space_still_count() -> None:
    old = "a\n\nb\nc\n"
    diff = edit("x.py", "a\n\nB\nc\n", old)
    damaged = diff.replace("\n \n", "\n\n")
    assert damaged != diff
    assert changed_spans(damaged) == changed_spans(diff) == (Span("x.py", 6, 6),)


def test_a_removed_line_that_looks_like_a_header_is_a_removal() -> None:
    old = "select 1;\n-- old note\nselect 2;\n"
    diff = edit("q.sql", "select 1;\nselect 2;\n", old)
    assert "\n--- old note\n" in diff
    assert changed_spans(diff) == (Span("q.sql", 4, 4),)


def test_new_and_deleted_files_and_several_files() -> None:
    created = "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+a\n+b\n"
    deleted = "--- a/old.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n"
    spans = changed_spans(created + deleted)
    assert spans == (Span("new.py", 1, 1), Span("old.py", 2, 4))


def test_touching_changes_overlap_and_a_line_apart_do_not() -> None:
    line10 = changed_spans(edit("a.py", replaced({10: "x\n"})))
    line11 = changed_spans(edit("a.py", replaced({11: "y\n"})))
    line12 = changed_spans(edit("a.py", replaced({12: "z\n"})))
    other_file = changed_spans(edit("b.py", replaced({10: "x\n"})))
    assert first_overlap(line10, line11) is not None
    assert first_overlap(line10, line12) is None
    assert first_overlap(line10, other_file) is None


def test_same_intent_by_change_title_or_specific_tag() -> None:
    diff = edit("db.py", replaced({10: "safe = query(name)\n"}))
    spaced = edit("db.py", replaced({10: "safe  =  query(name)\n"}))
    other = edit("db.py", replaced({10: "different()\n"}))
    a = make("SecurityGuardian", "Fix SQL injection in find_user", diff)
    assert same_intent(a, make("RefactorArchitect", "Unrelated", spaced))
    assert same_intent(a, make("RefactorArchitect", "Fix the SQL injection of find_user", other))
    tagged = make("RefactorArchitect", "Parameterise query", other, tags=("sql-injection",))
    assert same_intent(make("X", "Escape input", diff, tags=("sql-injection",)), tagged)
    assert not same_intent(a, make("RefactorArchitect", "Rename the query helper", other))


def test_a_conflict_keeps_the_higher_severity_and_records_why() -> None:
    security = make(
        "SecurityGuardian",
        "Use a parameterised query",
        edit("db.py", replaced({10: "q(?)\n"})),
        "critical",
    )
    refactor = make(
        "RefactorArchitect", "Rename the query variable", edit("db.py", replaced({11: "r\n"}))
    )
    selection = select([refactor, security], PRIORITY)
    assert selection.selected == (security,)
    (lost,) = selection.superseded
    assert (lost.proposal, lost.by, lost.kind) == (refactor, security, "conflict")
    assert lost.reason == (
        'conflicts with SecurityGuardian\'s "Use a parameterised query": both change db.py '
        "line 11; kept that one: higher severity (critical over low)"
    )


def test_then_the_smaller_diff_then_agent_priority() -> None:
    small = make("RefactorArchitect", "B", edit("a.py", replaced({10: "x\n"})))
    large = make("SecurityGuardian", "A", edit("a.py", replaced({10: "x\n", 11: "y\n"})))
    selection = select([large, small], PRIORITY)
    assert selection.selected == (small,)
    assert "smaller diff (2 changed lines against 4)" in selection.superseded[0].reason
    first = make("PerformanceOptimizer", "Z", edit("a.py", replaced({10: "p\n"})))
    second = make("RefactorArchitect", "A", edit("a.py", replaced({10: "r\n"})))
    selection = select([second, first], PRIORITY)
    assert selection.selected == (first,)
    assert "PerformanceOptimizer comes first in agent priority" in selection.superseded[0].reason


def test_duplicates_are_recorded_as_duplicates() -> None:
    a = make("SecurityGuardian", "Quote the argument", edit("run.py", replaced({5: "x(a)\n"})))
    b = make("RefactorArchitect", "Quote argument", edit("run.py", replaced({5: "x( a )\n"})))
    selection = select([a, b], PRIORITY)
    assert selection.selected == (a,)
    assert selection.superseded[0].kind == "duplicate"
    assert selection.superseded[0].reason.startswith(
        'duplicate of SecurityGuardian\'s "Quote the argument" (run.py line 5)'
    )


def test_proposals_that_do_not_overlap_are_all_kept() -> None:
    ones = [
        make("SecurityGuardian", f"change {n}", edit("a.py", replaced({n: f"x{n}\n"})))
        for n in (3, 10, 20)
    ]
    assert set(select(ones, PRIORITY).selected) == set(ones)


AGENTS: tuple[tuple[str, RiskLevel], ...] = (
    ("SecurityGuardian", "high"),
    ("RefactorArchitect", "low"),
    ("X", "low"),
)
POOL = [
    make(agent, f"{agent} {n}", edit(path, replaced({n: f"{agent}{n}\n"})), risk)
    for agent, risk in AGENTS
    for path in ("a.py", "b.py")
    for n in (4, 5, 9)
]


@settings(max_examples=60, deadline=None)
@given(st.permutations(POOL))
def test_the_selection_does_not_depend_on_arrival_order(order: list[Proposal]) -> None:
    expected = select(POOL, PRIORITY)
    got = select(order, PRIORITY)
    assert got.selected == expected.selected
    assert {(s.proposal, s.by) for s in got.superseded} == {
        (s.proposal, s.by) for s in expected.superseded
    }
