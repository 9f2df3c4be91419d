"""The planner: an issue's title, body and comments → a `Plan` (which files, what change, which
test proves it), or the one question to ask when the task is too vague to act on.

The issue text is fenced as data (DESIGN invariant 9); the answer is parsed strictly, and an
unreadable one goes back to the model with the precise problem, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from agents.ask import Reader, converse
from agents.llm import LLM, Completion, Message
from agents.model_json import JsonNotFound, find_json
from agents.pack_render import fenced
from agents.prompts import load_prompt
from agents.usage import Usage
from bot.errors import Permanent

__all__ = ["IssueText", "Plan", "PlanUnreadable", "make_plan", "plan_of", "plan_text"]

HERE: Final = Path(__file__).parent
PLANNER_PROMPT: Final = load_prompt("planner.md", HERE)
PLANNER_TASK: Final = load_prompt("planner_task.md", HERE)
PLAN_REASKS: Final = 2
MAX_FILES_LISTED: Final = 300


class PlanUnreadable(Permanent):
    """The planner's answers held no readable plan."""


class _Problem(ValueError):
    """What is wrong with one planner answer, phrased for the model."""


@dataclass(frozen=True, slots=True)
class IssueText:
    """What people wrote on an issue, already cleaned of what a reader cannot see."""

    number: int
    title: str
    body: str
    comments: tuple[tuple[str, str], ...] = ()

    def render(self) -> str:
        """The issue for a prompt: every part fenced, so none of it reads as instructions."""
        parts = [f"Issue #{self.number}, title:", fenced(self.title, "text"), "Body:"]
        parts.append(fenced(self.body or "(empty)", "text"))
        for author, text in self.comments:
            parts += [f"Comment by @{author}:", fenced(text, "text")]
        return "\n\n".join(parts)


@dataclass(frozen=True, slots=True)
class Plan:
    """What the task will change, or (`actionable` False) the question to ask instead."""

    actionable: bool
    question: str = ""
    summary: str = ""
    files: tuple[str, ...] = ()
    change: str = ""
    test: str = ""
    bug: bool = False
    usage: Usage = field(default_factory=Usage)


def _text(fields: dict[str, object], key: str) -> str:
    value = fields.get(key, "")
    if not isinstance(value, str):
        raise _Problem(f'"{key}" must be a string')
    return value.strip()


def plan_of(text: str) -> Plan:
    """The plan in a planner's answer; `ValueError` says precisely what is wrong with it."""
    try:
        found = find_json(text, lambda v: isinstance(v, dict) and "actionable" in v)
    except JsonNotFound as exc:
        raise _Problem(str(exc) if exc.broken else 'no JSON object with "actionable"') from None
    fields = found if isinstance(found, dict) else {}
    actionable, bug = fields.get("actionable"), fields.get("bug", False)
    if not isinstance(actionable, bool) or not isinstance(bug, bool):
        raise _Problem('"actionable" and "bug" must be true or false')
    files = fields.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise _Problem('"files" must be a list of paths')
    question, summary = _text(fields, "question"), _text(fields, "summary")
    if not actionable and not question:
        raise _Problem('a plan that is not actionable needs the "question" to ask')
    if actionable and not summary:
        raise _Problem('an actionable plan needs a "summary"')
    return Plan(
        actionable,
        question,
        summary,
        tuple(files),
        _text(fields, "change"),
        _text(fields, "test"),
        bug,
    )


class _PlanReader(Reader):
    def __init__(self) -> None:
        super().__init__()
        self.plan: Plan | None = None
        self.problem = ""

    def read(self, completion: Completion) -> str:
        """See `Reader.read`."""
        try:
            self.plan = plan_of(completion.text)
        except ValueError as exc:
            self.problem = str(exc)
            return f"Your answer could not be read: {exc}. Answer with the one JSON object asked."
        return ""


async def make_plan(model: LLM, issue: IssueText, files: Sequence[str]) -> Plan:
    """Ask the planner for the plan of `issue` in a repository holding `files`."""
    listed = "\n".join(f"- {f}" for f in list(files)[:MAX_FILES_LISTED]) or "- (none)"
    messages = [
        Message("system", PLANNER_PROMPT.render({})),
        Message("user", PLANNER_TASK.render({"issue": issue.render(), "files": listed})),
    ]
    reader = _PlanReader()
    problem = await converse(
        model, messages, reader, agent="planner", max_reflections=PLAN_REASKS, json_mode=True
    )
    if problem or reader.plan is None:
        raise PlanUnreadable(f"the planner's answer could not be read: {reader.problem}")
    plan = reader.plan
    return Plan(
        plan.actionable,
        plan.question,
        plan.summary,
        plan.files,
        plan.change,
        plan.test,
        plan.bug,
        reader.usage,
    )


def plan_text(plan: Plan) -> str:
    """The plan as the pull request shows it."""
    files = ", ".join(f"`{f}`" for f in plan.files) or "(decided while fixing)"
    lines = [f"- **Change:** {plan.summary}", f"- **Files:** {files}"]
    if plan.change:
        lines.append(f"- **How:** {plan.change}")
    if plan.test:
        lines.append(f"- **Proof:** {plan.test}")
    return "\n".join(lines)
