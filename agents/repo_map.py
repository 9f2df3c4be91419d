"""The repository map: every Python file's top-level definitions, most referred-to files first,
within a token budget, so a model sees the shape of the whole project: the highest-ranked with
their signatures (a class with its public methods') in half the budget, the next as one line of
names each, and the rest summed up by folder.

The ranking is Aider's idea on the stdlib `ast` (`agents.code_index`) and the import graph
(`agents.impact`): a file that imports another points at it, the more the more it uses the
names that file defines (a square root of each name's uses, so one chatty file does not decide;
private names count a tenth); PageRank over those links ranks the files, and within a file the
definitions most used elsewhere are kept first when not all fit. Pure functions.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from agents.code_index import Definition, FileIndex

__all__ = ["SIGNATURES_SHARE", "Ranking", "RepoMap", "build_map", "rank_files"]

DAMPING: Final = 0.85
ITERATIONS: Final = 30
_DEFINITIONS_PER_FILE: Final = 15
_NAMES_PER_LINE: Final = 10
#: The share of the map's budget given to signatures; the rest lists names.
SIGNATURES_SHARE: Final = 0.5
_SUMMARY_DIRS: Final = 8


@dataclass(frozen=True, slots=True)
class RepoMap:
    """The map's text, its size, and how many of the indexed files it shows."""

    text: str
    tokens: int
    files: int
    indexed: int

    def as_dict(self) -> dict[str, object]:
        """The map's size, for JSON output."""
        return {"tokens": self.tokens, "files": self.files, "indexed": self.indexed}


def _defined_names(index: FileIndex) -> Iterable[str]:
    for definition in index.definitions:
        yield definition.name
        for method in definition.methods:
            name = method.split("(", 1)[0].rsplit(" ", 1)[-1]
            if not name.startswith("__"):
                yield name


def _links(
    indices: Mapping[str, FileIndex], imports: Mapping[str, Sequence[str]]
) -> tuple[dict[str, dict[str, float]], dict[tuple[str, str], float]]:
    """Weighted links importer → imported file (one, plus the square root of each use of a
    name the imported file defines; a private name counts a tenth), and how much each
    (file, name) is used from other files."""
    defined = {path: set(_defined_names(index)) for path, index in indices.items()}
    links: dict[str, dict[str, float]] = {path: {} for path in indices}
    referred: dict[tuple[str, str], float] = defaultdict(float)
    for source, index in indices.items():
        out = links[source]
        for target in imports.get(source, ()):
            names = defined.get(target)
            if names is None or target == source:
                continue
            weight = 1.0
            for name in names & index.refs.keys():
                used = math.sqrt(index.refs[name]) * (0.1 if name.startswith("_") else 1.0)
                referred[(target, name)] += used
                weight += used
            out[target] = out.get(target, 0.0) + weight
    return links, referred


@dataclass(frozen=True, slots=True)
class Ranking:
    """Each indexed file's PageRank (they sum to 1), and how much each of its names is
    referred to from other files, by (path, name)."""

    files: Mapping[str, float]
    names: Mapping[tuple[str, str], float]


def rank_files(indices: Mapping[str, FileIndex], imports: Mapping[str, Sequence[str]]) -> Ranking:
    """The files of `indices` ranked over their imports (`imports`: path → the repository
    files it imports) and the names they use of them."""
    links, referred = _links(indices, imports)
    return Ranking(_pagerank(links), referred)


def _pagerank(links: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    nodes = sorted(links)
    if not nodes:
        return {}
    size = len(nodes)
    rank = dict.fromkeys(nodes, 1.0 / size)
    totals = {node: sum(out.values()) for node, out in links.items()}
    for _ in range(ITERATIONS):
        dangling = sum(rank[n] for n in nodes if not totals[n])
        base = (1.0 - DAMPING) / size + DAMPING * dangling / size
        new = dict.fromkeys(nodes, base)
        for node, out in links.items():
            total = totals[node]
            if total:
                share = DAMPING * rank[node] / total
                for target, weight in out.items():
                    new[target] += share * weight
        if sum(abs(new[n] - rank[n]) for n in nodes) < 1e-6:
            return new
        rank = new
    return rank


def _block(index: FileIndex, referred: Mapping[tuple[str, str], float]) -> list[str]:
    """A file's lines in the map: its public definitions (the most used elsewhere, when there
    are many), in file order."""
    chosen: Sequence[Definition] = [d for d in index.definitions if not d.name.startswith("_")]
    if len(chosen) > _DEFINITIONS_PER_FILE:
        best = sorted(chosen, key=lambda d: (-referred.get((index.path, d.name), 0.0), d.line))
        chosen = sorted(best[:_DEFINITIONS_PER_FILE], key=lambda d: d.line)
    lines = [f"{index.path}:"]
    for definition in chosen:
        lines.append(f"  {definition.signature}")
        lines.extend(f"    {method}" for method in definition.methods)
    hidden = len(index.definitions) - len(chosen)
    if hidden:
        lines.append(f"  (… {hidden} more definitions)")
    return lines


def _names_line(index: FileIndex, referred: Mapping[tuple[str, str], float]) -> list[str]:
    """A file's one line in the map once the signatures have had their share: the names of its
    public definitions, the most used elsewhere first."""
    public = [d for d in index.definitions if not d.name.startswith("_")]
    best = sorted(public, key=lambda d: (-referred.get((index.path, d.name), 0.0), d.line))
    names = ", ".join(d.name for d in best[:_NAMES_PER_LINE])
    more = f", … ({len(public) - _NAMES_PER_LINE} more)" if len(public) > _NAMES_PER_LINE else ""
    return [f"{index.path}: {names}{more}"] if public else []


def _cost(lines: Iterable[str]) -> int:
    return sum(len(line) // 4 + 1 for line in lines)


def _summary(paths: Iterable[str]) -> str:
    folders = Counter(p.split("/", 1)[0] + "/" if "/" in p else "./" for p in paths)
    total = sum(folders.values())
    shown = ", ".join(f"{name} {count:,}" for name, count in folders.most_common(_SUMMARY_DIRS))
    more = ", …" if len(folders) > _SUMMARY_DIRS else ""
    return f"(… {total:,} more files not in the map: {shown}{more})"


def build_map(
    indices: Mapping[str, FileIndex],
    paths: Sequence[str],
    budget_tokens: int,
    *,
    ranking: Ranking,
) -> RepoMap:
    """The map of the files in `indices` within `budget_tokens`, highest rank first (by
    `ranking`, from `rank_files`): with their signatures until `SIGNATURES_SHARE` of the budget
    is spent, then one line of names each, so that more of the project shows; the rest of
    `paths` (every tracked file) is summed up by folder."""
    rank = ranking.files
    order = sorted(
        (p for p in indices if indices[p].definitions), key=lambda p: (-rank.get(p, 0.0), p)
    )
    lines: list[str] = []
    spent, shown = 0, set()
    reserve = 40  # room for the summary line
    for path in order:
        full = spent < budget_tokens * SIGNATURES_SHARE
        block = (_block if full else _names_line)(indices[path], ranking.names)
        cost = _cost(block)
        if not block:
            continue
        if spent + cost > budget_tokens - reserve:
            continue
        lines += block
        spent += cost
        shown.add(path)
    rest = [p for p in paths if p not in shown]
    if rest:
        lines.append(_summary(rest))
    text = "\n".join(lines)
    return RepoMap(text, _cost(lines), len(shown), len(order))
