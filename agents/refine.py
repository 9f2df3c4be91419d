"""The refine round's prompt and the strict parser of its answer: pure.

Each specialist sees every proposal (its own in full, the others' diffs cut to a shared
budget) and answers one decision per proposal of its own: keep, revise (with the whole
revised proposal) or drop (with a reason). `DecisionParser` consumes answers one by one,
keeps what was valid, and phrases what was not for the model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, cast

from agents.ask import Reader
from agents.llm import Completion
from agents.model_json import JsonNotFound, find_json
from agents.pack_render import fenced
from agents.proposal import Proposal, parse_proposals
from agents.specialists.base import load_prompt

__all__ = ["ACTIONS", "Decision", "DecisionParser", "render_refine", "undecided_note"]

Action = Literal["keep", "revise", "drop"]
ACTIONS: Final[tuple[str, ...]] = ("keep", "revise", "drop")
REFINE_PROMPT: Final = load_prompt("refine.md")
_DESCRIPTION_CHARS: Final = 400


@dataclass(frozen=True, slots=True)
class Decision:
    """What a specialist decided about one of its proposals (`proposal` is set on revise)."""

    id: str
    action: Action
    reason: str = ""
    proposal: Proposal | None = None


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + f"\n… [{len(text) - limit} more characters not shown]\n"


def _entry(key: str, proposal: Proposal, mine: bool, diff_chars: int) -> str:
    owner = " (yours)" if mine else ""
    tags = f"; tags: {', '.join(proposal.tags)}" if proposal.tags else ""
    head = [
        f'### {key}: "{proposal.title}" by {proposal.agent}{owner}',
        f"risk: {proposal.risk_level}; files: {', '.join(proposal.files_touched)}{tags}",
    ]
    if proposal.description.strip():
        head.append(_cut(proposal.description.strip(), _DESCRIPTION_CHARS))
    return "\n".join([*head, fenced(_cut(proposal.diff, diff_chars), "diff")])


def render_refine(
    proposals: Mapping[str, Proposal],
    agent: str,
    *,
    diff_budget_chars: int = 24_000,
    own_diff_chars: int = 12_000,
) -> str:
    """The refine question for `agent`, listing `proposals` by id.

    The others' diffs share `diff_budget_chars` (each at least 400 characters); each of the
    agent's own diffs is shown up to `own_diff_chars`.
    """
    own = [key for key, p in proposals.items() if p.agent == agent]
    others = len(proposals) - len(own)
    share = max(400, diff_budget_chars // max(1, others))
    listing = "\n\n".join(
        _entry(key, p, p.agent == agent, own_diff_chars if p.agent == agent else share)
        for key, p in proposals.items()
    )
    return REFINE_PROMPT.render(
        {"count": str(len(proposals)), "proposals": listing, "own_ids": ", ".join(own)}
    )


def _is_answer(value: object) -> bool:
    if isinstance(value, dict):
        return isinstance(value.get("decisions"), list)
    return isinstance(value, list) and any(
        isinstance(item, dict) and "action" in item for item in value
    )


class DecisionParser(Reader):
    """Consumes refine answers (a `converse` reader): keeps valid decisions, reports the rest."""

    def __init__(self, own: Mapping[str, Proposal], agent: str) -> None:
        super().__init__()
        self.own = own
        self.agent = agent
        self.decisions: dict[str, Decision] = {}
        self.errors: tuple[str, ...] = ()

    @property
    def undecided(self) -> tuple[str, ...]:
        """Own proposals without a valid decision yet."""
        return tuple(key for key in self.own if key not in self.decisions)

    def read(self, completion: Completion) -> str:
        """See `Reader.read`."""
        erred: set[str] = set()
        errors = self._take(completion.text, erred)
        if completion.truncated:
            errors.insert(0, "your answer was cut off at the output limit; answer more briefly")
        missing = [key for key in self.undecided if key not in erred]
        if missing:
            errors.append(f"no decision for {', '.join(missing)}")
        self.errors = tuple(errors)
        if not errors:
            return ""
        lines = ["Your answer had problems:", *(f"- {e}" for e in errors)]
        if self.decisions:
            lines.append(f"Decisions for {', '.join(self.decisions)} were accepted; resend none.")
        lines.append('Answer with {"decisions": [...]} for the remaining proposals only.')
        return "\n".join(lines)

    def _take(self, text: str, erred: set[str]) -> list[str]:
        try:
            found = find_json(text, _is_answer)
        except JsonNotFound as exc:
            return [f'{exc}; answer with one object {{"decisions": [...]}}']
        items = found.get("decisions") if isinstance(found, dict) else found
        errors: list[str] = []
        for number, item in enumerate(cast(list[object], items), 1):
            try:
                decision = self._decision(item)
            except _Invalid as exc:
                errors.append(f"decision {number}: {exc}")
                if exc.key:
                    erred.add(exc.key)
                continue
            if decision.id in self.decisions:
                errors.append(f"{decision.id}: decided twice; the first decision stands")
                continue
            self.decisions[decision.id] = decision
        return errors

    def _decision(self, item: object) -> Decision:
        if not isinstance(item, dict):
            raise _Invalid("expected an object with id and action")
        key, action, reason = item.get("id"), item.get("action"), item.get("reason", "")
        if not isinstance(key, str) or key not in self.own:
            raise _Invalid(f"id {key!r} is not one of your proposals ({', '.join(self.own)})")
        if action not in ACTIONS:
            raise _Invalid(f"{key}: action {action!r} is not keep, revise or drop", key)
        if not isinstance(reason, str):
            raise _Invalid(f"{key}: reason must be a string", key)
        if action != "revise":
            return Decision(key, cast(Action, action), reason.strip())
        return Decision(key, "revise", reason.strip(), self._revised(key, item.get("proposal")))

    def _revised(self, key: str, value: object) -> Proposal:
        if not isinstance(value, dict):
            raise _Invalid(f"{key}: revise needs the whole revised proposal in 'proposal'", key)
        outcome = parse_proposals(json.dumps(value), agent=self.agent)
        if outcome.errors or len(outcome.proposals) != 1:
            said = outcome.errors[0].removeprefix("item 1: ") if outcome.errors else "empty"
            raise _Invalid(f"{key}: the revised proposal is not valid: {said}", key)
        return outcome.proposals[0]


class _Invalid(ValueError):
    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def undecided_note(keys: Sequence[str]) -> str:
    """The one-line note for own proposals left without a decision (they are kept)."""
    return f"no valid decision for {', '.join(keys)} after the retries; kept as proposed"
