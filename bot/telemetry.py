"""Structured logs (one JSON object per line, with the job's context) and Prometheus metrics."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final

from prometheus_client import Counter, Histogram

from bot.redact import install_redaction, redact

__all__ = [
    "DELIVERIES",
    "ENQUEUE_SECONDS",
    "JOBS",
    "JOB_SECONDS",
    "REDELIVERIES",
    "JsonFormatter",
    "bound",
    "configure_logging",
]

_CONTEXT: contextvars.ContextVar[dict[str, object]] = contextvars.ContextVar(
    "ambient_log_context",
    default={},  # noqa: B039 - never mutated; replaced by bound()
)
_RESERVED: Final = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "color_message",
    "message",
    "asctime",
}

DELIVERIES: Final = Counter(
    "ambient_deliveries_total", "Webhook deliveries by event and outcome", ["event", "outcome"]
)
ENQUEUE_SECONDS: Final = Histogram(
    "ambient_enqueue_seconds",
    "Time to dedupe and durably enqueue one delivery",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
)
JOBS: Final = Counter("ambient_jobs_total", "Jobs run, by function and outcome", ["job", "outcome"])
JOB_SECONDS: Final = Histogram(
    "ambient_job_seconds",
    "Job duration by function and outcome",
    ["job", "outcome"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
REDELIVERIES: Final = Counter(
    "ambient_redeliveries_total",
    "Redeliveries of failed webhook deliveries asked of GitHub, by outcome",
    ["outcome"],
)


_CONTEXT_ATTRIBUTE: Final = "ambient_context"


def _install_context_factory() -> None:
    """Capture the bound context when a record is created: in the task that logged it, not
    later in whichever handler formats it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "ambient_context", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        setattr(record, _CONTEXT_ATTRIBUTE, _CONTEXT.get())
        return record

    factory.ambient_context = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_install_context_factory()


class bound:
    """Attach `fields` (delivery id, job id, repository, …) to every log line in this block.

    A class rather than a generator under `@contextmanager`: the receiver enters one per
    delivery, and this costs it a third as much.
    """

    __slots__ = ("_fields", "_token")

    def __init__(self, **fields: object) -> None:
        self._fields = fields
        self._token: contextvars.Token[dict[str, object]] | None = None

    def __enter__(self) -> None:
        self._token = _CONTEXT.set({**_CONTEXT.get(), **self._fields})

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _CONTEXT.reset(self._token)
            self._token = None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, bound context, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        context = getattr(record, _CONTEXT_ATTRIBUTE, None)
        entry.update(context if isinstance(context, dict) else _CONTEXT.get())
        entry.update(
            {k: v for k, v in record.__dict__.items() if k not in _RESERVED | {_CONTEXT_ATTRIBUTE}}
        )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        # Redacted once more as a whole: bound context and extras are not part of the message.
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Send every logger's records to stderr, as JSON lines unless `json_lines` is False, with
    tokens and keys redacted from every record."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    install_redaction()
