"""What a specialist is: a role, a prompt beside its module, per-repository tuning, a filter.

Prompts are data: `<name>.md` next to the specialist's module, with `$placeholders`
(`string.Template` syntax; `$$` is a literal dollar). Rendering is strict: a placeholder the
prompt uses but the caller did not give, or a value the caller gave that the prompt never
uses, is a `PromptError`, so a prompt and the code that fills it always change together.

Model-free specialists (ruff, the secrets report) run commands through a `CommandRunner`:
the pipeline injects the sandbox, tests inject a runner of real local processes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Final, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agents import prompts
from agents.prompts import PromptError, PromptTemplate
from agents.proposal import Proposal, RiskLevel
from agents.risk import RISK_RANK

__all__ = [
    "ANSWER_FORMAT",
    "CommandRunner",
    "Dropped",
    "PromptError",
    "PromptTemplate",
    "RunOutcome",
    "Specialist",
    "SpecialistsConfig",
    "Tuning",
    "as_tuning",
    "load_prompt",
    "raise_risk",
]

_PROMPT_DIR: Final = Path(__file__).parent
T = TypeVar("T", bound="Tuning")


def load_prompt(name: str, directory: Path = _PROMPT_DIR) -> PromptTemplate:
    """A prompt shipped beside the specialists (or in `directory`)."""
    return prompts.load_prompt(name, directory)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a command did: its exit code and its output as text."""

    exit_code: int
    stdout: str
    stderr: str


class CommandRunner(Protocol):
    """Runs one command in a directory (the sandbox in production)."""

    async def run(self, argv: tuple[str, ...], cwd: Path) -> RunOutcome:
        """Run `argv` in `cwd` and return its outcome; a non-zero exit is not an error."""
        ...


class Tuning(BaseModel):
    """Per-repository settings every specialist takes (`agents.<name>` in the repo config):
    extra instructions, how many proposals, and the paths a sweep shows it first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    focus: str = Field(default="", max_length=2000)
    max_proposals: int = Field(default=3, ge=1, le=20)
    prioritize_paths: tuple[str, ...] = ()


def as_tuning(tuning: Tuning, kind: type[T]) -> T:
    """`tuning` as the specialist's own tuning class (`TypeError` if it was built for another)."""
    if not isinstance(tuning, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(tuning).__name__}")
    return tuning


@dataclass(frozen=True, slots=True)
class Dropped:
    """A specialist's filter refused a proposal, and why (one line)."""

    reason: str


ProposalCheck = Callable[[Proposal, Tuning], "Proposal | Dropped"]
PromptValues = Callable[[Tuning], Mapping[str, str]]


def _no_values(tuning: Tuning) -> Mapping[str, str]:
    return {}


def _accept(proposal: Proposal, tuning: Tuning) -> Proposal | Dropped:
    return proposal


@dataclass(frozen=True, slots=True)
class Specialist:
    """One model specialist: who it is, its prompt, its tuning model and its proposal filter.

    `priority` breaks ties in conflict selection (lower wins). `values` turns the repository's
    tuning into the prompt's own placeholders; `check` adjusts or drops one proposal.
    """

    name: str
    agent: str
    role: str
    focus: tuple[str, ...]
    prompt: PromptTemplate
    priority: int
    tuning_model: type[Tuning] = Tuning
    values: PromptValues = _no_values
    check: ProposalCheck = _accept

    def default_tuning(self) -> Tuning:
        """The tuning when the repository sets none."""
        return self.tuning_model()

    def system_prompt(self, tuning: Tuning) -> str:
        """The specialist's system prompt for a repository tuned with `tuning`."""
        focus = tuning.focus.strip()
        common = {
            "agent": self.agent,
            "role": self.role,
            "max_proposals": str(tuning.max_proposals),
            "answer_format": ANSWER_FORMAT.render({"agent": self.agent}),
            "focus_note": f"\nThis repository asks you to focus on: {focus}\n" if focus else "",
        }
        return self.prompt.render({**common, **self.values(tuning)})

    def filter(self, proposal: Proposal, tuning: Tuning) -> Proposal | Dropped:
        """The proposal as this specialist's own (its agent name), adjusted or dropped."""
        # A model sometimes signs a proposal with another agent's name; ownership decides who
        # may revise it in the refine round, so the answering specialist owns what it answered.
        if proposal.agent != self.agent:
            proposal = replace(proposal, agent=self.agent)
        return self.check(proposal, tuning)


def raise_risk(proposal: Proposal, floor: RiskLevel) -> Proposal:
    """`proposal` with its claimed risk raised to at least `floor`."""
    if RISK_RANK[proposal.risk_level] >= RISK_RANK[floor]:
        return proposal
    return replace(proposal, risk_level=floor)


@dataclass(frozen=True, slots=True)
class SpecialistsConfig:
    """Which specialists run for a repository, and each one's tuning (by short name)."""

    enabled: tuple[str, ...]
    tuning: Mapping[str, Tuning] = field(default_factory=lambda: MappingProxyType({}))

    def wants(self, name: str) -> bool:
        """True when the specialist `name` (short name) is enabled."""
        return name in self.enabled

    def tuning_of(self, specialist: Specialist) -> Tuning:
        """The repository's tuning of `specialist`, or its defaults."""
        return self.tuning.get(specialist.name) or specialist.default_tuning()


ANSWER_FORMAT: Final = load_prompt("answer_format.md")
