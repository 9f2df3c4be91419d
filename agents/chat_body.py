"""Reading a chat completion body strictly: the answer's text, finish reason and usage."""

from __future__ import annotations

import json

from bot.errors import Permanent

__all__ = ["ModelOutputInvalid", "first_line", "parse_chat_body"]


class ModelOutputInvalid(Permanent):
    """The endpoint answered, but not with a usable chat completion (malformed or empty)."""


def parse_chat_body(body: str, endpoint: str) -> tuple[str, str | None, tuple[int, int] | None]:
    """Text, finish reason and reported (prompt, completion) tokens of a chat completion body.

    Raises `ModelOutputInvalid` saying what is wrong when the body is not a chat completion
    with a non-empty answer.
    """
    where = f"model endpoint {endpoint}"
    try:
        data = json.loads(body)
    except ValueError:
        raise ModelOutputInvalid(
            f"{where} answered with a body that is not JSON: {first_line(body)[:80]!r}"
        ) from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ModelOutputInvalid(f"{where} answered JSON without choices: {body[:80]!r}")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    finish = choices[0].get("finish_reason")
    finish_reason = finish if isinstance(finish, str) else None
    if not isinstance(content, str) or not content.strip():
        raise ModelOutputInvalid(f"{where} returned an empty answer (finish_reason={finish})")
    return content, finish_reason, _reported_usage(data.get("usage"))


def _reported_usage(usage: object) -> tuple[int, int] | None:
    if not isinstance(usage, dict):
        return None
    prompt, produced = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(produced, int):
        return prompt, produced
    return None


def first_line(text: str) -> str:
    """The first non-blank line of `text`, or "(empty)"."""
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else "(empty)"
