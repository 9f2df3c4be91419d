"""Impact radius: the files a set of files imports, and the files that import them.

Python (`import a.b`, `from a import b`, relative imports, `src/` layouts) and JavaScript /
TypeScript relative imports (`import … from './x'`, `require('./x')`) are understood; other
languages contribute no neighbours. Pure functions over a path → text mapping.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Final

__all__ = ["ImportGraph", "import_neighbours"]

_PY_IMPORT: Final = re.compile(r"^[ \t]*import[ \t]+([\w. \t,]+)", re.M)
_PY_FROM: Final = re.compile(r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+\(?([\w \t,*]+)", re.M)
_JS_SPEC: Final = re.compile(
    r"""(?:\bfrom\s*|\brequire\(\s*|\bimport\(\s*|^\s*import\s+)['"](\.{1,2}/[^'"]+)['"]""", re.M
)
_JS_SUFFIXES: Final = ("", ".js", ".ts", ".tsx", ".jsx", ".mjs", ".cjs", "/index.js", "/index.ts")
_JS_EXT: Final = (".js", ".ts", ".tsx", ".jsx", ".mjs", ".cjs")


def _module_names(paths: Iterable[str]) -> dict[str, str]:
    """Dotted module name → path, both from the repository root and from the top package
    (so `src/calc/core.py` is `src.calc.core` and `calc.core`)."""
    all_paths = set(paths)
    names: dict[str, str] = {}
    for path in sorted(all_paths):
        if not path.endswith(".py"):
            continue
        parts = path[:-3].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not parts:
            continue
        names.setdefault(".".join(parts), path)
        top = 0
        while top < len(parts) - 1 and f"{'/'.join(parts[: top + 1])}/__init__.py" not in all_paths:
            top += 1
        names.setdefault(".".join(parts[top:]), path)
    return names


def _python_targets(path: str, text: str) -> list[str]:
    targets: list[str] = []
    for found in _PY_IMPORT.finditer(text):
        for name in found[1].split(","):
            words = name.split()
            if words:
                targets.append(words[0])
    package = path.rsplit("/", 1)[0].replace("/", ".") if "/" in path else ""
    for found in _PY_FROM.finditer(text):
        base = found[1]
        if base.startswith("."):
            dots = len(base) - len(base.lstrip("."))
            up = package.split(".") if package else []
            up = up[: len(up) - (dots - 1)] if dots > 1 else up
            base = ".".join([*up, base.lstrip(".")]).strip(".")
        targets.append(base)
        for name in found[2].replace("(", "").split(","):
            words = name.split()
            if words and words[0] != "*":
                targets.append(f"{base}.{words[0]}" if base else words[0])
    return targets


def _js_targets(path: str, text: str, paths: frozenset[str]) -> list[str]:
    folder = posixpath.dirname(path)
    found: list[str] = []
    for spec in _JS_SPEC.findall(text):
        base = posixpath.normpath(posixpath.join(folder, spec))
        for suffix in _JS_SUFFIXES:
            if base + suffix in paths:
                found.append(base + suffix)
                break
    return found


class ImportGraph:
    """The imports between a repository's files (`texts` maps path → text)."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self.texts = texts
        self.paths = frozenset(texts)
        self.modules = _module_names(self.paths)

    def imports_of(self, path: str) -> list[str]:
        """The repository files `path` imports, in order of first import."""
        text = self.texts.get(path, "")
        if path.endswith(".py"):
            found = [self.modules.get(name) for name in _python_targets(path, text)]
        elif path.endswith(_JS_EXT):
            found = list(_js_targets(path, text, self.paths))
        else:
            return []
        return [p for p in dict.fromkeys(found) if p and p != path]


def import_neighbours(
    seeds: Iterable[str], texts: Mapping[str, str], *, limit: int = 40
) -> tuple[str, ...]:
    """Files the seeds import, then files importing a seed (tests among them), seeds excluded.

    `texts` maps every readable repository file to its text.
    """
    seed_list = list(dict.fromkeys(seeds))
    seed_set = set(seed_list)
    graph = ImportGraph(texts)
    importers: dict[str, list[str]] = {}
    for path in texts:
        for target in graph.imports_of(path):
            if target in seed_set:
                importers.setdefault(target, []).append(path)
    found: dict[str, None] = {}
    for seed in seed_list:
        for path in (*graph.imports_of(seed), *sorted(importers.get(seed, []))):
            if path not in seed_set:
                found.setdefault(path, None)
    return tuple(found)[:limit]
