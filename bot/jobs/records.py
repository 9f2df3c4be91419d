"""Jobs as the operator sees them: one `JobRecord` per arq job, decoded without I/O.

A job is `queued` (in arq's queue, maybe due later), `running` (a worker holds its
in-progress key), `failed` or `done` (arq kept its result). `failed` covers both ways a job
can fail: it raised, so arq stored `success = False`, or the per-job wrapper (bot/events/job.py)
returned `{"status": "failed" | "crashed", "error": …}` for a permanent failure, which arq
stores as a success. A job that finished and reported that it could not help (a check run
"failure", "ignored", "refused") is `done`, its `outcome` says which.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Final, Literal, get_args

import orjson
from arq.jobs import JobDef
from arq.jobs import JobResult as ArqResult

from bot.events import MAX_TRIES, JobSpec
from bot.redact import redact

__all__ = [
    "STATES",
    "JobRecord",
    "RetryStep",
    "State",
    "attempt_of",
    "finished_record",
    "link_retries",
    "plan_retries",
    "queued_record",
]

State = Literal["queued", "running", "failed", "done"]
STATES: Final[tuple[State, ...]] = get_args(State)

#: Result statuses the job wrapper returns for a failure it caught (bot/events/job.py).
FAILED_STATUSES: Final = frozenset({"failed", "crashed"})
#: What arq stores instead of a result its serializer cannot encode: our JSON serializer cannot
#: encode an exception, so every raised error (timeout, abort, arq's own) arrives as this.
UNENCODABLE: Final = "unable to serialize result"
#: Function names under which no job can be re-run: arq's for a lost definition, ours for one
#: that does not decode.
UNKNOWN_FUNCTIONS: Final = frozenset({"<unknown>", "?"})
MAX_REASON_CHARS: Final = 300

_RETRY_SUFFIX: Final = re.compile(r"^(?P<base>.+):retry(?P<n>[1-9][0-9]*)$")


@dataclass(frozen=True, slots=True)
class JobRecord:
    """Everything known about one job; `to_json` is the export format (docs/jobs.md)."""

    id: str
    function: str
    state: State
    tries: int = 0
    enqueued_at: datetime | None = None
    due_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: str | None = None
    reason: str | None = None
    delivery_id: str | None = None
    event: str | None = None
    repository: str | None = None
    installation_id: int | None = None
    body_bytes: int | None = None
    result: object = None
    retried_as: str | None = None
    # The raw call stays out of exports and comparisons: it holds the whole webhook body.
    args: tuple[object, ...] = field(default=(), repr=False, compare=False)
    kwargs: Mapping[str, object] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, object]:
        """The record as a JSON object with the documented field names, times in UTC ISO 8601."""
        out: dict[str, object] = {}
        for item in fields(self):
            if item.name in ("args", "kwargs"):
                continue
            value = getattr(self, item.name)
            out[item.name] = _iso(value) if isinstance(value, datetime) else value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> JobRecord:
        """Inverse of `to_json` (the raw call is not exported, so it comes back empty)."""
        known = {item.name for item in fields(cls)} - {"args", "kwargs"}
        values: dict[str, object] = {k: v for k, v in data.items() if k in known}
        for name in ("enqueued_at", "due_at", "started_at", "finished_at"):
            text = values.get(name)
            values[name] = datetime.fromisoformat(text) if isinstance(text, str) else None
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class RetryStep:
    """What `retry-failed` does with one failed job: enqueue it as `new_id`, or skip (`why`)."""

    job: JobRecord
    new_id: str | None
    why: str = ""


def queued_record(
    job_id: str, job: JobDef, *, running: bool, tries: int, score: float | None
) -> JobRecord:
    """A job still in arq's queue; `tries` is arq's retry counter (tries started so far)."""
    due = _utc_ms(score) if score is not None and not running else None
    record = JobRecord(
        id=job_id,
        function=job.function,
        state="running" if running else "queued",
        tries=max(tries, job.job_try or 0),
        enqueued_at=_utc(job.enqueue_time),
        due_at=due,
    )
    return _with_call(record, job.args, job.kwargs)


def finished_record(job_id: str, result: ArqResult) -> JobRecord:
    """A job arq kept the result of: `failed` or `done`, with the one-line reason of a failure."""
    outcome, reason = _outcome(result.success, result.result, result.job_try)
    record = JobRecord(
        id=job_id,
        function=result.function,
        state="failed" if reason is not None else "done",
        tries=result.job_try,
        enqueued_at=_utc(result.enqueue_time),
        started_at=_utc(result.start_time),
        finished_at=_utc(result.finish_time),
        outcome=outcome,
        reason=reason,
        result=_redacted(result.result) if result.success else None,
    )
    return _with_call(record, result.args, result.kwargs)


def attempt_of(job_id: str) -> tuple[str, int]:
    """`(original id, attempt)`: `ci:1:abc:retry2` is attempt 2 of `ci:1:abc`, which is 0."""
    match = _RETRY_SUFFIX.match(job_id)
    if match is None:
        return job_id, 0
    return match["base"], int(match["n"])


def link_retries(records: Iterable[JobRecord]) -> list[JobRecord]:
    """The records, each earlier attempt naming the latest attempt of the same job."""
    items = list(records)
    latest = _latest_attempts(items)
    linked = []
    for record in items:
        last = latest[attempt_of(record.id)[0]]
        linked.append(replace(record, retried_as=None if last is record else last.id))
    return linked


def plan_retries(records: Sequence[JobRecord], function: str | None = None) -> list[RetryStep]:
    """One step per failed job (of `function`, if given): retry its latest attempt, skip others.

    The new id is the next attempt of the original id, so planning again while that attempt
    is queued or running finds it and enqueues nothing.
    """
    latest = _latest_attempts(records)
    steps = []
    for record in records:
        if record.state != "failed" or (function is not None and record.function != function):
            continue
        base, attempt = attempt_of(record.id)
        last = latest[base]
        if last is not record:
            steps.append(RetryStep(record, None, f"retried as {last.id} ({last.state})"))
        elif record.function in UNKNOWN_FUNCTIONS:
            steps.append(RetryStep(record, None, "its definition was lost, nothing to re-run"))
        else:
            steps.append(RetryStep(record, f"{base}:retry{attempt + 1}"))
    return steps


def _latest_attempts(records: Iterable[JobRecord]) -> dict[str, JobRecord]:
    latest: dict[str, JobRecord] = {}
    for record in records:
        base, attempt = attempt_of(record.id)
        known = latest.get(base)
        if known is None or attempt_of(known.id)[1] < attempt:
            latest[base] = record
    return latest


def _outcome(success: bool, result: object, tries: int) -> tuple[str, str | None]:
    """(outcome, reason): the reason is set exactly when the job failed."""
    if not success:
        return "error", _one_line(_raised(result, tries))
    if isinstance(result, dict):
        status = str(result.get("status", "done"))
        if status in FAILED_STATUSES:
            return status, _one_line(str(result.get("error") or status))
        return status, None
    return "done", None


def _raised(result: object, tries: int) -> str:
    if isinstance(result, dict) and "error" in result:
        # An exception as bot/ingress/enqueue.py's serializer records it.
        message = str(result.get("message") or "").strip()
        return f"{result['error']}: {message}" if message else str(result["error"])
    if result != UNENCODABLE:
        return str(result)
    if tries > MAX_TRIES:
        # arq counts the try it refuses to run: tries - 1 ran, each ended without a result.
        return f"arq gave up after {tries - 1} tries (max {MAX_TRIES}): each try was interrupted"
    return (
        "the job raised an error its result could not record (a timeout, an abort, or a failure "
        "outside the job wrapper); the worker's log has it under this job id"
    )


def _one_line(text: str) -> str:
    lines = [line.strip() for line in redact(text).splitlines() if line.strip()]
    line = lines[0] if lines else "(no message)"
    return line if len(line) <= MAX_REASON_CHARS else line[: MAX_REASON_CHARS - 1] + "…"


def _with_call(
    record: JobRecord, args: Sequence[object], kwargs: Mapping[str, object]
) -> JobRecord:
    """`record` with its call, summarized when it is an Ambient job's `(spec_json, body)`.

    The receiver queues the body as the JSON object it is; the cron queues it as JSON text.
    """
    record = replace(record, args=tuple(args), kwargs=dict(kwargs))
    if len(args) != 2 or not isinstance(args[0], str):
        return record
    try:
        spec = JobSpec.from_json(args[0])
    except (orjson.JSONDecodeError, TypeError):
        return record
    body = args[1]
    return replace(
        record,
        delivery_id=spec.delivery_id,
        event=spec.event,
        repository=spec.repository,
        installation_id=spec.installation_id,
        body_bytes=len(body.encode() if isinstance(body, str) else orjson.dumps(body)),
    )


def _redacted(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


def _utc(moment: datetime) -> datetime:
    # arq renders times in the zone named by ARQ_TIMEZONE/TIMEZONE when set; we speak UTC.
    return moment.astimezone(UTC)


def _utc_ms(ms: float) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
