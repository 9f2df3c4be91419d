"""The model gateway: an `LLM` protocol and its adapter for any OpenAI-compatible endpoint.

This is the only module that imports `openai`. The adapter leaves retries of 429, 5xx and
timeouts to the library (`max_retries`, honouring `retry-after-ms` / `retry-after`), bounds
concurrent calls with one semaphore per process, and records each call's usage and estimated
cost in logs and Prometheus counters. A server that refuses `response_format` (LM Studio takes
only `json_schema` and `text`) gets the same request again without it, once per model object:
the prompts ask for JSON in words too, and the answer is parsed strictly either way.
`BudgetedModel` wraps it for one job: it sums the job's usage and stops the job with
`BudgetExhausted` when its token budget is spent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, cast

import httpx
import openai
from prometheus_client import Counter, Histogram

from agents.chat_body import ModelOutputInvalid, first_line, parse_chat_body
from agents.usage import DEFAULT_PRICES, Price, TokenBudget, Usage, estimate_tokens, price_for
from bot.config import SETTING_HINTS, Settings
from bot.errors import ConfigError, Permanent, Retryable

__all__ = [
    "LLM",
    "TOKENS",
    "BudgetedModel",
    "Completion",
    "Message",
    "ModelOutputInvalid",
    "ModelRequestRejected",
    "ModelUnavailable",
    "OpenAIModel",
]

log = logging.getLogger(__name__)

TOKENS: Final = Counter(
    "ambient_llm_tokens_total", "Model tokens used, by agent and kind", ["agent", "kind"]
)
COST: Final = Counter(
    "ambient_llm_cost_usd_total", "Estimated model cost in USD (priced models only)", ["agent"]
)
CALLS: Final = Counter(
    "ambient_llm_calls_total", "Model calls by agent and outcome", ["agent", "outcome"]
)
CALL_SECONDS: Final = Histogram("ambient_llm_call_seconds", "Model call duration", ["agent"])


class ModelUnavailable(Retryable):
    """The endpoint stayed unreachable, slow, rate-limited or failing (5xx) after retries."""

    def __init__(self, message: str, endpoint: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status

    def __reduce__(self) -> tuple[type[ModelUnavailable], tuple[str, str, int | None]]:
        # Queue results are pickled; keep the endpoint and status through a round trip.
        return (type(self), (str(self), self.endpoint, self.status))


class ModelRequestRejected(Permanent):
    """The endpoint refused the request (4xx other than 408/409/429): key, model or input."""


Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's answer: its text, why it stopped ("stop", "length", …), and what it cost."""

    text: str
    usage: Usage
    model: str
    finish_reason: str | None = None

    @property
    def truncated(self) -> bool:
        """True when the model stopped at its output limit, so the text is cut short."""
        return self.finish_reason == "length"


class LLM(Protocol):
    """What agents need from a model."""

    async def complete(
        self, messages: Sequence[Message], *, agent: str, json: bool = False
    ) -> Completion:
        """Answer `messages` for `agent` (named in logs, metrics, and to the endpoint).

        `json=True` asks the endpoint for a JSON object. Raises `ModelUnavailable` (retry the
        job later), `ModelRequestRejected`, `ModelOutputInvalid` or `BudgetExhausted`.
        """
        ...


class OpenAIModel:
    """An `LLM` on an OpenAI-compatible endpoint (OpenAI, Moonshot, vLLM, Ollama, llama.cpp).

    Build one per process and share it: its semaphore is the process's concurrency limit
    (or pass `limiter` to share one semaphore between several models). `http_client` is the
    transport seam for tests. Constructing it does no I/O; `aclose()` releases connections.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 2,
        max_concurrency: int = 4,
        limiter: asyncio.Semaphore | None = None,
        prices: Mapping[str, Price] = DEFAULT_PRICES,
        temperature: float | None = 0.2,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._price = price_for(model, prices)
        self._temperature = temperature
        # Set when the endpoint answered 400 to `response_format`; later calls leave it out.
        self._no_response_format = False
        self._limiter = limiter or asyncio.Semaphore(max_concurrency)
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            # Local servers (Ollama, llama.cpp) need no key, but the client insists on one.
            api_key=api_key or "unused",
            timeout=timeout_s,
            max_retries=max_retries,
            # openai accepts an httpx.AsyncClient; its stubs name only its own client type.
            http_client=cast(Any, http_client),
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        prices: Mapping[str, Price] = DEFAULT_PRICES,
        model: str | None = None,
        limiter: asyncio.Semaphore | None = None,
    ) -> OpenAIModel:
        """The process's model from `AMBIENT_LLM_*` (or `model` on the same endpoint, sharing
        `limiter`); `ConfigError` names a missing variable."""
        for name in ("llm_base_url", "llm_model"):
            if not getattr(settings, name):
                raise ConfigError(
                    f"AMBIENT_{name.upper()} is not set; put {SETTING_HINTS[name]} there"
                )
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(
            base_url=str(settings.llm_base_url),
            model=model or str(settings.llm_model),
            api_key=key,
            timeout_s=settings.llm_timeout_s,
            max_concurrency=settings.llm_max_concurrency,
            limiter=limiter,
            prices=prices,
        )

    async def aclose(self) -> None:
        """Close the connections of the underlying client."""
        await self._client.close()

    async def complete(
        self, messages: Sequence[Message], *, agent: str, json: bool = False
    ) -> Completion:
        """See `LLM.complete`."""
        started = time.monotonic()
        async with self._limiter:
            try:
                body = await self._request(messages, agent, json_mode=json)
                completion = self._completion(body, messages)
            except (ModelUnavailable, ModelRequestRejected, ModelOutputInvalid) as exc:
                CALLS.labels(agent, type(exc).__name__).inc()
                raise
        seconds = time.monotonic() - started
        self._record(agent, completion, seconds)
        return completion

    async def _request(self, messages: Sequence[Message], agent: str, *, json_mode: bool) -> str:
        if not json_mode or self._no_response_format:
            return await self._send(messages, agent, json_mode=False)
        try:
            return await self._send(messages, agent, json_mode=True)
        except _ResponseFormatRefused as refused:
            self._no_response_format = True
            log.warning(
                "model endpoint %s refuses response_format (%s); asking for JSON in the prompt "
                "only from now on",
                self.base_url,
                refused,
                extra={"agent": agent, "model": self.model},
            )
        return await self._send(messages, agent, json_mode=False)

    async def _send(self, messages: Sequence[Message], agent: str, *, json_mode: bool) -> str:
        # The raw response lets us parse the body strictly instead of trusting a lax model.
        create = self._client.chat.completions.with_raw_response.create
        options: dict[str, Any] = {}
        if json_mode:
            options["response_format"] = {"type": "json_object"}
        if self._temperature is not None:
            options["temperature"] = self._temperature
        try:
            raw = await create(
                model=self.model,
                messages=[cast(Any, {"role": m.role, "content": m.content}) for m in messages],
                user=agent,
                **options,
            )
        except openai.APIStatusError as exc:
            if json_mode and _refuses_response_format(exc):
                raise _ResponseFormatRefused(_server_said(exc)) from None
            raise self._status_error(exc) from None
        except openai.APITimeoutError:
            raise ModelUnavailable(
                f"model endpoint {self.base_url} did not answer within {self.timeout_s:g}s "
                f"({self.max_retries + 1} tries); check AMBIENT_LLM_TIMEOUT_S and the server",
                endpoint=self.base_url,
                status=None,
            ) from None
        except openai.APIConnectionError as exc:
            raise ModelUnavailable(
                f"cannot reach model endpoint {self.base_url} ({exc.__cause__ or exc}); "
                "check AMBIENT_LLM_BASE_URL",
                endpoint=self.base_url,
                status=None,
            ) from None
        text: str = raw.text
        return text

    def _status_error(self, exc: openai.APIStatusError) -> ModelUnavailable | ModelRequestRejected:
        status = exc.status_code
        said = _server_said(exc)
        where = f"model endpoint {self.base_url}"
        if status in (408, 409, 429) or status >= 500:
            return ModelUnavailable(
                f"{where} answered {status} after {self.max_retries + 1} tries: {said}",
                endpoint=self.base_url,
                status=status,
            )
        hint = {
            401: "; check AMBIENT_LLM_API_KEY",
            403: "; check AMBIENT_LLM_API_KEY",
            404: f"; check AMBIENT_LLM_BASE_URL and that it serves model {self.model!r}",
        }.get(status, "")
        return ModelRequestRejected(f"{where} refused the request ({status}): {said}{hint}")

    def _completion(self, body: str, messages: Sequence[Message]) -> Completion:
        text, finish_reason, reported = parse_chat_body(body, self.base_url)
        if reported is None:
            prompt = estimate_tokens(m.content for m in messages)
            produced = estimate_tokens([text])
        else:
            prompt, produced = reported
        cost = None if self._price is None else self._price.cost(prompt, produced)
        usage = Usage(prompt, produced, cost, calls=1, estimated=reported is None)
        return Completion(text, usage, self.model, finish_reason)

    def _record(self, agent: str, completion: Completion, seconds: float) -> None:
        usage = completion.usage
        CALLS.labels(agent, "ok").inc()
        CALL_SECONDS.labels(agent).observe(seconds)
        TOKENS.labels(agent, "prompt").inc(usage.prompt_tokens)
        TOKENS.labels(agent, "completion").inc(usage.completion_tokens)
        if usage.cost_usd is not None:
            COST.labels(agent).inc(usage.cost_usd)
        log.info(
            "model call: %s",
            usage.summary(),
            extra={
                "agent": agent,
                "model": self.model,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cost_usd": usage.cost_usd,
                "seconds": round(seconds, 3),
                "finish_reason": completion.finish_reason,
            },
        )


class _ResponseFormatRefused(ModelRequestRejected):
    """The endpoint answered 400 because of `response_format`; `_request` asks again without."""


def _server_said(exc: openai.APIStatusError) -> str:
    # The client keeps the `error` of an error body: OpenAI's is an object with a message,
    # LM Studio's a bare string; others vary.
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return first_line(body["message"])
    if isinstance(body, str) and body.strip():
        return first_line(body)
    return first_line(exc.message)


def _refuses_response_format(exc: openai.APIStatusError) -> bool:
    """A 400 that names `response_format`: LM Studio's "'response_format.type' must be
    'json_schema' or 'text'", or an OpenAI-style error whose `param` is that field."""
    if exc.status_code != 400:
        return False
    return "response_format" in f"{exc.param or ''} {_server_said(exc)}"


class BudgetedModel:
    """One job's view of a model: checks the job's `TokenBudget` before each call, then adds
    the call's usage to it. Build one per job around the process's shared model."""

    def __init__(self, model: LLM, budget: TokenBudget) -> None:
        self.model = model
        self.budget = budget

    async def complete(
        self, messages: Sequence[Message], *, agent: str, json: bool = False
    ) -> Completion:
        """See `LLM.complete`; raises `BudgetExhausted` instead of calling once spent."""
        self.budget.check(agent, estimate_tokens(m.content for m in messages))
        completion = await self.model.complete(messages, agent=agent, json=json)
        self.budget.record(agent, completion.usage)
        return completion
