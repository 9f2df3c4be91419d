"""The directed fix loop behind `@app fix this` and CI failures.

context → the model proposes one diff → apply it → run the failing command and the checks in the
sandbox → on failure, hand the precise error back (the patch refusal, or the failing output) →
at most `max_rounds` rounds; then, optionally, a reviewer judges the verified diff against the
task and may send it back once. Every failed round resets the worktree, so each answer is a
complete diff against the original files.

The reviewer fails closed: an answer without a readable verdict goes back to it once with the
precise problem, and a second unreadable answer leaves the fix unpublished (the round says
why), since a review nobody could read approved nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from agents.ask import Reader, converse
from agents.context import build_pack, read_repo
from agents.llm import LLM, Completion, Message
from agents.model_json import JsonNotFound, find_json
from agents.pack_render import fenced, render_pack
from agents.prompts import load_prompt
from agents.proposal import Proposal, parse_proposals
from agents.usage import Usage
from bot.patch import PathPolicy, apply
from sandbox.verify import Verification

__all__ = ["FixResult", "FixRound", "FixTask", "Fixer"]

HERE: Final = Path(__file__).parent
FIXER_PROMPT: Final = load_prompt("fixer.md", HERE)
FIXER_TASK: Final = load_prompt("fixer_task.md", HERE)
REVIEWER_PROMPT: Final = load_prompt("reviewer.md", HERE)
REVIEWER_TASK: Final = load_prompt("reviewer_task.md", HERE)
OUTPUT_FOR_MODEL: Final = 3000
#: Times the reviewer is asked again after an answer without a readable verdict.
REVIEW_REASKS: Final = 1
RoundOutcome = Literal["no-proposal", "refused", "failed", "verified", "sent-back", "unreviewed"]
Verdict = Literal["approve", "revise"]


@dataclass(frozen=True, slots=True)
class FixTask:
    """What the fixer must achieve: instructions, failure output, the files a PR touches."""

    instructions: str
    log: str = ""
    touched: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FixRound:
    """One round of the loop and what became of it."""

    number: int
    outcome: RoundOutcome
    detail: str


@dataclass(frozen=True, slots=True)
class FixResult:
    """The loop's outcome; `proposal` is the verified fix, applied in the worktree, or None."""

    proposal: Proposal | None
    verification: Verification | None
    rounds: tuple[FixRound, ...]
    usage: Usage
    review: str = ""

    @property
    def verified(self) -> bool:
        return self.proposal is not None and self.verification is not None and self.verification.ok


Verify = Callable[[], Awaitable[Verification]]
Reset = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class _Loop:
    messages: list[Message]
    rounds: list[FixRound] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


class Fixer:
    """Runs the loop with one model; the sandbox comes in through `verify`."""

    def __init__(
        self,
        model: LLM,
        *,
        policy: PathPolicy | None = None,
        max_rounds: int = 3,
        review: bool = True,
        context_tokens: int = 6000,
    ) -> None:
        self._model = model
        self._policy = policy or PathPolicy()
        self._max_rounds = max_rounds
        self._review = review
        self._context_tokens = context_tokens

    async def fix(
        self, task: FixTask, worktree: Path, *, verify: Verify, reset: Reset
    ) -> FixResult:
        """Try to fix `task` in `worktree`; on success the fix stays applied there."""
        repo = await read_repo(worktree)
        pack = build_pack(
            repo, budget_tokens=self._context_tokens, log=task.log, touched=task.touched
        )
        checks = "\n".join(f"- `{c}`" for c in task.checks) or "- the repository's own checks"
        prompt = FIXER_TASK.render(
            {
                "instructions": fenced(task.instructions, "text"),
                "checks": checks,
                "context": render_pack(pack),
            }
        )
        loop = _Loop([Message("system", FIXER_PROMPT.render({})), Message("user", prompt)])
        sent_back = False
        review = ""
        for number in range(1, self._max_rounds + 1):
            proposal, verification = await self._round(number, loop, worktree, verify, reset)
            if proposal is None or verification is None:
                continue
            if not self._review or sent_back or number == self._max_rounds:
                return FixResult(proposal, verification, tuple(loop.rounds), loop.usage, review)
            verdict, review = await self._judge(task, proposal, loop)
            if verdict == "approve":
                return FixResult(proposal, verification, tuple(loop.rounds), loop.usage, review)
            if verdict is None:
                review = f"the reviewer's answer could not be read: {review}; not published"
                loop.rounds[-1] = FixRound(number, "unreviewed", review)
                await reset()
                return FixResult(None, None, tuple(loop.rounds), loop.usage, review)
            sent_back = True
            loop.rounds[-1] = FixRound(number, "sent-back", review)
            await reset()
            loop.messages.append(
                Message(
                    "user",
                    f"A reviewer asked for changes: {review}\n"
                    "The worktree was reset; send the complete fix again.",
                )
            )
        return FixResult(None, None, tuple(loop.rounds), loop.usage, review)

    async def _round(
        self, number: int, loop: _Loop, worktree: Path, verify: Verify, reset: Reset
    ) -> tuple[Proposal | None, Verification | None]:
        completion = await self._model.complete(loop.messages, agent="fixer")
        loop.usage = loop.usage + completion.usage
        loop.messages.append(Message("assistant", completion.text))
        outcome = parse_proposals(completion.text, agent="fixer")
        if not outcome.proposals:
            detail = outcome.feedback() or "the answer held no proposal"
            loop.rounds.append(FixRound(number, "no-proposal", detail))
            loop.messages.append(Message("user", detail + "\nSend exactly one proposal."))
            return None, None
        proposal = outcome.proposals[0]
        applied = await apply(worktree, proposal.diff, policy=self._policy)
        if not applied.ok:
            loop.rounds.append(FixRound(number, "refused", applied.message))
            loop.messages.append(
                Message(
                    "user",
                    f"Your diff did not apply: {applied.message}\n"
                    "The files are unchanged; send the complete fix again.",
                )
            )
            return None, None
        verification = await verify()
        if not verification.ok:
            failed = verification.failed
            tail = failed.output_tail[-OUTPUT_FOR_MODEL:] if failed else ""
            said = failed.describe() if failed else verification.summary()
            loop.rounds.append(FixRound(number, "failed", said))
            await reset()
            loop.messages.append(
                Message(
                    "user",
                    f"The diff applied but {said}. Output:\n"
                    f"```\n{tail}\n```\nThe worktree was reset; send the "
                    "complete fix again.",
                )
            )
            return None, None
        loop.rounds.append(FixRound(number, "verified", verification.summary()))
        return proposal, verification

    async def _judge(
        self, task: FixTask, proposal: Proposal, loop: _Loop
    ) -> tuple[Verdict | None, str]:
        """The reviewer's verdict and comments, or None and why its answers could not be read."""
        messages = [
            Message("system", REVIEWER_PROMPT.render({})),
            Message(
                "user",
                REVIEWER_TASK.render({"instructions": task.instructions, "diff": proposal.diff}),
            ),
        ]
        reader = _VerdictReader()
        problem = await converse(
            self._model,
            messages,
            reader,
            agent="reviewer",
            max_reflections=REVIEW_REASKS,
            json_mode=True,
        )
        loop.usage = loop.usage + reader.usage
        if problem:
            return None, reader.problem
        return reader.verdict, reader.comments


class _Unreadable(ValueError):
    """A reviewer's answer holds no usable verdict; the message is phrased for the model."""


def _verdict_of(text: str) -> tuple[Verdict, str]:
    """The verdict and comments of a reviewer's answer, read strictly."""
    try:
        found = find_json(text, lambda v: isinstance(v, dict) and "verdict" in v)
    except JsonNotFound as exc:
        said = str(exc) if exc.broken else 'the answer holds no JSON object with a "verdict"'
        raise _Unreadable(said) from None
    fields = found if isinstance(found, dict) else {}
    verdict, comments = fields.get("verdict"), fields.get("comments", "")
    decided = verdict.strip().lower() if isinstance(verdict, str) else ""
    if decided not in ("approve", "revise"):
        raise _Unreadable(f'the verdict {verdict!r} is neither "approve" nor "revise"')
    if not isinstance(comments, str):
        raise _Unreadable('"comments" must be a string')
    if decided == "revise" and not comments.strip():
        raise _Unreadable('a "revise" verdict needs comments saying what must change')
    return ("approve" if decided == "approve" else "revise"), comments.strip()


class _VerdictReader(Reader):
    """Keeps the reviewer's verdict, or the precise reason its answer has none."""

    def __init__(self) -> None:
        super().__init__()
        self.verdict: Verdict = "revise"
        self.comments = ""
        self.problem = ""

    def read(self, completion: Completion) -> str:
        """See `Reader.read`."""
        try:
            self.verdict, self.comments = _verdict_of(completion.text)
        except _Unreadable as exc:
            self.problem = str(exc)
            return (
                f"Your answer could not be read: {exc}. Answer with one JSON object and nothing "
                'else: {"verdict": "approve" | "revise", "comments": "…"}'
            )
        return ""
