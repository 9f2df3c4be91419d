"""Sans-I/O webhook core: signature check and turning a request into an `Event` value.

Nothing here touches the network or Redis, so every rule is tested directly.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypedDict
from urllib.parse import parse_qs

import msgspec
import orjson
from githubkit.webhooks import verify

from bot.errors import SignatureInvalid, WebhookMalformed

__all__ = [
    "Event",
    "JSONObject",
    "RoutingFields",
    "get_bool",
    "get_int",
    "get_obj",
    "get_str",
    "parse_event",
    "sign",
    "verify_signature",
]

JSONObject = dict[str, object]

# Only sha256: GitHub still sends X-Hub-Signature (sha1) for legacy receivers, and githubkit's
# verify() would accept a "sha1=" header, so the prefix is checked here first.
SIGNATURE_PREFIX: Final = "sha256="
SIGNATURE_LENGTH: Final = len(SIGNATURE_PREFIX) + 64
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"


def verify_signature(secrets: Sequence[str], body: bytes, header: str | None) -> None:
    """Check X-Hub-Signature-256 over the raw body against any configured secret.

    Raises `SignatureInvalid` with the reason; never parses the body.
    """
    if not secrets:
        raise SignatureInvalid("no webhook secret configured: set AMBIENT_WEBHOOK_SECRET")
    if not header:
        raise SignatureInvalid("X-Hub-Signature-256 header is missing")
    if not header.startswith(SIGNATURE_PREFIX) or len(header) != SIGNATURE_LENGTH:
        raise SignatureInvalid("X-Hub-Signature-256 is not of the form sha256=<64 hex digits>")
    # Every secret is tried so the time taken does not reveal which one, if any, matched.
    matched = False
    for secret in secrets:
        matched |= verify(secret, body, header)
    if not matched:
        raise SignatureInvalid(
            "webhook signature mismatch: check AMBIENT_WEBHOOK_SECRET against the App settings"
        )


def sign(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value GitHub would send for `body`."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, "sha256").hexdigest()


class _Account(TypedDict, total=False):
    login: Any
    type: Any


class _Repository(TypedDict, total=False):
    id: Any
    full_name: Any
    default_branch: Any


class _Installation(TypedDict, total=False):
    id: Any


class _Commit(TypedDict, total=False):
    message: Any


class _Run(TypedDict, total=False):
    conclusion: Any
    head_sha: Any
    head_branch: Any
    head_commit: _Commit | None


class _Comment(TypedDict, total=False):
    id: Any
    body: Any


class _Issue(TypedDict, total=False):
    number: Any
    title: Any
    body: Any
    user: _Account | None
    pull_request: Any


class _Label(TypedDict, total=False):
    name: Any


class _Review(TypedDict, total=False):
    id: Any
    state: Any
    body: Any


class _PullHead(TypedDict, total=False):
    sha: Any
    ref: Any


class _Pull(TypedDict, total=False):
    number: Any
    user: _Account | None
    closed_at: Any
    updated_at: Any
    head: _PullHead | None


class RoutingFields(TypedDict, total=False):
    """The fields of a payload the routes in handlers/ read, and only those.

    The receiver decodes just these: msgspec skips the rest while still checking it is JSON,
    in a third of the time a whole parse takes (bench/ingress.py), and the worker reads the whole
    payload again anyway. A route that read a field missing here would see None: the routing
    tests route every payload of the webhook corpus both ways and fail on any difference.
    """

    action: Any
    ref: Any
    after: Any
    deleted: Any
    sender: _Account | None
    repository: _Repository | None
    installation: _Installation | None
    check_suite: _Run | None
    workflow_run: _Run | None
    comment: _Comment | None
    issue: _Issue | None
    # handlers/outcomes.py: whose pull request closed, and which pushed commits revert one.
    pull_request: _Pull | None
    commits: list[_Commit] | None
    assignee: _Account | None
    label: _Label | None
    review: _Review | None


_ROUTING_FIELDS: Final = msgspec.json.Decoder(RoutingFields)


@dataclass(frozen=True, slots=True)
class Event:
    """One verified webhook delivery. `body` is the JSON document, UTF-8, known to parse;
    `payload` holds what routing needs of it (`RoutingFields`), or all of it."""

    name: str
    action: str | None
    delivery_id: str
    payload: Mapping[str, object]
    body: bytes

    @property
    def full_name(self) -> str:
        """The event and its action, Probot style: "issue_comment.created"."""
        return f"{self.name}.{self.action}" if self.action else self.name


def _json_body(body: bytes, content_type: str) -> bytes:
    if content_type.split(";")[0].strip().lower() == FORM_CONTENT_TYPE:
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise WebhookMalformed("form-encoded body cannot be decoded") from None
        values = form.get("payload")
        if not values or len(values) != 1:
            raise WebhookMalformed("form-encoded body has no single `payload` field")
        return values[0].encode("utf-8")
    return body


def parse_event(headers: Mapping[str, str], body: bytes) -> Event:
    """Build an `Event` from the delivery headers and raw body (JSON or form-encoded).

    Call only after `verify_signature`. Raises `WebhookMalformed` naming what was wrong.
    """
    name = headers.get("x-github-event", "").strip()
    delivery_id = headers.get("x-github-delivery", "").strip()
    if not name:
        raise WebhookMalformed("X-GitHub-Event header is missing")
    if not delivery_id or len(delivery_id) > 100:
        raise WebhookMalformed("X-GitHub-Delivery header is missing or too long")
    document = _json_body(body, headers.get("content-type", "application/json"))
    try:
        text = document.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookMalformed(f"body is not UTF-8 (byte {exc.start}: {exc.reason})") from None
    payload: Mapping[str, object]
    try:
        payload = _ROUTING_FIELDS.decode(text)
    except msgspec.ValidationError:
        # A field the routes read has a type GitHub never sends: read it all, and let the
        # routes' getters see a value of the wrong type, as they are written to.
        payload = _parse_whole(document)
    except msgspec.DecodeError as exc:
        raise WebhookMalformed(f"body is not JSON ({exc})") from None
    except RecursionError:
        # GitHub's payloads nest a dozen levels; the parsers give up near a thousand.
        raise WebhookMalformed("body nests JSON deeper than any GitHub payload") from None
    action = payload.get("action")
    return Event(
        name=name,
        action=action if isinstance(action, str) else None,
        delivery_id=delivery_id,
        payload=payload,
        body=document,
    )


def _parse_whole(document: bytes) -> JSONObject:
    try:
        payload = orjson.loads(document)
    except orjson.JSONDecodeError as exc:
        raise WebhookMalformed(f"body is not JSON ({exc})") from None
    except RecursionError:
        raise WebhookMalformed("body nests JSON deeper than any GitHub payload") from None
    if not isinstance(payload, dict):
        raise WebhookMalformed("body is JSON but not an object")
    return payload


def get_obj(obj: object, *path: str) -> JSONObject | None:
    """The JSON object at `path` under `obj`, or None if any step is missing or not an object."""
    current = obj
    for key in path:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current if isinstance(current, dict) else None


def _leaf(obj: object, path: tuple[str, ...]) -> object:
    # One walk, no intermediate call: the receiver reads a dozen leaves of every delivery.
    current = obj
    for key in path:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def get_str(obj: object, *path: str) -> str | None:
    """The string at `path`, or None."""
    value = _leaf(obj, path)
    return value if isinstance(value, str) else None


def get_int(obj: object, *path: str) -> int | None:
    """The integer at `path` (booleans excluded), or None."""
    value = _leaf(obj, path)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def get_bool(obj: object, *path: str) -> bool | None:
    """The boolean at `path`, or None."""
    value = _leaf(obj, path)
    return value if isinstance(value, bool) else None
