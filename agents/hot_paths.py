"""Hot paths: the repository files a failure log points at, most-mentioned first.

Understands Python tracebacks (pytest's long and short forms, unittest), pytest's FAILED/ERROR
summary, `path:line[:col]:` diagnostics (mypy, ruff, gcc, eslint, tsc), GitHub Actions logs
(timestamps, `##[error]` lines, `::error file=…,line=…::` annotations) and Node stack traces.
Paths are mapped onto the repository's own file list, so an absolute path from the machine
that ran the job (`/home/runner/_work/app/app/src/x.py`) becomes `src/x.py`; files outside the
repository (the standard library, site-packages, node internals) are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

__all__ = ["HotPath", "Mention", "RepoIndex", "clean_log", "find_mentions", "hot_paths"]

# CI logs can be many megabytes; the failure is almost always near the end.
MAX_LOG_CHARS: Final = 4_000_000
MAX_LINES_PER_PATH: Final = 20

_ANSI: Final = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_TIMESTAMP: Final = re.compile(r"^\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?", re.M)
_ACTIONS_MARK: Final = re.compile(r"^##\[\w+\]", re.M)
_TRACEBACK: Final = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)')
_PYTEST_SUMMARY: Final = re.compile(r"^(?:FAILED|ERROR) (?P<path>[^\s:]+)::")
_UNITTEST: Final = re.compile(r"^(?:FAIL|ERROR): \w+ \((?P<module>[\w.]+)\)")
_ANNOTATION: Final = re.compile(r"::(?:error|warning|notice)\s+(?P<props>[^:]*?)::")
_PROPERTY: Final = re.compile(r"(\w+)=([^,]*)")
# `path:line` with a file extension, starting a line or after a space, bracket, quote or `=`.
_LOCATION: Final = re.compile(
    r"""(?:^|(?<=[\s(\['"=>]))(?:file://)?(?P<path>(?:[A-Za-z]:)?[\w./\\~@+-]*\w\.[A-Za-z][\w]{0,7})"""
    r"""(?::(?P<line>\d+)(?::\d+)?|\((?P<paren_line>\d+),\d+\))"""
)
_FOREIGN: Final = re.compile(
    r"(^|/)(site-packages|dist-packages|node_modules|\.pyenv|\.venv|venv|hostedtoolcache)/"
    r"|^/usr/(local/)?lib/|^<|^node:|^internal/"
)


@dataclass(frozen=True, slots=True)
class Mention:
    """A path as a log names it, with the line when known."""

    path: str
    line: int | None
    kind: str  # traceback, pytest, unittest, diagnostic, annotation


@dataclass(frozen=True, slots=True)
class HotPath:
    """A repository file a log points at."""

    path: str
    lines: tuple[int, ...]
    mentions: int
    kinds: tuple[str, ...]


def clean_log(text: str) -> str:
    """The log without colour codes, Actions timestamps and `##[…]` markers, with \\n lines."""
    text = text[-MAX_LOG_CHARS:].replace("\r\n", "\n").replace("\r", "\n")
    text = _ANSI.sub("", text)
    text = _TIMESTAMP.sub("", text)
    return _ACTIONS_MARK.sub("", text)


def _line_mentions(line: str) -> Iterator[Mention]:
    if found := _TRACEBACK.match(line):
        yield Mention(found["path"], int(found["line"]), "traceback")
        return
    if found := _PYTEST_SUMMARY.match(line):
        yield Mention(found["path"], None, "pytest")
        return
    if found := _UNITTEST.match(line):
        yield Mention(found["module"], None, "unittest")
        return
    for found in _ANNOTATION.finditer(line):
        props = dict(_PROPERTY.findall(found["props"]))
        if props.get("file"):
            number = props.get("line", "")
            yield Mention(props["file"], int(number) if number.isdigit() else None, "annotation")
    for found in _LOCATION.finditer(line):
        number = found["line"] or found["paren_line"]
        yield Mention(found["path"], int(number), "diagnostic")


def find_mentions(log: str) -> list[Mention]:
    """Every path mention in `log`, in order (the log is cleaned first)."""
    mentions: list[Mention] = []
    for line in clean_log(log).split("\n"):
        mentions.extend(_line_mentions(line))
    return mentions


def _normal(path: str) -> str:
    path = path.replace("\\", "/").removeprefix("file://")
    while path.startswith("./"):
        path = path[2:]
    return path


class RepoIndex:
    """Maps paths from a log onto a repository's files."""

    def __init__(self, repo_paths: Iterable[str]) -> None:
        self.paths = frozenset(repo_paths)
        # Every trailing part of every path, for logs that show a path relative to a
        # subdirectory (`calc/core.py` for `src/calc/core.py`); ambiguous tails map to nothing.
        tails: dict[str, str | None] = {}
        for path in self.paths:
            parts = path.split("/")
            for start in range(1, len(parts)):
                tail = "/".join(parts[start:])
                tails[tail] = path if tails.get(tail, path) == path else None
        self._tails = tails

    def resolve(self, mention: Mention) -> str | None:
        """The repository path `mention` names, or None when it is not a repository file."""
        if mention.kind == "unittest":
            return self._module(mention.path)
        path = _normal(mention.path)
        if path in self.paths:
            return path
        if path.startswith("/") or re.match(r"^[A-Za-z]:/", path):
            if _FOREIGN.search(path):
                return None
            parts = path.split("/")
            # The longest tail of an absolute path that is a repository file.
            for start in range(1, len(parts)):
                tail = "/".join(parts[start:])
                if tail in self.paths:
                    return tail
            return None
        if _FOREIGN.search(path):
            return None
        return self._tails.get(path)

    def _module(self, dotted: str) -> str | None:
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            stem = "/".join(parts[:end])
            for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
                found = candidate if candidate in self.paths else self._tails.get(candidate)
                if found:
                    return found
        return None


def hot_paths(log: str, repo_paths: Iterable[str] | RepoIndex) -> tuple[HotPath, ...]:
    """The repository files `log` mentions, most-mentioned first, then in order of appearance."""
    index = repo_paths if isinstance(repo_paths, RepoIndex) else RepoIndex(repo_paths)
    found: dict[str, tuple[list[int], list[str], list[int]]] = {}
    for mention in find_mentions(log):
        path = index.resolve(mention)
        if path is None:
            continue
        lines, kinds, count = found.setdefault(path, ([], [], [0]))
        count[0] += 1
        if mention.line is not None and mention.line not in lines:
            lines.append(mention.line)
        if mention.kind not in kinds:
            kinds.append(mention.kind)
    ranked = sorted(found.items(), key=lambda item: -item[1][2][0])
    return tuple(
        HotPath(path, tuple(sorted(lines)[:MAX_LINES_PER_PATH]), count[0], tuple(kinds))
        for path, (lines, kinds, count) in ranked
    )
