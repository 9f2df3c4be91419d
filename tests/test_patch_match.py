"""The pure hunk matcher: where each hunk goes, and when it must refuse."""

from __future__ import annotations

from bot.patch.match import FileText, HunkFailure, apply_placements, place_hunks
from bot.patch.model import FilePatch, Hunk
from bot.patch.plan import already_applied, plan_file

BODY = [f"line {i}" for i in range(1, 21)]


def text(lines: list[str], *, crlf: bool = False, final: bool = True) -> FileText:
    return FileText(tuple(lines), crlf, final)


def hunk(start: int | None, *lines: str) -> Hunk:
    return Hunk(start, start, tuple(lines))


def change_line_10(start: int | None = 8) -> Hunk:
    return hunk(start, " line 8", " line 9", "-line 10", "+LINE 10", " line 11", " line 12")


def applied(t: FileText, hunks: list[Hunk], *, strict: bool = False) -> FileText:
    placed = place_hunks(t, hunks, strict=strict)
    assert not isinstance(placed, HunkFailure), placed
    result = apply_placements(t, hunks, placed)
    assert isinstance(result, FileText)
    return result


def test_exact_context_at_the_stated_line() -> None:
    result = applied(text(BODY), [change_line_10()], strict=True)
    assert result.lines[9] == "LINE 10"


def test_drifted_line_numbers_find_the_context() -> None:
    result = applied(text(BODY), [change_line_10(start=2)])
    assert result.lines[9] == "LINE 10"


def test_file_grown_above_the_hunk() -> None:
    grown = ["new a", "new b", "new c", *BODY]
    result = applied(text(grown), [change_line_10()])
    assert result.lines[12] == "LINE 10"


def test_context_in_two_places_without_a_telling_line_number_is_refused() -> None:
    twice = [*BODY, *BODY[7:12]]
    failure = place_hunks(text(twice), [change_line_10(start=15)], strict=False)
    assert isinstance(failure, HunkFailure)
    assert (failure.reason, failure.candidates) == ("ambiguous", (7, 20))


def test_context_in_two_places_is_placed_where_the_line_number_says() -> None:
    twice = [*BODY, *BODY[7:12]]
    result = applied(text(twice), [change_line_10(start=8)])
    assert result.lines[9] == "LINE 10"
    assert result.lines[22] == "line 10"


def test_context_without_numbers_in_two_places_is_refused() -> None:
    twice = [*BODY, *BODY[7:12]]
    failure = place_hunks(text(twice), [change_line_10(start=None)], strict=False)
    assert isinstance(failure, HunkFailure)
    assert failure.reason == "ambiguous"


def test_hunk_order_rules_out_a_copy_after_the_next_hunk() -> None:
    lines = [*BODY, "tail a", "tail b", "tail c", "tail d", *BODY[7:12]]
    second = hunk(None, " tail a", " tail b", "-tail c", "+TAIL C", " tail d")
    result = applied(text(lines), [change_line_10(start=None), second])
    assert result.lines[9] == "LINE 10"
    assert result.lines[26] == "line 10"


def test_neighbours_that_disagree_about_the_drift_make_a_refusal() -> None:
    # The copy sits between the two hunks: "stated line" says the first, the second hunk's
    # drift says the copy. Either could be meant.
    lines = [*BODY[:12], *BODY[7:12], *BODY[12:]]
    second = hunk(15, " line 15", " line 16", "-line 17", "+LINE 17", " line 18")
    failure = place_hunks(text(lines), [change_line_10(), second], strict=False)
    assert isinstance(failure, HunkFailure)
    assert failure.reason == "ambiguous"


def test_trailing_whitespace_drift_in_context() -> None:
    t = text([*BODY[:8], "line 9   ", *BODY[9:]])
    placed = place_hunks(t, [change_line_10()], strict=False)
    assert not isinstance(placed, HunkFailure)
    assert placed[0].tier == "whitespace"
    assert apply_placements(t, [change_line_10()], placed).lines[8] == "line 9   "  # type: ignore[union-attr]


def test_indentation_offset_is_carried_to_the_added_lines() -> None:
    code = ["def f():", "    if x:", "        a = 1", "        b = 2", "    return a"]
    h = hunk(2, " if x:", "-    a = 1", "+    a = 10", "+    c = 3", "     b = 2")
    result = applied(text(code), [h])
    assert result.lines == (
        "def f():",
        "    if x:",
        "        a = 10",
        "        c = 3",
        "        b = 2",
        "    return a",
    )


def test_patch_indented_more_than_the_file() -> None:
    code = ["a:", "  b: 1", "  c: 2", "d: 3"]
    h = hunk(1, "     a:", "-      b: 1", "+      b: 5", "       c: 2")
    assert applied(text(code), [h]).lines == ("a:", "  b: 5", "  c: 2", "d: 3")


def test_no_fuzz_a_changed_context_line_is_not_found() -> None:
    t = text([*BODY[:8], "line nine", *BODY[9:]])
    failure = place_hunks(t, [change_line_10()], strict=False)
    assert isinstance(failure, HunkFailure)
    assert failure.reason == "not-found"


def test_strict_tier_anchors_a_hunk_stated_at_line_1() -> None:
    h = hunk(1, " line 1", "-line 2", "+LINE 2", " line 3")
    grown = ["header", *BODY]
    assert isinstance(place_hunks(text(grown), [h], strict=True), HunkFailure)
    assert applied(text(grown), [h]).lines[2] == "LINE 2"


def test_crlf_file_with_an_lf_patch_keeps_crlf() -> None:
    t = FileText.parse("".join(f"{line}\r\n" for line in BODY))
    assert t.crlf
    result = applied(t, [change_line_10()])
    assert result.render().split("\r\n")[9] == "LINE 10"
    assert "\n" not in result.render().replace("\r\n", "")


def test_file_without_final_newline_stays_so() -> None:
    t = FileText.parse("a\nb\nc")
    h = hunk(2, " b", "-c", "+C")
    assert applied(t, [h]).render() == "a\nb\nC"


def test_marker_adds_the_final_newline() -> None:
    t = FileText.parse("a\nb\nc")
    h = Hunk(2, 2, (" b", "-c", "+C"), old_no_newline=True)
    assert applied(t, [h]).render() == "a\nb\nC\n"


def test_form_feed_is_not_a_line_break() -> None:
    t = FileText.parse("a\n\x0c\nb\n")
    assert t.lines == ("a", "\x0c", "b")


def test_already_applied_is_recognised_by_the_reverse() -> None:
    after = [*BODY[:9], "LINE 10", *BODY[10:]]
    fp = FilePatch("f", "f", (change_line_10(),))
    snap = {"f": ("\n".join(after) + "\n").encode()}
    assert not plan_file(fp, snap, strict=True).ok
    assert already_applied(fp, snap)


def test_failure_message_names_the_hunk_and_shows_the_file_nearby() -> None:
    t = [*BODY[:8], "line nine", *BODY[9:]]
    fp = FilePatch(
        "src/f.txt", "src/f.txt", (hunk(1, " line 1", "-line 2", "+x", " line 3"), change_line_10())
    )
    plan = plan_file(fp, {"src/f.txt": ("\n".join(t) + "\n").encode()}, strict=False)
    assert not plan.ok
    assert plan.error.startswith("hunk 2 of 2 in src/f.txt (@@ -8,5 +8,5 @@) (hunk 1 matched): ")
    assert "the file holds near line 8" in plan.error
    assert " 9| line nine" in plan.error
    assert [o.status for o in plan.outcomes] == ["matched", "not-found"]


def test_places_that_give_the_same_text_are_not_ambiguous() -> None:
    # A run of equal lines: dropping one of them gives the same file wherever it is done.
    lines = ["x", "#", "#", "#", "#", "y"]
    h = hunk(20, " #", "-#", " #")
    assert applied(text(lines), [h], strict=True).lines == ("x", "#", "#", "#", "y")


def test_same_text_is_judged_with_the_hunks_that_follow() -> None:
    lines = ["#", "#", "#", "#", "a", "b", "c"]
    first = hunk(None, " #", "-#", " #")
    second = hunk(None, " a", "-b", "+B", " c")
    assert applied(text(lines), [first, second]).lines == ("#", "#", "#", "a", "B", "c")


def test_places_that_give_different_texts_stay_ambiguous() -> None:
    lines = ["#", "x", "#", "y"]
    failure = place_hunks(text(lines), [hunk(None, "-#", "+!")], strict=False)
    assert isinstance(failure, HunkFailure)
    assert (failure.reason, failure.candidates) == ("ambiguous", (0, 2))


def test_too_many_places_to_compare_stay_ambiguous() -> None:
    # Comparing the results is bounded; past the bound the hunk is refused as before.
    failure = place_hunks(text(["#"] * 400), [hunk(None, " #", "-#", " #")], strict=False)
    assert isinstance(failure, HunkFailure)
    assert failure.reason == "ambiguous"
