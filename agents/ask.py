"""Asking a model, then correcting a malformed answer within a bounded number of tries.

Model output is untrusted: each answer is parsed strictly, and while it has problems the
precise problems go back to the model ("item 2: risk_level 'severe' is not one of …; items 1
and 3 were accepted, do not resend them"), at most `max_reflections` times. What parsed in an
earlier try is kept, also when a later call fails.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Final

from agents.chat_body import first_line
from agents.llm import LLM, Completion, Message
from agents.proposal import ParseOutcome, Proposal, parse_proposals
from agents.usage import Usage
from bot.errors import AmbientError

__all__ = ["MAX_REFLECTIONS", "Answer", "Reader", "ask_for_proposals", "converse"]

#: Corrections asked for after the first answer (aider uses three; answers here are longer).
MAX_REFLECTIONS: Final = 2
CUT_OFF: Final = "your answer was cut off at the output limit; send fewer or shorter proposals"


class Reader(ABC):
    """Consumes a conversation's answers: keeps what is valid, sums the usage of each call."""

    def __init__(self) -> None:
        self.usage = Usage()
        self.answers = 0

    def take(self, completion: Completion) -> str:
        """Read one answer; return feedback for the model, or "" when nothing is left to fix."""
        self.usage += completion.usage
        self.answers += 1
        return self.read(completion)

    @abstractmethod
    def read(self, completion: Completion) -> str:
        """Parse one answer, keep what is valid, and say what was not (for the model)."""


def _slot(limiter: asyncio.Semaphore | None) -> AbstractAsyncContextManager[object]:
    return limiter if limiter is not None else nullcontext()


async def converse(
    llm: LLM,
    messages: Sequence[Message],
    reader: Reader,
    *,
    agent: str,
    limiter: asyncio.Semaphore | None = None,
    max_reflections: int = MAX_REFLECTIONS,
    json_mode: bool = False,
) -> str:
    """Ask; while `reader` returns feedback, ask again with it, at most `max_reflections` times.

    Returns the last feedback ("" when the last answer was usable). Model errors
    (`ModelUnavailable`, `BudgetExhausted`, …) propagate; `reader` keeps what came before.
    """
    conversation = list(messages)
    feedback = ""
    for _ in range(max_reflections + 1):
        # The limiter is held for the call only, so parsing never keeps a slot busy.
        async with _slot(limiter):
            completion = await llm.complete(conversation, agent=agent, json=json_mode)
        feedback = reader.take(completion)
        if not feedback:
            break
        conversation += [Message("assistant", completion.text), Message("user", feedback)]
    return feedback


@dataclass(frozen=True, slots=True)
class Answer:
    """The proposals a model gave over all tries, the errors of its last answer (empty when it
    was fine), the one-line error of a failed correction call ("" if none), and the usage."""

    proposals: tuple[Proposal, ...]
    errors: tuple[str, ...]
    usage: Usage
    interrupted: str = ""


class _Collector(Reader):
    def __init__(self, agent: str) -> None:
        super().__init__()
        self.agent = agent
        self.proposals: list[Proposal] = []
        self.errors: tuple[str, ...] = ()

    def read(self, completion: Completion) -> str:
        outcome = parse_proposals(completion.text, agent=self.agent)
        self.proposals.extend(outcome.proposals)
        errors = outcome.errors
        if completion.truncated:
            errors = (CUT_OFF, *errors)
        self.errors = errors
        return ParseOutcome(outcome.proposals, errors, outcome.accepted_items).feedback()


async def ask_for_proposals(
    llm: LLM,
    messages: Sequence[Message],
    *,
    agent: str,
    limiter: asyncio.Semaphore | None = None,
    max_reflections: int = MAX_REFLECTIONS,
    json_mode: bool = False,
) -> Answer:
    """Ask `agent`'s question and parse proposals, correcting a malformed answer (bounded).

    A model error on the first call propagates; on a correction call it ends the
    conversation, and the answer keeps what was valid before it (`interrupted` says why).
    """
    collect = _Collector(agent)
    try:
        await converse(
            llm,
            messages,
            collect,
            agent=agent,
            limiter=limiter,
            max_reflections=max_reflections,
            json_mode=json_mode,
        )
    except AmbientError as exc:
        if not collect.answers:
            raise
        return Answer(tuple(collect.proposals), collect.errors, collect.usage, first_line(str(exc)))
    return Answer(tuple(collect.proposals), collect.errors, collect.usage)
