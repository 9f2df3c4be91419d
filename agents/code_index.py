"""What the stdlib `ast` says of each Python file: its top-level definitions with their
signatures, the line spans of its functions, the names it refers to, and two findings of shape
(`long-function`, `nested-loop`). Pure functions over texts; a file that does not parse has
no index.
"""

from __future__ import annotations

import ast
import bisect
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from agents.findings import Finding

__all__ = ["Definition", "FileIndex", "enclosing_span", "index_file", "index_repo"]

MAX_FUNCTION_LINES: Final = 100
_SIGNATURE_CHARS: Final = 120
_METHODS_SHOWN: Final = 8
_LOOP_KINDS: Final = frozenset({ast.For, ast.AsyncFor, ast.While, ast.comprehension})
_FUNCTIONS: Final = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True, slots=True)
class Definition:
    """A top-level function or class: its name, signature, lines, and a class's methods."""

    name: str
    signature: str
    line: int
    end_line: int
    methods: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FileIndex:
    """One Python file as the index sees it."""

    path: str
    definitions: tuple[Definition, ...]
    #: Every function's (first line, last line), at any depth, sorted.
    spans: tuple[tuple[int, int], ...]
    #: The identifiers the file refers to (names, attributes, imported names), counted.
    refs: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    findings: tuple[Finding, ...] = ()
    lines: int = 0


def _short(text: str) -> str:
    return text if len(text) <= _SIGNATURE_CHARS else text[: _SIGNATURE_CHARS - 1] + "…"


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(ast.unparse(base) for base in node.bases)
        return _short(f"class {node.name}({bases})" if bases else f"class {node.name}")
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return _short(f"{prefix} {node.name}({ast.unparse(node.args)}){returns}")


def _definition(node: ast.stmt) -> Definition | None:
    if not isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
        return None
    methods: tuple[str, ...] = ()
    if isinstance(node, ast.ClassDef):
        public = [
            _signature(item)
            for item in node.body
            if isinstance(item, _FUNCTIONS)
            and (not item.name.startswith("_") or item.name == "__init__")
        ]
        methods = tuple(public[:_METHODS_SHOWN])
    end = node.end_lineno or node.lineno
    return Definition(node.name, _signature(node), node.lineno, end, methods)


@dataclass
class _Scan:
    """What one pass over a module's tree collects (mutable while it walks)."""

    path: str
    max_lines: int
    refs: Counter[str] = field(default_factory=Counter)
    spans: list[tuple[int, int]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    nested: set[int] = field(default_factory=set)

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        end = node.end_lineno or node.lineno
        self.spans.append((node.lineno, end))
        length = end - node.lineno + 1
        if length > self.max_lines:
            message = f"`{node.name}` is {length} lines long (more than {self.max_lines})"
            self.findings.append(Finding("long-function", self.path, node.lineno, message))

    def loop(self, node: ast.AST, function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # One finding per function: its first loop inside a loop.
        if id(function) in self.nested:
            return
        self.nested.add(id(function))
        line = getattr(node, "lineno", function.lineno)
        message = f"a loop inside a loop in `{function.name}`"
        self.findings.append(Finding("nested-loop", self.path, line, message))


_Frame = tuple[ast.AST, "ast.FunctionDef | ast.AsyncFunctionDef | None", int]


def _walk(tree: ast.Module, scan: _Scan) -> None:
    """One pass over `tree`: names referred to, function spans, long functions, and loops
    nested in loops of the same function."""
    stack: list[_Frame] = [(tree, None, 0)]
    while stack:
        node, function, depth = stack.pop()
        kind = type(node)
        if kind is ast.Name:
            scan.refs[node.id] += 1  # type: ignore[attr-defined]
            continue
        if kind is ast.Constant:
            continue
        if kind is ast.Attribute:
            scan.refs[node.attr] += 1  # type: ignore[attr-defined]
        elif kind is ast.alias:
            scan.refs[node.name.rsplit(".", 1)[-1]] += 1  # type: ignore[attr-defined]
        elif isinstance(node, _FUNCTIONS):
            scan.function(node)
            function, depth = node, 0
        elif kind is ast.ClassDef or kind is ast.Lambda:
            function, depth = None, 0
        elif kind in _LOOP_KINDS:
            if depth >= 1 and function is not None:
                scan.loop(node, function)
            depth += 1
        stack.extend((child, function, depth) for child in ast.iter_child_nodes(node))


def index_file(
    path: str, text: str, *, max_function_lines: int = MAX_FUNCTION_LINES
) -> FileIndex | None:
    """The index of one Python file, or None when it is not Python or does not parse."""
    if not path.endswith((".py", ".pyi")):
        return None
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    definitions = tuple(d for d in map(_definition, tree.body) if d is not None)
    scan = _Scan(path, max_function_lines)
    _walk(tree, scan)
    return FileIndex(
        path,
        definitions,
        tuple(sorted(scan.spans)),
        MappingProxyType(dict(scan.refs)),
        tuple(sorted(scan.findings, key=lambda f: (f.line, f.code))),
        text.count("\n") + 1,
    )


def index_repo(
    texts: Mapping[str, str], *, max_function_lines: int = MAX_FUNCTION_LINES
) -> dict[str, FileIndex]:
    """The index of every Python file among `texts` that parses, by path."""
    indexed: dict[str, FileIndex] = {}
    for path, text in texts.items():
        found = index_file(path, text, max_function_lines=max_function_lines)
        if found is not None:
            indexed[path] = found
    return indexed


def enclosing_span(index: FileIndex, line: int) -> tuple[int, int] | None:
    """The innermost function holding `line` (its first and last line), or None."""
    best: tuple[int, int] | None = None
    stop = bisect.bisect_right(index.spans, (line, 1 << 30))
    for start, end in index.spans[:stop]:
        if start <= line <= end and (best is None or start >= best[0]):
            best = (start, end)
    return best
