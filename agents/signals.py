"""Which files each specialist reads first: its findings, weighed by file, highest first.

Findings come from ruff (`agents.analyzers`), from the `ast` index (`agents.code_index`) and,
for the tests specialist, from the import graph: a module that no test imports is a finding of
its own. A repository steers the order with `agents.<name>.prioritize_paths` (those files come
first, with or without findings) and leaves files out with `paths.ignore`. Pure functions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from agents.code_index import FileIndex
from agents.findings import Finding, for_specialist, weight_of
from agents.impact import ImportGraph
from agents.specialists.tests import is_test_path
from bot.patch import glob_matches

__all__ = ["Chosen", "python_imports", "rank_for", "untested_modules"]

#: Findings in test files count this much for the specialists other than tests.
TEST_FILE_FACTOR: Final = 0.25
_NOT_MODULES: Final = ("__init__.py", "__main__.py", "conftest.py", "setup.py", "noxfile.py")
_PRIORITIZED: Final = "named in agents.{name}.prioritize_paths"


@dataclass(frozen=True, slots=True)
class Chosen:
    """A file chosen for one specialist: its score and the findings that brought it in."""

    path: str
    score: float
    findings: tuple[Finding, ...]
    note: str = ""

    @property
    def reason(self) -> str:
        """Why the file is shown: its weightiest finding (and how many more), or the note."""
        if not self.findings:
            return self.note
        more = len(self.findings) - 1
        return self.findings[0].reason + (f" (+{more} more)" if more else "")

    @property
    def lines(self) -> tuple[int, ...]:
        """The lines of its findings, sorted."""
        return tuple(sorted({f.line for f in self.findings}))


def python_imports(texts: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The repository files each Python file among `texts` imports."""
    graph = ImportGraph(texts)
    return {p: tuple(graph.imports_of(p)) for p in texts if p.endswith((".py", ".pyi"))}


def untested_modules(
    indices: Mapping[str, FileIndex], imports: Mapping[str, Sequence[str]]
) -> tuple[Finding, ...]:
    """One `untested` finding per Python module with definitions that no test file imports
    (`imports`: path → the repository files it imports)."""
    tested: set[str] = set()
    for path, imported in imports.items():
        if is_test_path(path):
            tested.update(imported)
    found: list[Finding] = []
    for path in sorted(indices):
        index = indices[path]
        name = path.rsplit("/", 1)[-1]
        if is_test_path(path) or path in tested or name in _NOT_MODULES or not index.definitions:
            continue
        count = len(index.definitions)
        message = f"no test imports this module ({count} definitions)"
        found.append(
            Finding("untested", path, index.definitions[0].line, message, "no test imports it")
        )
    return tuple(found)


def _score(weighted: Sequence[tuple[float, Finding]]) -> float:
    """A file's score: each rule's heaviest weight, times one plus the log of how often it
    fires there, summed; so a hundred findings of one rule do not outweigh a few severe ones."""
    by_code: dict[str, tuple[float, int]] = {}
    for weight, finding in weighted:
        best, count = by_code.get(finding.code, (0.0, 0))
        by_code[finding.code] = (max(best, weight), count + 1)
    return sum(weight * (1 + math.log(count)) for weight, count in by_code.values())


def _prioritized(path: str, globs: Sequence[str]) -> bool:
    return any(glob_matches(glob, path) for glob in globs)


def rank_for(
    specialist: str,
    findings: Iterable[Finding],
    *,
    prioritize: Sequence[str] = (),
    candidates: Iterable[str] = (),
    skip: Callable[[str], bool] = lambda path: False,
) -> tuple[Chosen, ...]:
    """The files `specialist` reads first: the prioritized ones (any of `candidates`, every
    readable file, matching `prioritize`), then the rest by the summed weight of their findings,
    each with its findings weightiest first; files `skip` refuses are left out."""
    by_file: dict[str, list[tuple[float, Finding]]] = defaultdict(list)
    for finding in for_specialist(findings, specialist):
        if skip(finding.path):
            continue
        weight = weight_of(finding, specialist)
        if specialist != "tests" and is_test_path(finding.path):
            weight *= TEST_FILE_FACTOR
        by_file[finding.path].append((weight, finding))
    chosen: list[Chosen] = []
    for path, weighted in by_file.items():
        weighted.sort(key=lambda item: (-item[0], item[1].line, item[1].code))
        chosen.append(Chosen(path, _score(weighted), tuple(f for _, f in weighted)))
    if prioritize:
        note = _PRIORITIZED.format(name=specialist)
        chosen += [
            Chosen(path, 0.0, (), note)
            for path in sorted(candidates)
            if path not in by_file and not skip(path) and _prioritized(path, prioritize)
        ]
    return tuple(
        sorted(chosen, key=lambda c: (not _prioritized(c.path, prioritize), -c.score, c.path))
    )
