"""Jobs as values: what a job must do, derived from one event, and arq's encoding of a job.

Both are shared by the receiver (which writes jobs), the worker (which reads them) and the
job admin (which lists and retries them), so they sit below all three.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import orjson

from bot.redact import redact

__all__ = ["JobSpec", "deserialize", "serialize"]


def serialize(data: dict[str, object]) -> bytes:
    """arq job encoding: JSON, so nothing in Redis can make a worker unpickle code.

    An exception arq records as a job's result (a timeout, an abort, too many tries) is kept as
    `{"error": type name, "message": …}`, redacted, so `ambient jobs` can say why.
    """
    return orjson.dumps(data, default=_exception_as_json)


def _exception_as_json(value: object) -> dict[str, str]:
    if isinstance(value, BaseException):
        return {"error": type(value).__name__, "message": redact(str(value))[:1000]}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def deserialize(raw: bytes) -> dict[str, object]:
    """Inverse of `serialize`."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as refused:
        # The receiver checks a webhook body against JSON's grammar, which allows a number too
        # large for a double (GitHub sends none). orjson refuses one; the standard library reads
        # it as infinity, so such a job still runs.
        try:
            data = json.loads(raw)
        except ValueError:
            raise refused from None
    if not isinstance(data, dict):
        raise TypeError("job data is not a JSON object")
    return data


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a job must do, derived from one event. The id makes redeliveries no-ops."""

    function: str
    job_id: str
    event: str
    delivery_id: str
    repository: str | None = None
    installation_id: int | None = None
    options: tuple[tuple[str, str], ...] = field(default=())

    def to_json(self) -> str:
        fields = {name: getattr(self, name) for name in self.__slots__}
        return orjson.dumps(fields).decode()

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        """Decode `to_json`'s text; fields a newer release added are ignored, so a worker not
        yet upgraded still runs (and reports) a job a newer receiver queued."""
        data = orjson.loads(text)
        known = {name: data[name] for name in cls.__slots__ if name in data}
        known["options"] = tuple(tuple(pair) for pair in data.get("options", ()))
        return cls(**known)

    def option(self, key: str, default: str = "") -> str:
        return dict(self.options).get(key, default)
