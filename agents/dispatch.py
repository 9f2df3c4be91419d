"""The per-file dispatcher behind `ambient swarm`: one model call per file, in parallel.

Every file under a root that a glob matches gets its own stateless model call with the task
and the file's text; answers are proposals (diffs) for that one file, never writes to the
working tree. Calls run in parallel under the concurrency limit; a file that fails is listed
with a one-line reason and the others go on; token usage is totalled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from agents.ask import ask_for_proposals
from agents.chat_body import first_line
from agents.llm import LLM, Message
from agents.pack_render import fenced
from agents.proposal import Proposal, diff_paths
from agents.specialists.base import ANSWER_FORMAT, load_prompt
from agents.usage import Usage
from bot.errors import AmbientError, Permanent

__all__ = ["WORKER_AGENT", "DispatchError", "DispatchReport", "FileResult", "discover", "dispatch"]

WORKER_AGENT: Final = "SwarmWorker"
PROMPT: Final = load_prompt("dispatch.md", Path(__file__).parent)


class DispatchError(Permanent):
    """The glob matched no file, or more files than allowed."""


@dataclass(frozen=True, slots=True)
class FileResult:
    """One file's outcome: its proposals, notes on what was dropped, or why it failed."""

    path: str
    proposals: tuple[Proposal, ...] = ()
    notes: tuple[str, ...] = ()
    error: str = ""
    usage: Usage = field(default_factory=Usage)

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True, slots=True)
class DispatchReport:
    """Every matched file's result, in path order, and the usage of all calls."""

    task: str
    pattern: str
    results: tuple[FileResult, ...]
    usage: Usage

    @property
    def failures(self) -> tuple[FileResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    def summary(self) -> str:
        """One line: files, changes, failures and usage."""
        changed = sum(1 for r in self.results if r.proposals)
        return (
            f"{len(self.results)} files matched {self.pattern!r}: {changed} with a proposal, "
            f"{len(self.failures)} failed; {self.usage.summary()}"
        )

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready form, diffs included."""
        return {
            "task": self.task,
            "glob": self.pattern,
            "files": [
                {
                    "path": r.path,
                    "ok": r.ok,
                    "error": r.error or None,
                    "notes": list(r.notes),
                    "proposals": [p.as_dict() for p in r.proposals],
                    "tokens": r.usage.total_tokens,
                }
                for r in self.results
            ],
            "failed": [{"path": r.path, "error": r.error} for r in self.failures],
            "usage": {
                "calls": self.usage.calls,
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "cost_usd": self.usage.cost_usd,
                "estimated": self.usage.estimated,
            },
        }


def discover(root: Path, pattern: str, *, max_files: int = 200) -> tuple[str, ...]:
    """Regular files under `root` matching `pattern` (`**` recurses), outside `.git`, sorted.

    Symlinks are skipped (they may point outside the root). Raises `DispatchError` when nothing
    matches or more than `max_files` do.
    """
    found = sorted(
        path.relative_to(root).as_posix()
        for path in root.glob(pattern)
        if path.is_file() and not path.is_symlink() and ".git" not in path.relative_to(root).parts
    )
    if not found:
        raise DispatchError(f"no file under {root} matches {pattern!r}")
    if len(found) > max_files:
        raise DispatchError(
            f"{pattern!r} matches {len(found)} files under {root}, more than {max_files}; "
            "narrow the glob or raise --max-files"
        )
    return tuple(found)


def _read(root: Path, path: str, max_bytes: int) -> str:
    data = (root / path).read_bytes()
    if len(data) > max_bytes:
        raise DispatchError(f"{len(data):,} bytes, more than {max_bytes:,}; skipped")
    if b"\0" in data[:8192]:
        raise DispatchError("binary file; skipped")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DispatchError("not UTF-8 text; skipped") from None


def _own_file(path: str, proposals: Sequence[Proposal]) -> tuple[list[Proposal], list[str]]:
    kept: list[Proposal] = []
    notes: list[str] = []
    for proposal in proposals:
        others = [p for p in diff_paths(proposal.diff) if p != path]
        if others:
            notes.append(f'dropped "{proposal.title}": it changes {", ".join(others)}')
        else:
            kept.append(proposal)
    return kept, notes


async def _one(
    llm: LLM, root: Path, path: str, task: str, limiter: asyncio.Semaphore, max_bytes: int
) -> FileResult:
    try:
        text = await asyncio.to_thread(_read, root, path, max_bytes)
    except DispatchError as exc:
        return FileResult(path, error=str(exc))
    except OSError as exc:
        return FileResult(path, error=f"cannot read it: {exc.strerror or exc}")
    system = PROMPT.render(
        {
            "agent": WORKER_AGENT,
            "task": task,
            "path": path,
            "answer_format": ANSWER_FORMAT.render({"agent": WORKER_AGENT}),
        }
    )
    messages = [Message("system", system), Message("user", f"The file {path}:\n" + fenced(text))]
    try:
        answer = await ask_for_proposals(
            llm, messages, agent=WORKER_AGENT, limiter=limiter, max_reflections=1
        )
    except AmbientError as exc:
        return FileResult(path, error=first_line(str(exc)))
    kept, notes = _own_file(path, answer.proposals)
    if answer.errors and not answer.proposals:
        return FileResult(path, error=f"unusable answer: {answer.errors[0]}", usage=answer.usage)
    notes += [f"unusable item: {e}" for e in answer.errors]
    if answer.interrupted:
        notes.append(f"correction stopped: {answer.interrupted}")
    return FileResult(path, tuple(kept), tuple(notes), usage=answer.usage)


async def dispatch(
    llm: LLM,
    root: Path,
    task: str,
    pattern: str,
    *,
    concurrency: int = 3,
    max_files: int = 200,
    max_file_bytes: int = 100_000,
    progress: Callable[[int, FileResult | None], None] | None = None,
) -> DispatchReport:
    """Ask about every file under `root` matching `pattern`, `concurrency` calls at a time.

    `progress(total, None)` is called once the files are known, then `progress(total, result)`
    as each file is done. Raises `DispatchError` when the glob matches nothing or too much; a
    failing file is in the report, never raised.
    """
    paths = await asyncio.to_thread(discover, root, pattern, max_files=max_files)
    limiter = asyncio.Semaphore(concurrency)
    if progress:
        progress(len(paths), None)

    async def tracked(path: str) -> FileResult:
        result = await _one(llm, root, path, task, limiter, max_file_bytes)
        if progress:
            progress(len(paths), result)
        return result

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(tracked(path)) for path in paths]
    results = tuple(task.result() for task in tasks)
    usage = sum((r.usage for r in results), Usage())
    return DispatchReport(task, pattern, results, usage)
