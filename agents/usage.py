"""Token usage and estimated cost: per model call, summed per job, bounded by a per-job budget.

Values here are pure; `TokenBudget` is the one mutable holder, one per job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final

from bot.errors import ConfigError, Permanent

__all__ = [
    "DEFAULT_PRICES",
    "BudgetExhausted",
    "JobUsage",
    "Price",
    "TokenBudget",
    "Usage",
    "estimate_tokens",
    "parse_prices",
    "price_for",
]

# Without a tokenizer for every model an endpoint may serve, four characters per token is the
# usual estimate for English text and code; it is only used where the endpoint reports nothing.
CHARS_PER_TOKEN: Final = 4


class BudgetExhausted(Permanent):
    """The job's token budget is spent; the job stops before making another model call."""


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million prompt tokens and per million completion tokens."""

    prompt_per_mtok: float
    completion_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The cost in US dollars of one call with these token counts."""
        return (
            prompt_tokens * self.prompt_per_mtok + completion_tokens * self.completion_per_mtok
        ) / 1_000_000


#: List prices in USD per million tokens (as published by the vendors in 2025). They change:
#: a deployment overrides or extends them with `parse_prices`; an unlisted model costs "unknown".
DEFAULT_PRICES: Final[Mapping[str, Price]] = MappingProxyType(
    {
        "gpt-4o": Price(2.50, 10.00),
        "gpt-4o-mini": Price(0.15, 0.60),
        "gpt-4.1": Price(2.00, 8.00),
        "gpt-4.1-mini": Price(0.40, 1.60),
        "gpt-4.1-nano": Price(0.10, 0.40),
        "o3-mini": Price(1.10, 4.40),
        "kimi-k2-0711-preview": Price(0.60, 2.50),
    }
)

_PRICE_ITEM = re.compile(r"^\s*([^=\s]+)\s*=\s*([0-9.]+)\s*/\s*([0-9.]+)\s*$")


def parse_prices(text: str) -> dict[str, Price]:
    """Parse `model=PROMPT/COMPLETION,...` (USD per million tokens) into a price table.

    Raises `ConfigError` naming the item that is malformed.
    """
    prices: dict[str, Price] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        found = _PRICE_ITEM.match(item)
        if found is None:
            raise ConfigError(
                f"model prices: {item!r} is not MODEL=PROMPT/COMPLETION "
                "(USD per million tokens, e.g. gpt-4o-mini=0.15/0.60)"
            )
        try:
            prices[found[1]] = Price(float(found[2]), float(found[3]))
        except ValueError:
            raise ConfigError(f"model prices: {item!r} has a price that is not a number") from None
    return prices


def price_for(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The price of `model`: an exact entry, else the longest entry it is a dated variant of.

    `gpt-4o-mini-2024-07-18` costs what `gpt-4o-mini` costs; a `vendor/` prefix is ignored.
    """
    for name in (model, model.rsplit("/", 1)[-1]):
        if name in prices:
            return prices[name]
        variants = [key for key in prices if name.startswith(key + "-")]
        if variants:
            return prices[max(variants, key=len)]
    return None


def estimate_tokens(texts: Iterable[str]) -> int:
    """A rough token count for texts no endpoint has counted (about four characters a token)."""
    return sum(len(text) // CHARS_PER_TOKEN + 1 for text in texts)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and estimated cost of one or more calls.

    `cost_usd` is None when a call's model has no price ("unknown"); `estimated` is True when
    an endpoint reported no usage and the counts are estimates.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    calls: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        cost = (
            None
            if self.cost_usd is None or other.cost_usd is None
            else self.cost_usd + other.cost_usd
        )
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            cost,
            self.calls + other.calls,
            self.estimated or other.estimated,
        )

    def cost_text(self) -> str:
        """`$0.0123`, or `unknown` when a model had no price."""
        return "unknown" if self.cost_usd is None else f"${self.cost_usd:.4f}"

    def summary(self) -> str:
        """One line for logs and reports."""
        approx = "~" if self.estimated else ""
        return (
            f"{self.calls} model call{'s' if self.calls != 1 else ''}, {approx}"
            f"{self.total_tokens:,} tokens ({self.prompt_tokens:,} prompt + "
            f"{self.completion_tokens:,} completion), estimated cost {self.cost_text()}"
        )


@dataclass(frozen=True, slots=True)
class JobUsage:
    """What one job spent, in total and by agent (in the order agents first called)."""

    total: Usage = field(default_factory=Usage)
    by_agent: tuple[tuple[str, Usage], ...] = ()

    def add(self, agent: str, usage: Usage) -> JobUsage:
        """This usage with one more call's `usage` by `agent` added."""
        agents = dict(self.by_agent)
        agents[agent] = agents.get(agent, Usage()) + usage
        return replace(self, total=self.total + usage, by_agent=tuple(agents.items()))

    def summary(self) -> str:
        """One line for logs and reports: the total, then tokens by agent."""
        if not self.by_agent:
            return "no model calls"
        parts = ", ".join(f"{agent} {usage.total_tokens:,}" for agent, usage in self.by_agent)
        return f"{self.total.summary()}; tokens by agent: {parts}"

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready form for job results and reports."""

        def one(usage: Usage) -> dict[str, object]:
            return {
                "calls": usage.calls,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cost_usd": usage.cost_usd,
                "estimated": usage.estimated,
            }

        return {"total": one(self.total), "by_agent": {a: one(u) for a, u in self.by_agent}}


class TokenBudget:
    """A job's running usage and its token limit (None: unlimited).

    Calls in flight at the same time are each checked before they start, so a job can end a
    little over its limit by what those calls used; it never starts a call once the limit is
    reached.
    """

    def __init__(self, limit_tokens: int | None) -> None:
        if limit_tokens is not None and limit_tokens < 1:
            raise ConfigError(f"token budget must be 1 or more tokens, not {limit_tokens}")
        self.limit_tokens = limit_tokens
        self.usage = JobUsage()

    @property
    def remaining(self) -> int | None:
        if self.limit_tokens is None:
            return None
        return max(0, self.limit_tokens - self.usage.total.total_tokens)

    def check(self, agent: str, prompt_tokens: int = 0) -> None:
        """Raise `BudgetExhausted` if a call by `agent` of about `prompt_tokens` must not start."""
        remaining = self.remaining
        if remaining is None:
            return
        spent = self.usage.total
        if remaining == 0 or prompt_tokens > remaining:
            asked = f"; {agent}'s next call needs ~{prompt_tokens:,}" if remaining else ""
            raise BudgetExhausted(
                f"token budget spent: {spent.total_tokens:,} of {self.limit_tokens:,} tokens "
                f"used in {spent.calls} model calls{asked}; the job stops here "
                "(raise the job's token budget to let it go further)"
            )

    def record(self, agent: str, usage: Usage) -> None:
        """Add one call's usage."""
        self.usage = self.usage.add(agent, usage)
