"""Pure event routing: which jobs an event asks for, or why it is ignored.

Each trigger module in `handlers/` has a `route(event, context)` that returns None when the
event is not its kind, and a `Routed` value otherwise. `route_event` applies the loop
protection every trigger shares, then asks the routes in their registry order: the first that
claims the event decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from bot.events.event import Event, get_int, get_str
from bot.events.spec import JobSpec

__all__ = ["Route", "RouteContext", "Routed", "route_event", "spec_for"]

#: Events that concern the App's installation itself, where the sender is whoever installed it.
INSTALLATION_EVENTS: Final = frozenset({"installation", "installation_repositories"})


@dataclass(frozen=True, slots=True)
class RouteContext:
    """What routing needs to know about this App."""

    app_slug: str

    @property
    def bot_login(self) -> str:
        return f"{self.app_slug}[bot]"


@dataclass(frozen=True, slots=True)
class Routed:
    """The jobs an event asks for; with no jobs, `ignored` says why."""

    jobs: tuple[JobSpec, ...] = ()
    ignored: str | None = None

    @classmethod
    def ignore(cls, reason: str) -> Routed:
        return cls(ignored=reason)


Route = Callable[[Event, RouteContext], Routed | None]


def spec_for(event: Event, function: str, job_id: str, **options: str) -> JobSpec:
    """A JobSpec for `event`, carrying its repository and installation for logs and tokens."""
    return JobSpec(
        function=function,
        job_id=job_id,
        event=event.full_name,
        delivery_id=event.delivery_id,
        repository=get_str(event.payload, "repository", "full_name"),
        installation_id=get_int(event.payload, "installation", "id"),
        options=tuple(sorted(options.items())),
    )


def _sent_by_bot(event: Event, context: RouteContext) -> str | None:
    login = get_str(event.payload, "sender", "login") or ""
    if login == context.bot_login:
        return "sent by this app"
    if get_str(event.payload, "sender", "type") == "Bot" or login.endswith("[bot]"):
        return f"sent by a bot ({login})"
    return None


def route_event(event: Event, context: RouteContext, routes: Sequence[Route]) -> Routed:
    """Route one event through `routes` in order, after loop protection."""
    if event.name not in INSTALLATION_EVENTS:
        bot_reason = _sent_by_bot(event, context)
        if bot_reason is not None:
            return Routed.ignore(bot_reason)
    for route in routes:
        routed = route(event, context)
        if routed is not None:
            return routed
    return Routed.ignore(f"no handler for {event.full_name}")
