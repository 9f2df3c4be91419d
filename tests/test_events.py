"""Signature checks over raw bytes and turning requests into Event values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import SignatureInvalid, WebhookMalformed
from bot.events.event import (
    get_bool,
    get_int,
    get_obj,
    get_str,
    parse_event,
    sign,
    verify_signature,
)

VECTORS = Path(__file__).parent / "data" / "webhooks" / "signature-vectors"


def _vectors() -> list[dict[str, object]]:
    data = json.loads((VECTORS / "x-hub-signature-256.vectors.json").read_text())
    vectors: list[dict[str, object]] = data["vectors"]
    return vectors


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: str(v["source"])[:50])
def test_signature_vectors_behave_as_labelled(vector: dict[str, object]) -> None:
    body = str(vector["payload"]).encode("utf-8")
    if vector["valid"]:
        verify_signature([str(vector["secret"])], body, str(vector["header"]))
    else:
        with pytest.raises(SignatureInvalid):
            verify_signature([str(vector["secret"])], body, str(vector["header"]))


def test_verification_uses_the_raw_bytes_not_the_parsed_document() -> None:
    body = b'{\n  "foo": "bar"\n}\n'
    header = sign("s", body)
    reserialised = json.dumps(json.loads(body)).encode()
    verify_signature(["s"], body, header)
    with pytest.raises(SignatureInvalid, match="mismatch"):
        verify_signature(["s"], reserialised, header)


def test_any_configured_secret_verifies_during_rotation() -> None:
    body = b"{}"
    verify_signature(["old", "new"], body, sign("new", body))
    verify_signature(["old", "new"], body, sign("old", body))
    with pytest.raises(SignatureInvalid):
        verify_signature(["old", "new"], body, sign("other", body))


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sha1=" + "0" * 40, "sha256="),
        ("sha256=abc", "sha256="),
        ("sha256=" + "0" * 64 + "00", "sha256="),
    ],
)
def test_missing_malformed_and_sha1_headers_are_refused(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureInvalid, match=reason):
        verify_signature(["s"], b"{}", header)


def test_no_secret_never_means_no_verification() -> None:
    with pytest.raises(SignatureInvalid, match="AMBIENT_WEBHOOK_SECRET"):
        verify_signature([], b"{}", sign("", b"{}"))


def _headers(**extra: str) -> dict[str, str]:
    return {"x-github-event": "issues", "x-github-delivery": "d-1", **extra}


def test_parse_event_reads_json_and_the_action() -> None:
    event = parse_event(_headers(), b'{"action": "edited", "issue": {"number": 3}}')
    assert event.full_name == "issues.edited"
    assert event.delivery_id == "d-1"
    assert get_int(event.payload, "issue", "number") == 3


def test_parse_event_reads_githubs_form_encoding() -> None:
    body = b"payload=%7B%22action%22%3A%22opened%22%7D"
    event = parse_event(_headers(**{"content-type": "application/x-www-form-urlencoded"}), body)
    assert event.action == "opened"
    assert event.body == b'{"action":"opened"}'


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        (_headers(), b"not json", "not JSON"),
        (_headers(), b"[1, 2]", "not an object"),
        (_headers(), b'{"a": "\xff"}', "UTF-8"),
        ({"x-github-delivery": "d"}, b"{}", "X-GitHub-Event"),
        ({"x-github-event": "push"}, b"{}", "X-GitHub-Delivery"),
        (_headers(**{"content-type": "application/x-www-form-urlencoded"}), b"x=1", "payload"),
        (_headers(**{"content-type": "application/x-www-form-urlencoded"}), b"%%%", "decoded"),
    ],
)
def test_parse_event_names_what_is_malformed(
    headers: dict[str, str], body: bytes, reason: str
) -> None:
    with pytest.raises(WebhookMalformed, match=reason):
        parse_event(headers, body)


def test_getters_return_none_for_missing_or_mistyped_values() -> None:
    doc: dict[str, object] = {"a": {"b": 1, "c": "x", "d": True, "e": {"f": 2}}}
    assert get_int(doc, "a", "b") == 1
    assert get_int(doc, "a", "d") is None
    assert get_str(doc, "a", "c") == "x"
    assert get_str(doc, "a", "b") is None
    assert get_bool(doc, "a", "d") is True
    assert get_obj(doc, "a", "e") == {"f": 2}
    assert get_obj(doc, "a", "c") is None
    assert get_str(doc, "missing", "x") is None
