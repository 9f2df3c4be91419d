"""The swarm: specialists propose in parallel, refine after seeing each other, then one
proposal per overlap is selected and every survivor is assessed for risk.

1. Propose: every enabled specialist is asked at once; calls are bounded by `limiter` (or the
   model's own limit). A malformed answer is corrected within `max_reflections` tries. A
   specialist that fails is reported in `failures`; the others go on.
2. Filter: each specialist's own filter adjusts or drops its proposals, and keeps at most
   its `max_proposals`.
3. Refine: each specialist with proposals sees all of them (by id, others' diffs cut to a
   budget) and keeps, revises or drops its own. A failed or unusable refine keeps the
   proposals as they were.
4. Risk: the rules raise the claimed level; proposals past the file limit are rejected here,
   before selection, so that a proposal that can never be published does not win an overlap.
5. Select: overlapping proposals are deduplicated or resolved (see `agents.dedupe`).

Model-free proposals (ruff's) join through `extra`: they are shown in the refine round and
take part in selection and risk, but are not asked to refine.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from agents.ask import MAX_REFLECTIONS, ask_for_proposals, converse
from agents.chat_body import first_line
from agents.dedupe import select
from agents.llm import LLM, Message
from agents.proposal import Proposal
from agents.refine import DecisionParser, render_refine, undecided_note
from agents.risk import RiskDecision, RiskRules, assess
from agents.specialists.base import Dropped, Specialist, SpecialistsConfig, Tuning, load_prompt
from agents.swarm_result import AgentFailure, Assessed, Rejected, Stage, SwarmResult
from agents.usage import JobUsage, Usage
from bot.errors import AmbientError, Retryable

__all__ = ["DEFAULT_TASK", "SwarmOptions", "run_swarm"]

log = logging.getLogger(__name__)

DEFAULT_TASK = "Review this repository in your role and propose the changes most worth making now."
PROPOSE_PROMPT = load_prompt("propose.md")


@dataclass(frozen=True, slots=True)
class SwarmOptions:
    """How a swarm runs; the defaults suit a weekly sweep."""

    refine: bool = True
    max_reflections: int = MAX_REFLECTIONS
    json_mode: bool = False
    rules: RiskRules = field(default_factory=RiskRules)
    diff_budget_chars: int = 24_000


@dataclass
class _Run:
    """One specialist's part of a swarm run (mutable while the run goes on)."""

    specialist: Specialist
    tuning: Tuning
    messages: list[Message]
    proposals: list[Proposal] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


class _Swarm:
    def __init__(self, llm: LLM, limiter: asyncio.Semaphore | None, options: SwarmOptions) -> None:
        self.llm = llm
        self.limiter = limiter
        self.options = options
        self.rejected: list[Rejected] = []
        self.failures: list[AgentFailure] = []

    def _fail(self, agent: str, stage: Stage, error: str, *, retryable: bool = False) -> None:
        log.warning("swarm: %s failed at %s: %s", agent, stage, error)
        self.failures.append(AgentFailure(agent, stage, error, retryable))

    def _own(self, run: _Run, proposals: Sequence[Proposal]) -> list[Proposal]:
        kept: list[Proposal] = []
        for proposal in proposals:
            checked = run.specialist.filter(proposal, run.tuning)
            if isinstance(checked, Dropped):
                self.rejected.append(Rejected(proposal, "filter", (checked.reason,)))
            elif len(kept) >= run.tuning.max_proposals:
                limit = f"over this specialist's limit of {run.tuning.max_proposals} proposals"
                self.rejected.append(Rejected(checked, "filter", (limit,)))
            else:
                kept.append(checked)
        return kept

    async def propose(self, run: _Run) -> None:
        agent = run.specialist.agent
        try:
            answer = await ask_for_proposals(
                self.llm,
                run.messages,
                agent=agent,
                limiter=self.limiter,
                max_reflections=self.options.max_reflections,
                json_mode=self.options.json_mode,
            )
        except AmbientError as exc:
            self._fail(agent, "propose", first_line(str(exc)), retryable=_transient(exc))
            return
        run.usage += answer.usage
        if answer.interrupted:
            kept = f"; {len(answer.proposals)} proposals from earlier answers kept"
            self._fail(agent, "propose", f"correction stopped: {answer.interrupted}{kept}")
        elif answer.errors:
            tries = self.options.max_reflections + 1
            what = "answer unusable" if not answer.proposals else "some items unusable"
            self._fail(agent, "propose", f"{what} after {tries} tries: {answer.errors[0]}")
        run.proposals = self._own(run, answer.proposals)

    async def refine(self, run: _Run, listing: Mapping[str, Proposal]) -> None:
        agent = run.specialist.agent
        own = {key: p for key, p in listing.items() if p.agent == agent}
        shown = json.dumps([p.as_dict() for p in run.proposals], indent=1)
        question = render_refine(listing, agent, diff_budget_chars=self.options.diff_budget_chars)
        messages = [*run.messages, Message("assistant", shown), Message("user", question)]
        parser = DecisionParser(own, agent)
        try:
            await converse(
                self.llm,
                messages,
                parser,
                agent=agent,
                limiter=self.limiter,
                max_reflections=self.options.max_reflections,
                json_mode=self.options.json_mode,
            )
        except AmbientError as exc:
            # Decisions already given stand; the undecided proposals are kept as they were.
            error = f"{first_line(str(exc))}; undecided proposals kept"
            self._fail(agent, "refine", error, retryable=_transient(exc))
        else:
            if parser.undecided:
                self._fail(agent, "refine", undecided_note(parser.undecided))
        run.usage += parser.usage
        self._apply(run, own, parser)

    def _apply(self, run: _Run, own: Mapping[str, Proposal], parser: DecisionParser) -> None:
        result: list[Proposal] = []
        revised: list[Proposal] = []
        for key, proposal in own.items():
            decision = parser.decisions.get(key)
            if decision is None or decision.action == "keep":
                result.append(proposal)
            elif decision.action == "drop":
                reason = decision.reason or "no reason given"
                why = f"dropped by {run.specialist.agent} after seeing the others: {reason}"
                self.rejected.append(Rejected(proposal, "refine", (why,)))
            elif decision.proposal is not None:
                revised.append(decision.proposal)
        run.proposals = result + self._own(run, revised)


def _transient(error: AmbientError) -> bool:
    return isinstance(error, Retryable)


def _listing(runs: Sequence[_Run], extra: Sequence[Proposal]) -> dict[str, Proposal]:
    proposals = [p for run in runs for p in run.proposals] + list(extra)
    return {f"P{number}": p for number, p in enumerate(proposals, 1)}


async def _refine_all(swarm: _Swarm, runs: Sequence[_Run], extra: Sequence[Proposal]) -> None:
    listing = _listing(runs, extra)
    agents = {p.agent for p in listing.values()}
    # Refining needs someone else's proposals to react to.
    takers = [run for run in runs if run.proposals and len(agents) > 1]
    async with asyncio.TaskGroup() as group:
        for run in takers:
            group.create_task(swarm.refine(run, listing))


def _priority(specialists: Sequence[Specialist]) -> dict[str, int]:
    return {s.agent: s.priority for s in specialists}


async def run_swarm(
    llm: LLM,
    specialists: Sequence[Specialist],
    context: str | Mapping[str, str],
    *,
    config: SpecialistsConfig,
    task: str = DEFAULT_TASK,
    extra: Sequence[Proposal] = (),
    limiter: asyncio.Semaphore | None = None,
    options: SwarmOptions = SwarmOptions(),
) -> SwarmResult:
    """Run the swarm over a repository `context` (a rendered pack, or one per specialist by
    short name) and return what it chose.

    `limiter` bounds model calls in flight (None: the model's own limit). Failures of single
    specialists are in the result; only a bug raises.
    """
    swarm = _Swarm(llm, limiter, options)
    runs = []
    for specialist in specialists:
        shown = context if isinstance(context, str) else context[specialist.name]
        question = PROPOSE_PROMPT.render({"task": task.strip(), "context": shown})
        tuning = config.tuning_of(specialist)
        system = specialist.system_prompt(tuning)
        messages = [Message("system", system), Message("user", question)]
        runs.append(_Run(specialist, tuning, messages))
    async with asyncio.TaskGroup() as group:
        for run in runs:
            group.create_task(swarm.propose(run))
    if options.refine:
        await _refine_all(swarm, runs, extra)
    proposals = [p for run in runs for p in run.proposals] + list(extra)
    usage = JobUsage()
    for run in runs:
        if run.usage.calls:
            usage = usage.add(run.specialist.agent, run.usage)
    result = _finish(swarm, proposals, specialists, usage)
    log.info("swarm: %s", result.summary())
    return result


_STAGES: Final[Mapping[Stage, int]] = {"propose": 0, "filter": 1, "refine": 2, "risk": 3}


def _finish(
    swarm: _Swarm, proposals: Sequence[Proposal], specialists: Sequence[Specialist], usage: JobUsage
) -> SwarmResult:
    candidates: list[Proposal] = []
    risks: dict[Proposal, RiskDecision] = {}
    for proposal in proposals:
        decision = assess(proposal, swarm.options.rules)
        if decision.rejected:
            swarm.rejected.append(Rejected(proposal, "risk", decision.reasons))
        else:
            candidates.append(proposal)
            risks[proposal] = decision
    priority = _priority(specialists)
    selection = select(candidates, priority)
    # Specialists finish in any order; sort what they reported so a run reads the same twice.
    failures = sorted(swarm.failures, key=lambda f: (priority.get(f.agent, 99), _STAGES[f.stage]))
    rejected = sorted(
        swarm.rejected, key=lambda r: (_STAGES[r.stage], priority.get(r.proposal.agent, 99))
    )
    return SwarmResult(
        selected=tuple(Assessed(p, risks[p]) for p in selection.selected),
        superseded=selection.superseded,
        rejected=tuple(rejected),
        failures=tuple(failures),
        usage=usage,
    )
