"""The layering of the code, read from its imports, so that it cannot silently decay.

Each package sits in one layer; a module may import from its own layer's packages or from
layers below, never from a layer above. Packages of one layer may import each other, but the
graph of those imports has no cycle, and no two modules import each other (directly or around
a longer circle), `if TYPE_CHECKING:` imports included.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
SOURCES: Final = ("bot", "handlers", "agents", "sandbox")

#: Highest first. `bot.jobs.worker` composes `handlers` into arq's WorkerSettings, as the
#: receiver composes their routes; the rest of `bot/jobs` is the queue's admin, which needs
#: nothing of `handlers` but sits with the worker as the consumer side of the queue.
LAYERS: Final[tuple[tuple[str, ...], ...]] = (
    ("bot.__main__",),
    ("bot.cli",),
    ("bot.ingress", "bot.jobs"),
    ("handlers",),
    ("bot.events", "bot.flows"),
    ("bot.deps",),
    ("bot.publish",),
    ("bot.pipeline",),
    ("bot.repo_config",),
    ("agents", "bot.patch", "bot.secrets", "sandbox"),
    ("bot.github",),
    ("bot.git",),
    ("bot.config", "bot.telemetry"),
    ("bot.errors", "bot.redact", "bot"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> Iterator[tuple[str, Path]]:
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            yield module_name(path), path


def imports_of(path: Path) -> set[str]:
    """Every first-party module `path` imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] in SOURCES}


def package_of(module: str) -> str:
    """The longest entry of `LAYERS` that `module` is, or is inside."""
    names = [name for layer in LAYERS for name in layer]
    # `bot` itself holds only the package marker: a new module at `bot/` must name its layer.
    matches = [n for n in names if module == n or (n != "bot" and module.startswith(n + "."))]
    assert matches, f"{module} is in no layer of tests/test_layers.py: add its package there"
    return max(matches, key=len)


def rank_of(package: str) -> int:
    return next(len(LAYERS) - i for i, layer in enumerate(LAYERS) if package in layer)


def _graph() -> dict[str, set[str]]:
    known = dict(modules())
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        for imported in imports_of(path):
            # `from bot.events import job` names a module or a name; both depend on the package.
            while imported not in known and "." in imported:
                imported = imported.rsplit(".", 1)[0]
            if imported in known and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph`, as the path around it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_every_module_belongs_to_a_layer() -> None:
    for name, _ in modules():
        package_of(name)


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = []
    for name, targets in _graph().items():
        mine = package_of(name)
        for target in sorted(targets):
            theirs = package_of(target)
            if mine != theirs and rank_of(theirs) > rank_of(mine):
                upward.append(f"{name} ({mine}) imports {target} ({theirs}), a layer above")
    assert upward == []


def test_packages_of_one_layer_import_each_other_without_a_cycle() -> None:
    packages: dict[str, set[str]] = defaultdict(set)
    for name, targets in _graph().items():
        for target in targets:
            if package_of(target) != package_of(name):
                packages[package_of(name)].add(package_of(target))
    assert _cycle(dict(packages)) is None


def test_no_two_modules_import_each_other() -> None:
    assert _cycle(_graph()) is None


def test_the_checker_sees_an_upward_import_and_a_cycle() -> None:
    """The checks above would pass on an empty graph; this one shows they can fail."""
    assert rank_of(package_of("bot.ingress.web")) > rank_of(package_of("bot.github.client"))
    assert package_of("bot.jobs.worker") == "bot.jobs"
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
