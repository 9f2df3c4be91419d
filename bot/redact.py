"""Redaction of tokens and keys from log lines and error messages.

`redact(text)` replaces GitHub tokens (`ghp_ gho_ ghu_ ghs_ ghr_ github_pat_`), JWTs, private
key blocks, `Authorization` header values, passwords in URLs and a few other unmistakable
vendor tokens with `[REDACTED:<kind>]`. `install_redaction()` makes every log record pass
through it, in two layers:

- a LogRecordFactory redacts each record as it is created, on any logger, whatever handlers
  it has (a filter on a logger would not see records from its children, and a filter on a
  handler misses handlers added later);
- a `RedactingFilter` on the root logger's handlers (and those of loggers that exist by then)
  catches records built without the factory (`logging.makeLogRecord`, records from queues).

A record's message is formatted once (`msg % args`) and replaced by its redacted text; its
exception is formatted into `exc_text`, redacted, and `exc_info` cleared, so that no
formatter can print the exception's own unredacted message.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any, Final

__all__ = [
    "RedactingFilter",
    "install_redaction",
    "redact",
    "uninstall_redaction",
    "without_password",
]

_KEY_BLOCK = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END [A-Z0-9 ]*-----|.*)"
_SCHEME = r"(?:bearer|token|basic|digest|apikey|negotiate|ntlm)"
_TOKENS = (
    r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|\bxox[abposr]-[A-Za-z0-9-]{10,}|\bxapp-[A-Za-z0-9-]{10,}"
    r"|\bglpat-[A-Za-z0-9_-]{20,}|\bnpm_[A-Za-z0-9]{36}\b|\bpypi-AgE[A-Za-z0-9_-]{50,}"
    r"|\bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}|\b[rs]k_live_[A-Za-z0-9]{10,}"
    r"|\bAIza[0-9A-Za-z_-]{35}|\bhf_[A-Za-z]{34}\b"
)


def _keep(*groups: str, marker: str) -> Callable[[re.Match[str]], str]:
    """A replacement that keeps the named groups (separator, scheme, user) before the marker."""
    return lambda m: "".join(m.group(g) or "" for g in groups) + marker


# (pattern, replacement), applied in order: whole key blocks first, then tokens, then headers.
_RULES: Final[tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...]] = (
    (re.compile(_KEY_BLOCK, re.DOTALL), "[REDACTED:private-key]"),
    (
        # No word boundary: a token glued to other text ("xghp_…") must not survive either.
        re.compile(r"(?:gh[pousr]_[A-Za-z0-9_]{20,255}|github_pat_[A-Za-z0-9_]{20,255})"),
        "[REDACTED:github-token]",
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[REDACTED:jwt]"),
    (re.compile(_TOKENS), "[REDACTED:token]"),
    # "Authorization: Bearer x", "authorization=x", "'Authorization': 'token x'".
    (
        re.compile(
            r"(?i)(?P<name>authorization[\"']?\s*[:=]\s*[\"']?)(?P<scheme>" + _SCHEME + r"\s+)?"
            r"[^\s\"',;}]+"
        ),
        _keep("name", "scheme", marker="[REDACTED:authorization]"),
    ),
    # "Authorization Bearer x" (nginx, prose): only with a scheme, so plain words survive.
    (
        re.compile(
            r"(?i)(?P<name>authorization[\"']?\s+[\"']?)(?P<scheme>" + _SCHEME + r"\s+)"
            r"[^\s\"',;}]+"
        ),
        _keep("name", "scheme", marker="[REDACTED:authorization]"),
    ),
    (
        re.compile(r"(?P<user>://[^/\s:@]*):[^/\s@]+(?=@)"),
        _keep("user", marker=":[REDACTED:password]"),
    ),
)


def redact(text: str) -> str:
    """`text` with every token, key and credential it recognises replaced by a marker.

    Idempotent: redacting a redacted text changes nothing.
    """
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a record in place (message, arguments, exception, stack, string extras)."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError, KeyError):
        # A broken format string: keep its parts, redacted, rather than lose the line.
        message = f"{record.msg} {record.args!r}"
    record.msg = redact(message)
    record.args = None
    if record.exc_info:
        text = record.exc_text or "".join(traceback.format_exception(*record.exc_info))
        record.exc_text = redact(text.rstrip("\n"))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    for key, value in list(vars(record).items()):
        if key not in _STANDARD and isinstance(value, str):
            setattr(record, key, redact(value))
    return record


class RedactingFilter(logging.Filter):
    """A handler filter that redacts each record it sees and never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}
_FILTER = RedactingFilter()
_state: dict[str, Any] = {"factory": None}


def install_redaction() -> None:
    """Make every log record redacted from now on; safe to call more than once.

    Call it after logging is configured: the handler layer reaches the handlers that exist
    then (the factory layer covers every record created afterwards regardless).
    """
    if _state["factory"] is None:
        previous = logging.getLogRecordFactory()
        _state["factory"] = previous
        logging.setLogRecordFactory(_redacting_factory(previous))
    for handler in _all_handlers():
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def uninstall_redaction() -> None:
    """Undo `install_redaction` (tests use it to leave logging as they found it)."""
    previous = _state["factory"]
    if previous is not None:
        logging.setLogRecordFactory(previous)
        _state["factory"] = None
    for handler in _all_handlers():
        handler.removeFilter(_FILTER)


def _redacting_factory(
    previous: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    return factory


def _all_handlers() -> list[logging.Handler]:
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    return [handler for logger in loggers for handler in logger.handlers]


def without_password(url: str) -> str:
    """`url` with the password of its user info removed (`redis://:pw@h/0` → `redis://h/0`)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    netloc, slash, path = rest.partition("/")
    userinfo, _, host = netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user + '@' if user else ''}{host}{slash}{path}"
