"""The analysis a sweep's packs are chosen from: what model-free analyzers say of a checkout.

One `Analysis` serves every specialist: ruff's findings (`agents.analyzers`), the `ast` index
of the code and its findings of shape (`agents.code_index`), the modules no test imports and
the import graph (`agents.signals`), the map's ranking (`agents.repo_map`), the source files
sweeps take turns over (`agents.rotation`), and the important files. `analyse` is pure;
`analyse_checkout` runs ruff and then `analyse`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agents.analyzers import RuffRun, ruff_findings
from agents.code_index import FileIndex, index_repo
from agents.context import important_files
from agents.findings import COMPLEXITY_FLOOR, Finding
from agents.measured import Measured
from agents.pack import RepoFiles
from agents.repo_map import Ranking, rank_files
from agents.rotation import source_files
from agents.signals import python_imports, untested_modules
from agents.specialists.base import SpecialistsConfig, as_tuning
from agents.specialists.refactor import REFACTOR, RefactorTuning
from agents.specialists.tests import is_test_path

__all__ = ["Analysis", "Skip", "analyse", "analyse_checkout"]

#: Whether a path is left out of every pack (the path gate refuses it).
Skip = Callable[[str], bool]
_DEFAULT_LINES: Final = RefactorTuning().max_function_lines


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the analyzers found in one checkout, shared by all the specialists' packs."""

    repo: RepoFiles
    indices: Mapping[str, FileIndex]
    findings: tuple[Finding, ...]
    ranking: Ranking
    sources: tuple[str, ...]
    skip: Skip
    notes: tuple[str, ...] = ()
    #: The important files (README first: what the project is), then build and lint config.
    important: tuple[str, ...] = ()


def _never(path: str) -> bool:
    return False


def analyse(
    repo: RepoFiles,
    ruff: RuffRun,
    *,
    skip: Skip = _never,
    max_function_lines: int = _DEFAULT_LINES,
    measured: Measured | None = None,
) -> Analysis:
    """The analysis of `repo` given ruff's findings: the index, its findings, and the ranking.

    Test files are left out of the `ast` index (and so of the map): they are often half of a
    project's code, parsing is what an analysis costs most, and the map is of what they test.
    With `measured` coverage (the suite ran), its findings replace the guess from the import
    graph of which modules no test reaches.
    """
    code = {path: text for path, text in repo.texts.items() if not is_test_path(path)}
    indices = index_repo(code, max_function_lines=max_function_lines)
    imports = python_imports(repo.texts)
    own = [f for index in indices.values() for f in index.findings]
    tested = measured.findings if measured else untested_modules(indices, imports)
    findings = (*ruff.findings, *own, *tested)
    sources = source_files(repo.texts, skip=skip)
    notes = (ruff.note,) if ruff.note else ()
    ranking = rank_files(indices, imports)
    important = sorted(important_files(repo.paths), key=lambda p: not p.startswith("README"))
    return Analysis(repo, indices, findings, ranking, sources, skip, notes, tuple(important))


def _refactor_tuning(config: SpecialistsConfig) -> RefactorTuning:
    return as_tuning(config.tuning_of(REFACTOR), RefactorTuning)


async def analyse_checkout(
    root: Path,
    repo: RepoFiles,
    config: SpecialistsConfig,
    *,
    skip: Skip = _never,
    measured: Measured | None = None,
) -> Analysis:
    """Run ruff over the checkout at `root` (the snapshot `repo`), then `analyse`; the refactor
    specialist's tuning sets how long and how complex a function may be before it is found."""
    tuning = _refactor_tuning(config)
    paths = [p for p in repo.texts if not skip(p)]
    floor = min(COMPLEXITY_FLOOR, tuning.complexity_threshold)
    ruff = await ruff_findings(root, paths, complexity_floor=floor)
    return analyse(
        repo, ruff, skip=skip, max_function_lines=tuning.max_function_lines, measured=measured
    )
