"""The model client against the scripted OpenAI-compatible server, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from prometheus_client import REGISTRY

from agents.llm import (
    BudgetedModel,
    Message,
    ModelOutputInvalid,
    ModelRequestRejected,
    ModelUnavailable,
    OpenAIModel,
)
from agents.usage import BudgetExhausted, TokenBudget
from bot.config import load_settings
from bot.errors import ConfigError, Permanent, Retryable
from tests.fixtures.llm_sim import LLMSim
from tests.support import free_port, wait_for_port

ASK = [Message("system", "You are security."), Message("user", "Find problems in app.py")]

MakeModel = Callable[..., OpenAIModel]


@pytest.fixture
async def make_model(llm_sim: LLMSim) -> AsyncIterator[MakeModel]:
    models: list[OpenAIModel] = []

    def make(**options: Any) -> OpenAIModel:
        settings: dict[str, Any] = {
            "base_url": llm_sim.base_url,
            "model": "gpt-4o-mini",
            "api_key": "sk-test",
            "timeout_s": 5.0,
            "max_retries": 2,
        }
        model = OpenAIModel(**{**settings, **options})
        models.append(model)
        return model

    yield make
    for model in models:
        await model.aclose()


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_answer_usage_and_cost(llm_sim: LLMSim, make_model: MakeModel) -> None:
    llm_sim.set_script(
        [{"content": "[]", "usage": {"prompt_tokens": 1000, "completion_tokens": 200}}]
    )
    before = counter("ambient_llm_tokens_total", agent="security", kind="prompt")

    completion = await make_model().complete(ASK, agent="security", json=True)

    assert completion.text == "[]"
    assert completion.finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (1000, 200)
    # gpt-4o-mini: $0.15 per million prompt tokens, $0.60 per million completion tokens.
    assert completion.usage.cost_usd == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1e6)
    assert not completion.usage.estimated
    (asked,) = llm_sim.requests()
    assert asked["agent"] == "security"
    assert asked["model"] == "gpt-4o-mini"
    assert asked["response_format"] == {"type": "json_object"}
    assert asked["authorization"] == "Bearer sk-test"
    assert [m["role"] for m in asked["messages"]] == ["system", "user"]
    after = counter("ambient_llm_tokens_total", agent="security", kind="prompt")
    assert after - before == 1000


async def test_unpriced_model_costs_unknown_and_missing_usage_is_estimated(
    llm_sim: LLMSim, make_model: MakeModel
) -> None:
    llm_sim.set_script([{"content": "x" * 400, "omit_usage": True}])

    completion = await make_model(model="llama3:8b").complete(ASK, agent="style")

    assert completion.usage.cost_usd is None
    assert completion.usage.cost_text() == "unknown"
    assert completion.usage.estimated
    assert completion.usage.completion_tokens == 101
    assert "~" in completion.usage.summary()


async def test_rate_limited_then_answered(llm_sim: LLMSim, make_model: MakeModel) -> None:
    llm_sim.set_script([{"status": 429, "retry_after_ms": 20}, {"content": "ok"}])

    completion = await make_model().complete(ASK, agent="security")

    assert completion.text == "ok"
    assert [r["step"] for r in llm_sim.requests()] == [0, 1]


async def test_persistent_5xx_is_one_clear_retryable_error(
    llm_sim: LLMSim, make_model: MakeModel
) -> None:
    llm_sim.set_script(
        [{"status": 503, "retry_after_ms": 1, "repeat": True, "error": "overloaded"}]
    )
    model = make_model(max_retries=2)

    with pytest.raises(ModelUnavailable) as caught:
        await model.complete(ASK, agent="security")

    assert isinstance(caught.value, Retryable)
    assert caught.value.status == 503
    assert caught.value.endpoint == llm_sim.base_url
    assert str(caught.value) == (
        f"model endpoint {llm_sim.base_url} answered 503 after 3 tries: overloaded"
    )
    assert len(llm_sim.requests()) == 3


async def test_timeout_is_model_unavailable(llm_sim: LLMSim, make_model: MakeModel) -> None:
    llm_sim.set_script([{"content": "late", "latency_s": 5, "repeat": True}])

    with pytest.raises(ModelUnavailable, match=r"did not answer within 0\.3s"):
        await make_model(timeout_s=0.3, max_retries=0).complete(ASK, agent="security")


async def test_malformed_body_is_model_output_invalid(
    llm_sim: LLMSim, make_model: MakeModel
) -> None:
    llm_sim.set_script([{"malformed": True}])

    with pytest.raises(ModelOutputInvalid, match="body that is not JSON") as caught:
        await make_model().complete(ASK, agent="security")
    assert isinstance(caught.value, Permanent)


async def test_empty_answer_is_model_output_invalid(llm_sim: LLMSim, make_model: MakeModel) -> None:
    llm_sim.set_script([{"empty": True}])

    with pytest.raises(ModelOutputInvalid, match="empty answer"):
        await make_model().complete(ASK, agent="security")


async def test_refused_key_names_the_setting(llm_sim: LLMSim, make_model: MakeModel) -> None:
    llm_sim.set_script([{"status": 401, "error": "invalid api key"}])

    with pytest.raises(ModelRequestRejected, match="AMBIENT_LLM_API_KEY"):
        await make_model().complete(ASK, agent="security")
    assert len(llm_sim.requests()) == 1


async def test_steps_match_on_agent_and_user_text(llm_sim: LLMSim, make_model: MakeModel) -> None:
    llm_sim.set_script(
        [
            {"match": {"agent": "tests"}, "content": "for tests"},
            {"match": {"user": "re:app\\.py$"}, "content": "for app.py"},
        ]
    )
    model = make_model()

    assert (await model.complete(ASK, agent="security")).text == "for app.py"
    assert (await model.complete(ASK, agent="tests")).text == "for tests"
    with pytest.raises(ModelRequestRejected, match="no script step matches"):
        await model.complete(ASK, agent="tests")


async def test_concurrency_is_limited_per_process(llm_sim: LLMSim, make_model: MakeModel) -> None:
    llm_sim.set_script([{"content": "ok", "latency_s": 0.1, "repeat": True}])
    shared = asyncio.Semaphore(2)
    first, second = make_model(limiter=shared), make_model(limiter=shared)

    await asyncio.gather(
        *(model.complete(ASK, agent="perf") for model in (first, second, first, second, first))
    )

    assert llm_sim.max_in_flight() == 2


async def test_budget_stops_the_job_before_the_next_call(
    llm_sim: LLMSim, make_model: MakeModel
) -> None:
    llm_sim.set_script(
        [
            {
                "content": "ok",
                "usage": {"prompt_tokens": 600, "completion_tokens": 100},
                "repeat": True,
            }
        ]
    )
    budget = TokenBudget(1000)
    job = BudgetedModel(make_model(), budget)

    await job.complete(ASK, agent="security")
    await job.complete(ASK, agent="tests")
    with pytest.raises(BudgetExhausted, match="1,400 of 1,000 tokens used in 2 model calls"):
        await job.complete(ASK, agent="security")

    assert len(llm_sim.requests()) == 2
    assert budget.usage.total.calls == 2
    assert dict(budget.usage.by_agent)["tests"].total_tokens == 700
    assert budget.usage.summary().startswith("2 model calls, 1,400 tokens")
    assert budget.usage.summary().endswith("tokens by agent: security 700, tests 700")


async def test_budget_refuses_a_prompt_larger_than_what_is_left(
    llm_sim: LLMSim, make_model: MakeModel
) -> None:
    job = BudgetedModel(make_model(), TokenBudget(50))
    huge = [Message("user", "x" * 1000)]

    with pytest.raises(BudgetExhausted, match="security's next call needs ~251"):
        await job.complete(huge, agent="security")
    assert llm_sim.requests() == []


async def test_call_is_logged_with_usage(
    llm_sim: LLMSim, make_model: MakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    llm_sim.set_script([{"content": "ok", "usage": {"prompt_tokens": 7, "completion_tokens": 3}}])

    with caplog.at_level(logging.INFO, logger="agents.llm"):
        await make_model().complete(ASK, agent="refactor")

    (record,) = [r for r in caplog.records if r.name == "agents.llm"]
    assert record.__dict__["agent"] == "refactor"
    assert record.__dict__["prompt_tokens"] == 7
    assert "10 tokens" in record.getMessage()


async def test_transport_seam_accepts_an_httpx_client() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"choices": [{"message": {"role": "assistant", "content": "hi"}}]}
        return httpx.Response(200, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        model = OpenAIModel(base_url="http://model.invalid/v1", model="m", http_client=client)
        completion = await model.complete(ASK, agent="security")

    assert completion.text == "hi"
    assert completion.usage.estimated
    assert seen[0].url.path == "/v1/chat/completions"
    assert json.loads(seen[0].content)["user"] == "security"


def test_settings_without_endpoint_is_a_config_error() -> None:
    settings = load_settings({"AMBIENT_LLM_MODEL": "gpt-4o"})

    with pytest.raises(ConfigError, match=r"^AMBIENT_LLM_BASE_URL is not set"):
        OpenAIModel.from_settings(settings)


async def test_model_from_settings_talks_to_the_endpoint(llm_sim: LLMSim) -> None:
    llm_sim.set_script([{"content": "ok"}])
    settings = load_settings(
        {
            "AMBIENT_LLM_BASE_URL": llm_sim.base_url,
            "AMBIENT_LLM_MODEL": "kimi-k2-0711-preview",
            "AMBIENT_LLM_API_KEY": "k",
        }
    )
    model = OpenAIModel.from_settings(settings)
    try:
        completion = await model.complete(ASK, agent="security")
    finally:
        await model.aclose()
    assert completion.usage.cost_usd is not None


def test_model_unavailable_survives_pickling() -> None:
    error = ModelUnavailable("down", "http://x/v1", 503)

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert (str(copy), copy.endpoint, copy.status) == ("down", "http://x/v1", 503)


def test_sim_runs_alone_from_the_command_line(tmp_path: Path) -> None:
    script = tmp_path / "steps.yaml"
    script.write_text("- match: {agent: style}\n  content: styled\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sim.llm", "--port", str(port), "--script", str(script)]
    )
    try:
        wait_for_port(port)
        body = {"model": "m", "user": "style", "messages": [{"role": "user", "content": "go"}]}
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body)
        seen = httpx.get(f"http://127.0.0.1:{port}/_sim/requests").json()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert answer.json()["choices"][0]["message"]["content"] == "styled"
    assert seen[0]["agent"] == "style"


@pytest.mark.parametrize("shape", ["lmstudio", "openai"])
async def test_a_server_refusing_response_format_is_asked_again_without_it_and_remembered(
    llm_sim: LLMSim, make_model: MakeModel, shape: Literal["lmstudio", "openai"]
) -> None:
    llm_sim.accept_formats(("json_schema", "text"), shape)
    llm_sim.set_script([{"content": '{"verdict": "approve"}', "repeat": True}])
    model = make_model()
    calls = counter("ambient_llm_calls_total", agent="reviewer", outcome="ok")

    first = await model.complete(ASK, agent="reviewer", json=True)
    second = await model.complete(ASK, agent="reviewer", json=True)

    assert first.text == second.text == '{"verdict": "approve"}'
    sent = [(r["sent_response_format"], r["refused"]) for r in llm_sim.requests()]
    # Refused once, the same request again without the field, and the next call goes without.
    assert sent == [(True, "response_format"), (False, None), (False, None)]
    refused, retried, _ = llm_sim.requests()
    assert retried["messages"] == refused["messages"]
    # Two calls, each answered: the refusal is not a failed call.
    assert counter("ambient_llm_calls_total", agent="reviewer", outcome="ok") == calls + 2


async def test_a_server_refusing_response_format_still_answers_plain_calls(
    llm_sim: LLMSim, make_model: MakeModel
) -> None:
    llm_sim.accept_formats()
    llm_sim.set_script([{"content": "plain"}])

    completion = await make_model().complete(ASK, agent="security")

    assert completion.text == "plain"
    (asked,) = llm_sim.requests()
    assert (asked["sent_response_format"], asked["refused"]) == (False, None)


async def test_another_400_stays_a_rejected_request_and_is_not_retried(
    llm_sim: LLMSim, make_model: MakeModel
) -> None:
    llm_sim.set_script([{"status": 400, "error": "maximum context length exceeded"}])

    with pytest.raises(ModelRequestRejected, match="maximum context length exceeded"):
        await make_model().complete(ASK, agent="security", json=True)

    (asked,) = llm_sim.requests()
    assert asked["sent_response_format"]


def test_the_sim_refuses_json_object_in_lm_studios_words(llm_sim: LLMSim) -> None:
    shaped = httpx.post(
        f"{llm_sim.base_url.removesuffix('/v1')}/_sim/response-formats",
        json={"accept": ["json_schema", "text"], "shape": "lmstudio"},
    )
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "go"}],
        "response_format": {"type": "json_object"},
    }
    refused = httpx.post(f"{llm_sim.base_url}/chat/completions", json=body)

    assert shaped.status_code == 200
    assert refused.status_code == 400
    assert refused.json() == {"error": "'response_format.type' must be 'json_schema' or 'text'"}
