"""The proposal fingerprint, the hunk overlap and the memory's pure decisions."""

from __future__ import annotations

import difflib

from agents.proposal import Proposal
from bot.flows.memory import Memory, Proposed, allowance, learning_line, remember
from bot.flows.outcomes import HumanPull, Recall, screen
from bot.github.values import PullRequest
from bot.publish.dashboard_outcomes import (
    Dismissable,
    OutcomesSection,
    again_ticked,
    render_section,
    waiting_of,
    with_section,
)
from bot.publish.fingerprint import (
    fingerprint,
    fingerprint_marker,
    fingerprint_of_text,
    fingerprint_trailer,
)
from bot.publish.overlap import hunk_ranges, overlaps

OLD = "def f(x):\n    return x+1\n\n\ndef g():\n    pass\n"
NEW = "def f(x):\n    return x + 2\n\n\ndef g():\n    pass\n"


def _diff(old: str, new: str, path: str = "m.py", context: int = 3) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        f"a/{path}",
        f"b/{path}",
        n=context,
    )
    return "".join(lines)


def test_the_fingerprint_ignores_whitespace_context_and_position_but_not_substance() -> None:
    fp = fingerprint("StyleEnforcer", _diff(OLD, NEW))
    assert fp.startswith("StyleEnforcer/")
    assert len(fp.split("/")[1]) == 16
    # Re-indented, more context, and the file moved down by a rebase: the same proposal.
    spaced = _diff(OLD, NEW.replace("x + 2", "x  +  2"), context=1)
    moved = _diff("# header\n" * 5 + OLD, "# header\n" * 5 + NEW)
    assert fingerprint("StyleEnforcer", spaced) == fp
    assert fingerprint("StyleEnforcer", moved) == fp
    # Another agent, another path, or another change of the same lines: another proposal.
    assert fingerprint("RefactorArchitect", _diff(OLD, NEW)) != fp
    assert fingerprint("StyleEnforcer", _diff(OLD, NEW, "n.py")) != fp
    assert fingerprint("StyleEnforcer", _diff(OLD, NEW.replace("2", "3"))) != fp


def test_the_fingerprint_is_read_back_from_a_body_marker_or_a_commit_trailer() -> None:
    fp = fingerprint("TestEnhancer", _diff("", "x = 1\n", "t.py"))
    assert fingerprint_of_text(f"What and why.\n\n{fingerprint_marker(fp)}\n\nMore") == fp
    assert fingerprint_of_text(f"Title\n\nBody\n\n{fingerprint_trailer(fp)}\n") == fp
    assert fingerprint_of_text("no marker <!-- ambient:proposal nonsense -->") is None


def test_hunks_overlap_only_on_the_same_file_and_lines() -> None:
    ours = hunk_ranges(_diff(OLD, NEW, context=0))
    assert ours == {"m.py": ((2, 2),)}
    theirs = hunk_ranges("@@ -1,3 +1,3 @@\n x\n-y\n+z\n", "m.py")
    assert overlaps(ours, theirs) == ("m.py",)
    assert overlaps(ours, hunk_ranges("@@ -5,2 +5,2 @@\n-a\n+b\n", "m.py")) == ()
    assert overlaps(ours, hunk_ranges("@@ -1,3 +1,3 @@\n-a\n+b\n", "other.py")) == ()
    new_file = hunk_ranges(_diff("", "a\n", "tests/t.py"))
    assert overlaps(new_file, hunk_ranges("@@ -0,0 +1,2 @@\n+a\n+b\n", "tests/t.py"))


def _pull(
    number: int, state: str, fp: str, *, merged: bool = False, labels: tuple[str, ...] = ()
) -> PullRequest:
    return PullRequest(
        number, state, f"PR {number}", f"x\n{fingerprint_marker(fp)}", "ambient[bot]",
        f"ambient/sweep/{number}", "1" * 40, "o/r", "main", "2" * 40, "o/r", False, merged,
        False, "", created_at="2026-11-01T00:00:00Z",
        merged_at="2026-11-01T06:00:00Z" if merged else "", labels=labels,
    )  # fmt: skip


def test_the_memory_reads_decisions_from_the_prs_alone() -> None:
    a, b = "Style/" + "a" * 16, "Style/" + "b" * 16
    pulls = [
        _pull(1, "closed", a),
        _pull(2, "closed", b, merged=True),
        _pull(3, "closed", b, merged=True, labels=("ambient-reverted",)),
        _pull(4, "open", a),
        PullRequest(5, "closed", "t", fingerprint_marker(a), "alice", "x", "1", "o/r", "main",
                    "2", "o/r", False, False, False, ""),
    ]  # fmt: skip
    memory = remember(pulls, "ambient[bot]")
    assert [p.number for p in memory.proposals] == [4, 3, 2, 1]
    # a was reopened as #4 (its newest PR is open): not rejected; nothing else was closed.
    assert memory.rejected("main") == frozenset()
    assert remember(pulls[:3], "ambient[bot]").rejected() == {a}
    record = memory.records()["Style"]
    assert (record.proposed, record.merged, record.closed, record.reverted, record.open) == (
        4, 2, 1, 1, 1,
    )  # fmt: skip
    assert record.hours_to_merge == 6.0
    # Newest decided first: #3 reverted, then #2 merged ends the streak.
    assert memory.streak("Style") == 1


def test_a_specialist_rejected_in_a_row_proposes_less_then_nothing() -> None:
    assert [allowance(n, 3) for n in range(5)] == [None, 2, 1, 0, 0]
    assert allowance(7, 0) is None
    assert "paused" in learning_line("StyleEnforcer", 3, 3)
    assert "at most 1" in learning_line("StyleEnforcer", 2, 3)
    assert learning_line("StyleEnforcer", 0, 3) == ""
    memory = Memory(tuple(Proposed("S/" + str(i) * 16, i, "closed", "main", "") for i in range(3)))
    assert memory.streak("S") == 3


def test_the_dashboard_section_round_trips_its_boxes_and_waiting_branches() -> None:
    fp = "Style/" + "c" * 16
    section = render_section(
        OutcomesSection(
            "| t |", ("a note",), (Dismissable("Title `x`", fp, 4),), {"ambient/sweep/x": fp}
        )
    )
    body = with_section("- [ ] A (`ambient/sweep/a`)\n", section)
    assert again_ticked(body) == frozenset()
    ticked = body.replace("- [ ] propose again", "- [x] propose again")
    assert again_ticked(ticked) == {fp}
    assert waiting_of(ticked) == {"ambient/sweep/x": fp}
    assert with_section(ticked, "") == "- [ ] A (`ambient/sweep/a`)\n\n"
    assert with_section(ticked, section).count("### Outcomes") == 1


def _proposal(agent: str, diff: str, title: str = "T") -> Proposal:
    return Proposal(agent, title, title, diff, "low", "why", ("m.py",), 1)


def test_the_screen_drops_rejected_duplicated_and_held_back_proposals() -> None:
    rejected = _proposal("StyleEnforcer", _diff(OLD, NEW), "Rejected")
    fp = fingerprint("StyleEnforcer", rejected.diff)
    closed = Proposed(fp, 4, "closed", "main", "", title="Rejected")
    other = [Proposed(f"Perf/{i:016x}", 10 + i, "closed", "main", "") for i in range(2)]
    memory = Memory((*other, closed))
    humans = (HumanPull(9, "alice", {"n.py": ((1, 3),)}),)
    record = Recall(memory, humans=humans)
    perf = [_proposal("Perf", _diff(OLD, NEW.replace("2", str(n)), "p.py")) for n in (3, 4)]
    human = _proposal("TestEnhancer", _diff(OLD, NEW, "n.py"), "Same as alice")
    screened = screen(
        [rejected, human, *perf], record, "main", pause_after=3, tuned=lambda _: False
    )
    # Perf's last two PRs were closed: with 3 as the pause, it may make one proposal.
    assert screened.kept == (perf[0],)
    assert screened.seen_again == ((fp, 4),)
    assert [o.reason for o in screened.skipped] == [
        "#4 was closed unmerged; not proposed again",
        "Same as alice: not opened, #9 by alice changes the same lines",
        "held back: its recent proposals here were closed or reverted",
    ]
    # A maintainer's "propose again" tick, and tuning under agents.<name>, win.
    again = Recall(memory, again=frozenset({fp}))
    assert screen(
        [rejected, *perf], again, "main", pause_after=3, tuned=lambda a: a == "Perf"
    ).kept == (
        rejected,
        *perf,
    )
    # Paused outright once the streak reaches the key.
    assert screen(perf, record, "main", pause_after=2, tuned=lambda _: False).kept == ()
