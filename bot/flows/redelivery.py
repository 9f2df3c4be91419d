"""Which failed webhook deliveries to ask GitHub for again. Pure: values in, a plan out.

GitHub never redelivers on its own and keeps its delivery log for three days. Every attempt
is one item of the log (newest first, by id); a redelivery is a new item with the same guid.
For each guid in the window a run looks at, the rules are:

- any 2xx attempt: done (the receiver answers 2xx to a guid it has seen, too);
- its first attempt is older than the three days: given up (GitHub no longer has the event);
- never asked for: ask now, for its newest attempt;
- asked for, and an attempt newer than the one we asked about exists and failed: the
  redelivery happened and the receiver is still down, so ask again (once per run at most);
- asked for, no newer attempt, and asked less than `LOST_AFTER_S` ago: the redelivery is
  still pending (GitHub sends it asynchronously) and is not asked twice; after that long it
  is taken as lost and asked again. A request GitHub refused counts as asked, so it waits
  `LOST_AFTER_S` too instead of being refused every run.

What was asked is kept per guid (`Asked`, three days in Redis). The checkpoint is a floor:
every guid whose attempts all lie before it is settled (done or given up). The floor is the
oldest attempt of any guid still unsettled, or the newest attempt examined when none is;
the next run reads pages until it passes the floor less `OVERLAP_S` (an attempt is logged
when it ends, so ids and times can be slightly out of order), never past three days. With a
healthy receiver that is a page or two; while failures are unsettled, the pages back to the
oldest of them. A redelivery is always newer than what it repeats, so each guid in the window
has all its later attempts in the window as well.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from bot.github import Delivery

__all__ = [
    "LOST_AFTER_S",
    "MAX_ASKS",
    "OVERLAP_S",
    "RETENTION_S",
    "Ask",
    "Asked",
    "Checkpoint",
    "Plan",
    "delivered_at",
    "horizon",
    "keep_paging",
    "plan",
    "unsettled",
]

#: GitHub keeps deliveries, and lets them be redelivered, for three days.
RETENTION_S: Final = 3 * 24 * 3600
#: How far before the floor a run still reads: attempts are logged when they end.
OVERLAP_S: Final = 600
#: A redelivery asked for that has not shown up after this long is asked for again.
LOST_AFTER_S: Final = 3600
#: Requests per run; the rest wait for the next run (GitHub's API limits are per hour).
MAX_ASKS: Final = 300


@dataclass(frozen=True, slots=True)
class Asked:
    """What a run asked GitHub for one guid: which attempt, when, and the guid's first attempt."""

    delivery_id: int
    at: float
    first: float

    def to_json(self) -> str:
        return json.dumps({"delivery_id": self.delivery_id, "at": self.at, "first": self.first})

    @classmethod
    def from_json(cls, text: str | bytes) -> Asked:
        data = json.loads(text)
        return cls(int(data["delivery_id"]), float(data["at"]), float(data["first"]))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Every guid whose attempts all lie before `floor` (Unix time) is settled."""

    floor: float

    def to_json(self) -> str:
        return json.dumps({"floor": self.floor})

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        return cls(float(json.loads(text)["floor"]))


@dataclass(frozen=True, slots=True)
class Ask:
    """One redelivery to request, and the record to keep once GitHub accepted it."""

    guid: str
    delivery_id: int
    record: Asked


@dataclass(frozen=True, slots=True)
class Plan:
    """A run's decisions: what to ask for, and the checkpoint to keep when all went well."""

    asks: tuple[Ask, ...]
    checkpoint: Checkpoint | None
    examined: int
    pending: int
    expired: int
    deferred: int


def delivered_at(delivery: Delivery) -> float:
    """The attempt's time as Unix seconds (GitHub writes `2019-06-03T00:57:16Z`)."""
    return datetime.fromisoformat(delivery.delivered_at).timestamp()


def _ok(delivery: Delivery) -> bool:
    return 200 <= delivery.status_code < 300


def horizon(checkpoint: Checkpoint | None, now: float) -> float:
    """The oldest attempt time a run needs to read."""
    oldest = now - RETENTION_S
    return oldest if checkpoint is None else max(oldest, checkpoint.floor - OVERLAP_S)


def keep_paging(page: Sequence[Delivery], cursor: str | None, since: float) -> bool:
    """Whether to read the page after `page`: there is one, and `page` did not pass `since`."""
    return cursor is not None and bool(page) and delivered_at(page[-1]) >= since


def unsettled(deliveries: Iterable[Delivery]) -> list[str]:
    """The guids with no 2xx attempt among `deliveries`, whose `Asked` records a plan needs."""
    done = {d.guid for d in deliveries if _ok(d)}
    return sorted({d.guid for d in deliveries if d.guid not in done})


Settled = Literal["done", "expired", "pending"]


def _decide(attempts: list[Delivery], record: Asked | None, now: float) -> Ask | Settled:
    """An `Ask`, or why not."""
    if any(_ok(d) for d in attempts):
        return "done"
    first = min(delivered_at(d) for d in attempts)
    if record is not None:
        first = min(first, record.first)
    if first < now - RETENTION_S:
        return "expired"
    newest = max(attempts, key=lambda d: d.id)
    if record is None or newest.id > record.delivery_id or now - record.at >= LOST_AFTER_S:
        return Ask(newest.guid, newest.id, Asked(newest.id, now, first))
    return "pending"


def plan(
    deliveries: Iterable[Delivery],
    asked: Mapping[str, Asked],
    checkpoint: Checkpoint | None,
    now: float,
    max_asks: int = MAX_ASKS,
) -> Plan:
    """Decide one run from the listed attempts, the `Asked` records by guid, and the checkpoint.

    Guids never asked for go first, oldest first; past `max_asks` the rest are deferred to the
    next run (and keep the floor where they are).
    """
    since = horizon(checkpoint, now)
    window = {d.id: d for d in deliveries if delivered_at(d) >= since}
    by_guid: dict[str, list[Delivery]] = {}
    for delivery in window.values():
        by_guid.setdefault(delivery.guid, []).append(delivery)
    asks: list[Ask] = []
    counts: dict[Settled, int] = {"pending": 0, "expired": 0, "done": 0}
    floor = max((delivered_at(d) for d in window.values()), default=math.inf)
    for guid, attempts in by_guid.items():
        decision = _decide(attempts, asked.get(guid), now)
        if isinstance(decision, Ask):
            asks.append(decision)
        else:
            counts[decision] += 1
        if isinstance(decision, Ask) or decision == "pending":
            floor = min(floor, *(delivered_at(d) for d in attempts))
    asks.sort(key=lambda a: (a.guid in asked, a.record.first, a.delivery_id))
    return Plan(
        asks=tuple(asks[:max_asks]),
        checkpoint=Checkpoint(floor) if window else checkpoint,
        examined=len(window),
        pending=counts["pending"],
        expired=counts["expired"],
        deferred=max(0, len(asks) - max_asks),
    )
