"""A sweep's packs: what each specialist is shown, chosen by model-free signals.

One `Analysis` of the checkout (`agents.analysis`) serves every specialist. Each
specialist's pack then holds, within its budget:

1. the repository map (up to 20%): every file's definitions, most referred-to first;
2. the important files (README, build and lint config; up to 12%, each capped);
3. the findings that chose its files, listed, five of a file at most (up to 5%);
4. the files recent pushes changed (up to 20%);
5. its files, ranked by its findings (`agents.signals`): whole when small, else the functions
   around each finding, each headed by the finding that brought it in;
6. its part of the sweep's turn: the files after a cursor that successive sweeps advance
   (`agents.rotation`), in path order, each specialist taking the next ones, so every file's
   turn comes. 20% of the budget is held for `files_per_specialist` of them, each cut to 600
   tokens; what the other parts leave shows more. The cursor moves past the files shown, so
   a sweep moves it by at least `files_per_specialist` times the number of specialists.

`plan_sweep` and `specialist_pack` are pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from agents.analysis import Analysis
from agents.code_index import enclosing_span
from agents.context import Packer
from agents.findings import Finding
from agents.pack import ContextPack
from agents.repo_map import RepoMap, build_map
from agents.rotation import Cursor, advance, window
from agents.signals import Chosen, rank_for
from agents.specialists.base import Specialist, SpecialistsConfig
from agents.usage import estimate_tokens

__all__ = [
    "SWEEP_BUDGET_TOKENS",
    "SweepPlan",
    "files_per_specialist",
    "plan_sweep",
    "specialist_pack",
]

SWEEP_BUDGET_TOKENS: Final = 12_000
MAP_SHARE: Final = 0.20
IMPORTANT_SHARE: Final = 0.12
IMPORTANT_CAP: Final = 600
FINDINGS_SHARE: Final = 0.05
#: The findings listed of one file at most (its weightiest), so the list spans many files.
LISTED_PER_FILE: Final = 5
TOUCHED_SHARE: Final = 0.20
TURN_SHARE: Final = 0.20
#: A sweep offers each specialist up to this many times its share of the turn.
TURN_STRETCH: Final = 8
#: A file shown for its turn is cut to this many tokens.
TURN_FILE_TOKENS: Final = 600
#: A file its findings chose is shown whole up to this many tokens, else around its findings.
WHOLE_FILE_TOKENS: Final = 1500
#: Lines around a finding outside any function, or in a function too long to show whole.
_RADIUS: Final = 12
_LONGEST_SPAN: Final = 120
TURN_NOTE: Final = "its turn: files earlier sweeps did not show"
#: The map's and the findings' headings and fences, and the heading of the names left out.
_HEADINGS: Final = 60
#: Room counted for the heading of each file of the turn (its path and why it is shown).
_TURN_HEADING: Final = 40


def files_per_specialist(budget_tokens: int) -> int:
    """How many files each specialist is shown for their turn within `budget_tokens`."""
    return max(1, int(budget_tokens * TURN_SHARE) // (TURN_FILE_TOKENS + _TURN_HEADING))


def _ranges(analysis: Analysis, chosen: Chosen) -> list[tuple[int, int]]:
    index = analysis.indices.get(chosen.path)
    ranges: list[tuple[int, int]] = []
    for line in chosen.lines:
        span = enclosing_span(index, line) if index is not None else None
        if span is None or span[1] - span[0] > _LONGEST_SPAN:
            low, high = span or (1, line + _RADIUS)
            span = (max(low, line - _RADIUS), min(high, line + _RADIUS))
        ranges.append(span)
    return ranges


def _findings_text(findings: Sequence[Finding], budget: int) -> tuple[tuple[Finding, ...], int]:
    kept: list[Finding] = []
    spent = 0
    for finding in findings:
        cost = estimate_tokens(
            [f"- {finding.code} {finding.path}:{finding.line}: {finding.message}"]
        )
        if spent + cost > budget:
            break
        kept.append(finding)
        spent += cost
    return tuple(kept), spent


def _tokens(packer: Packer) -> int:
    return sum(f.tokens for f in packer.files) + packer.header_tokens


def _cost(names: Sequence[tuple[str, str]]) -> int:
    return estimate_tokens(f"- {path} ({reason})" for path, reason in names)


def _turn_notes(paths: Sequence[str], by_path: Mapping[str, Chosen]) -> list[tuple[str, str]]:
    """Each file of a turn with why it is shown (and the findings it has, if any)."""
    notes = []
    for path in paths:
        chosen = by_path.get(path)
        found = f"; {chosen.reason}" if chosen is not None and chosen.findings else ""
        notes.append((path, TURN_NOTE + found))
    return notes


def _turn_cost(packer: Packer, path: str, note: str) -> int:
    """The most a file of the turn costs: its text cut to `TURN_FILE_TOKENS`, its heading."""
    text = packer.texts.get(path, "")
    return min(estimate_tokens([text]), TURN_FILE_TOKENS + 1) + packer.header(path, note)


def _named(names: Sequence[tuple[str, str]], room: int) -> tuple[tuple[tuple[str, str], ...], int]:
    """The files left out that fit in `room` tokens as names, and how many more there are."""
    kept: list[tuple[str, str]] = []
    spent = 0
    for item in names:
        spent += _cost([item])
        if spent > room:
            break
        kept.append(item)
    return tuple(kept), len(names) - len(kept)


def specialist_pack(
    analysis: Analysis,
    specialist: str,
    *,
    budget_tokens: int,
    repo_map: RepoMap,
    turn: Sequence[str] = (),
    touched: Sequence[str] = (),
    prioritize: Sequence[str] = (),
) -> ContextPack:
    """The pack of one specialist (short name); see the module docstring for its parts."""
    repo = analysis.repo
    ranked = rank_for(
        specialist,
        analysis.findings,
        prioritize=prioritize,
        candidates=analysis.sources,
        skip=analysis.skip,
    )
    listed = [f for chosen in ranked for f in chosen.findings[:LISTED_PER_FILE]]
    findings, listed_tokens = _findings_text(listed, int(budget_tokens * FINDINGS_SHARE))
    spent = repo_map.tokens + listed_tokens + _HEADINGS
    room = min(int(budget_tokens * IMPORTANT_SHARE), budget_tokens - spent)
    packer = Packer(repo.texts, room, headers=True)
    for path in analysis.important:
        packer.add(path, "important", cap=IMPORTANT_CAP)
    by_path = {chosen.path: chosen for chosen in ranked}
    first = _turn_notes(turn[: files_per_specialist(budget_tokens)], by_path)
    reserve = sum(_turn_cost(packer, path, note) for path, note in first)
    free = budget_tokens - spent - reserve - _tokens(packer)
    packer.left = min(int(budget_tokens * TOUCHED_SHARE), free)
    before = _tokens(packer)
    for path in touched:
        if path in repo.texts:
            packer.add(path, "touched")
    free -= _tokens(packer) - before
    # The turn's first files have room held for them: every sweep moves the cursor on.
    packer.left = reserve
    for path, note in first:
        packer.add(path, "turn", cap=TURN_FILE_TOKENS, detail=note)
    packer.left += free
    for chosen in ranked:
        packer.add(
            chosen.path,
            "finding" if chosen.findings else "prioritized",
            cap=WHOLE_FILE_TOKENS,
            lines=chosen.lines,
            ranges=_ranges(analysis, chosen),
            detail=chosen.reason,
        )
    for path, note in _turn_notes(turn[len(first) :], by_path):
        added = packer.add(path, "turn", cap=TURN_FILE_TOKENS, detail=note)
        if not added and packer.names_only and packer.names_only[-1][0] == path:
            # No room left: the rest of the turn waits for the next sweep, unnamed.
            packer.names_only.pop()
            break
    named, omitted = _named(packer.names_only, budget_tokens - spent - _tokens(packer))
    used = spent + _tokens(packer) + _cost(named)
    return ContextPack(
        tree=(),
        tree_omitted=0,
        log_tail="",
        files=tuple(packer.files),
        names_only=named,
        hot_paths=(),
        budget_tokens=budget_tokens,
        used_tokens=used,
        repo_map=repo_map,
        findings=findings,
        names_omitted=omitted,
    )


@dataclass(frozen=True, slots=True)
class SweepPlan:
    """Each specialist's pack (by short name), the sweep's turn, and the cursor after it."""

    packs: Mapping[str, ContextPack]
    turn: tuple[str, ...]
    cursor: Cursor
    repo_map: RepoMap

    def shown(self) -> tuple[str, ...]:
        """Every file some specialist is shown, in path order."""
        return tuple(sorted({f.path for pack in self.packs.values() for f in pack.files}))


def plan_sweep(
    analysis: Analysis,
    specialists: Sequence[Specialist],
    config: SpecialistsConfig,
    *,
    cursor: Cursor,
    job: str,
    budget_tokens: int = SWEEP_BUDGET_TOKENS,
    touched: Sequence[str] = (),
) -> SweepPlan:
    """The packs of a sweep of `job` starting from `cursor`, one per specialist: each takes the
    next files of the turn, in path order, as many as its pack holds (at least
    `files_per_specialist`), so that the files shown for their turn are one run from the cursor.
    """
    per = files_per_specialist(budget_tokens)
    offered = window(analysis.sources, cursor.after, per * len(specialists) * TURN_STRETCH)
    repo_map = build_map(
        analysis.indices,
        analysis.repo.paths,
        int(budget_tokens * MAP_SHARE),
        ranking=analysis.ranking,
    )
    packs: dict[str, ContextPack] = {}
    taken = 0
    for specialist in specialists:
        pack = specialist_pack(
            analysis,
            specialist.name,
            budget_tokens=budget_tokens,
            repo_map=repo_map,
            turn=offered[taken : taken + per * TURN_STRETCH],
            touched=touched,
            prioritize=config.tuning_of(specialist).prioritize_paths,
        )
        packs[specialist.name] = pack
        shown = {f.path for f in pack.files}
        while taken < len(offered) and offered[taken] in shown:
            taken += 1
    turn = offered[:taken]
    plan = SweepPlan(packs, turn, cursor, repo_map)
    remembered = set(plan.shown()) & set(analysis.sources)
    return SweepPlan(packs, turn, advance(cursor, job, turn, remembered), repo_map)
