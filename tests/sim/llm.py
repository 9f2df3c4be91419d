"""A scripted OpenAI-compatible chat server, over real HTTP, with fault injection.

A script is a list of steps. Each request is answered by the first step that still has uses
left and whose `match` fits the request (a step without `match` fits any request, so plain
steps answer in order). A step answers with `content`, or with a fault:

    - match: {user: "substring" | "re:regex", agent: "security", system: "substring"}
      content: "the answer text"        # or
      status: 429                       # with retry_after_ms / retry_after headers
      malformed: true                   # a 200 whose body is not JSON
      empty: true                       # a 200 whose answer is ""
      latency_s: 0.5                    # wait before answering (timeouts, swarm latency)
      usage: {prompt_tokens: 10, completion_tokens: 5}   # else estimated from lengths
      omit_usage: true                  # a server that reports no usage
      finish_reason: stop
      times: 1                          # uses before the step is spent
      repeat: true                      # never spent

The agent of a request is its `user` field, else the `X-Ambient-Agent` header, else the name
after "You are" in its system prompt. Unmatched requests get a 400 naming the problem.

A server can also accept only some `response_format` types, as LM Studio does (`json_schema`
and `text`): a request asking for another type is refused with a 400 before any step is
chosen, in LM Studio's shape (`{"error": "'response_format.type' must be 'json_schema' or
'text'"}`) or OpenAI's (`{"error": {"message": …, "type": "invalid_request_error", "param":
"response_format", "code": null}}`). Every request is recorded with `sent_response_format`
(whether the body had the field at all) and `refused` (why the server refused it, or None).

Endpoints: POST /v1/chat/completions, GET /v1/models, POST /_sim/script (replace the script),
POST /_sim/response-formats (`{"accept": ["json_schema", "text"], "shape": "lmstudio"}`;
`{"accept": null}` takes any), GET /_sim/requests (what was asked), GET /_sim/stats (most
requests in flight at once), POST /_sim/reset (forget requests and the in-flight high-water
mark). Run alone: `python -m tests.sim.llm --port 8001 --script steps.yaml
[--response-formats json_schema,text --error-shape lmstudio]`.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["FormatPolicy", "SimState", "Step", "create_app", "load_script", "parse_steps"]

_STEP_KEYS = frozenset(
    {
        "match", "content", "status", "retry_after_ms", "retry_after", "malformed", "empty",
        "latency_s", "usage", "omit_usage", "finish_reason", "times", "repeat", "error",
    }
)  # fmt: skip
_MATCH_KEYS = frozenset({"user", "agent", "system"})
ErrorShape = Literal["lmstudio", "openai"]
_SHAPES = ("lmstudio", "openai")


@dataclass(frozen=True)
class FormatPolicy:
    """The `response_format` types a server takes, and how it words a refusal."""

    accept: tuple[str, ...] = ("json_schema", "text")
    shape: ErrorShape = "lmstudio"

    def refusal(self, body: dict[str, Any]) -> Response | None:
        """The 400 for `body`, or None when it asks for no format or one the server takes."""
        asked = body.get("response_format")
        kind = asked.get("type") if isinstance(asked, dict) else asked
        if "response_format" not in body or kind in self.accept:
            return None
        message = "'response_format.type' must be " + " or ".join(f"'{t}'" for t in self.accept)
        if self.shape == "lmstudio":
            return JSONResponse({"error": message}, 400)
        error = {
            "message": message,
            "type": "invalid_request_error",
            "param": "response_format",
            "code": None,
        }
        return JSONResponse({"error": error}, 400)


@dataclass
class Step:
    """One scripted answer (see the module docstring)."""

    match: dict[str, str] = field(default_factory=dict)
    content: str | None = None
    status: int = 200
    retry_after_ms: int | None = None
    retry_after: float | None = None
    malformed: bool = False
    empty: bool = False
    latency_s: float = 0.0
    usage: dict[str, int] | None = None
    omit_usage: bool = False
    finish_reason: str = "stop"
    error: str = "scripted fault"
    times: int = 1
    repeat: bool = False

    def fits(self, asked: dict[str, Any]) -> bool:
        return all(
            _text_fits(pattern, str(asked.get(key) or "")) for key, pattern in self.match.items()
        )


def _text_fits(pattern: str, text: str) -> bool:
    if pattern.startswith("re:"):
        return re.search(pattern[3:], text) is not None
    return pattern in text


def parse_steps(raw: object) -> list[Step]:
    """Steps from a decoded script (a list, or `{"steps": [...]}`); ValueError names a bad one."""
    if isinstance(raw, dict) and "steps" in raw:
        raw = raw["steps"]
    if not isinstance(raw, list):
        raise ValueError("a script is a list of steps")
    steps = []
    for number, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise ValueError(f"step {number} is not a mapping")
        unknown = set(item) - _STEP_KEYS
        match = item.get("match") or {}
        if not isinstance(match, dict):
            raise ValueError(f"step {number}: match must be a mapping")
        unknown |= set(match) - _MATCH_KEYS
        if unknown:
            raise ValueError(f"step {number}: unknown keys {sorted(unknown)}")
        steps.append(Step(**{**item, "match": {k: str(v) for k, v in match.items()}}))
    return steps


def load_script(path: Path) -> list[Step]:
    """Steps from a JSON or YAML file."""
    return parse_steps(yaml.safe_load(path.read_text()))


class SimState:
    """The script and the requests seen; shared between the server and a test's thread."""

    def __init__(self, steps: list[Step] | None = None) -> None:
        self._lock = threading.Lock()
        self._steps: list[Step] = steps or []
        self._used: list[int] = [0] * len(self._steps)
        self._requests: list[dict[str, Any]] = []
        self.formats: FormatPolicy | None = None
        self.in_flight = 0
        self.max_in_flight = 0

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def set_script(self, steps: list[Step]) -> None:
        with self._lock:
            self._steps, self._used = steps, [0] * len(steps)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self.max_in_flight = self.in_flight

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._requests)

    def set_formats(self, formats: FormatPolicy | None) -> None:
        """Accept only `formats.accept` as `response_format` types (None: accept any)."""
        with self._lock:
            self.formats = formats

    def refuse(self, asked: dict[str, Any], body: dict[str, Any]) -> Response | None:
        """Record `asked` as refused and return the 400, if the server refuses its format."""
        with self._lock:
            refusal = self.formats.refusal(body) if self.formats else None
            if refusal is not None:
                self._requests.append({**asked, "step": None, "refused": "response_format"})
            return refusal

    def take(self, asked: dict[str, Any]) -> tuple[int | None, Step | None]:
        """Record `asked` and choose its step."""
        with self._lock:
            chosen: int | None = None
            for index, step in enumerate(self._steps):
                if (step.repeat or self._used[index] < step.times) and step.fits(asked):
                    self._used[index] += 1
                    chosen = index
                    break
            self._requests.append({**asked, "step": chosen, "refused": None})
            return chosen, None if chosen is None else self._steps[chosen]


def _agent_of(body: dict[str, Any], request: Request, system: str) -> str:
    if isinstance(body.get("user"), str) and body["user"]:
        return str(body["user"])
    header = request.headers.get("x-ambient-agent")
    if header:
        return header
    found = re.search(r"\bYou are (\w+)", system)
    return found[1] if found else ""


def _asked(body: dict[str, Any], request: Request) -> dict[str, Any]:
    messages = body.get("messages") or []
    texts = {"system": "", "user": ""}
    for message in messages:
        role, content = message.get("role"), message.get("content")
        if role in texts and isinstance(content, str):
            # The last message of each role is what a step matches on.
            texts[role] = content
    return {
        "model": body.get("model"),
        "messages": messages,
        "user": texts["user"],
        "system": texts["system"],
        "agent": _agent_of(body, request, texts["system"]),
        "response_format": body.get("response_format"),
        "sent_response_format": "response_format" in body,
        "temperature": body.get("temperature"),
        "authorization": request.headers.get("authorization", ""),
    }


async def _wait(request: Request, seconds: float) -> None:
    # Wait in slices, and stop early when the client has given up (a timeout test).
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(left, 0.05))
        if await request.is_disconnected():
            return


def _completion(step: Step, asked: dict[str, Any], serial: int) -> dict[str, Any]:
    content = "" if step.empty else (step.content or "")
    usage = step.usage or {
        "prompt_tokens": sum(len(str(m.get("content") or "")) for m in asked["messages"]) // 4 + 1,
        "completion_tokens": len(content) // 4 + 1,
    }
    answer: dict[str, Any] = {
        "id": f"chatcmpl-sim-{serial}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": asked["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": step.finish_reason,
            }
        ],
    }
    if not step.omit_usage:
        answer["usage"] = {**usage, "total_tokens": sum(usage.values())}
    return answer


def _fault(step: Step) -> Response:
    headers = {}
    if step.retry_after_ms is not None:
        headers["retry-after-ms"] = str(step.retry_after_ms)
    if step.retry_after is not None:
        headers["retry-after"] = f"{step.retry_after:g}"
    error = {"error": {"message": step.error, "type": "sim_fault", "code": step.status}}
    return JSONResponse(error, step.status, headers=headers)


async def _answer(state: SimState, request: Request) -> Response:
    body = await request.json()
    asked = _asked(body, request)
    # A server checks the request's options before it looks for an answer.
    refusal = state.refuse(asked, body)
    if refusal is not None:
        return refusal
    index, step = state.take(asked)
    if step is None:
        said = f"agent={asked['agent']!r} user={asked['user'][:60]!r}"
        error = {"message": f"sim: no script step matches {said}", "type": "invalid_request_error"}
        return JSONResponse({"error": error}, 400)
    if step.latency_s:
        await _wait(request, step.latency_s)
    if step.status != 200:
        return _fault(step)
    if step.malformed:
        cut_short = b'{"id": "chatcmpl-sim", "choices": [{"mess'
        return Response(cut_short, 200, media_type="application/json")
    return JSONResponse(_completion(step, asked, index or 0))


def create_app(state: SimState) -> Starlette:
    """The starlette app serving `state`."""

    async def chat(request: Request) -> Response:
        state.enter()
        try:
            return await _answer(state, request)
        finally:
            state.leave()

    async def models(request: Request) -> Response:
        model = {"id": "sim-model", "object": "model", "owned_by": "sim"}
        return JSONResponse({"object": "list", "data": [model]})

    async def script(request: Request) -> Response:
        try:
            steps = parse_steps(await request.json())
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        state.set_script(steps)
        return JSONResponse({"steps": len(steps)})

    async def formats(request: Request) -> Response:
        asked = await request.json()
        accept, shape = asked.get("accept"), asked.get("shape", "lmstudio")
        if (accept is not None and not isinstance(accept, list)) or shape not in _SHAPES:
            return JSONResponse(
                {"error": "accept is a list of types or null; shape lmstudio or openai"}, 400
            )
        state.set_formats(None if accept is None else FormatPolicy(tuple(map(str, accept)), shape))
        return JSONResponse({"accept": accept, "shape": shape})

    async def requests(request: Request) -> Response:
        return JSONResponse(state.requests())

    async def stats(request: Request) -> Response:
        return JSONResponse({"in_flight": state.in_flight, "max_in_flight": state.max_in_flight})

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/_sim/script", script, methods=["POST"]),
            Route("/_sim/response-formats", formats, methods=["POST"]),
            Route("/_sim/requests", requests, methods=["GET"]),
            Route("/_sim/stats", stats, methods=["GET"]),
            Route("/_sim/reset", reset, methods=["POST"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Serve a script until interrupted."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--script", type=Path, help="a JSON or YAML list of steps")
    parser.add_argument(
        "--response-formats", help="the response_format types to accept, e.g. json_schema,text"
    )
    parser.add_argument("--error-shape", choices=_SHAPES, default="lmstudio")
    args = parser.parse_args(argv)
    state = SimState(load_script(args.script) if args.script else [])
    if args.response_formats is not None:
        accept = tuple(t for t in args.response_formats.split(",") if t)
        state.set_formats(FormatPolicy(accept, args.error_shape))
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
