"""Redaction of tokens and keys from text and from every log record."""

from __future__ import annotations

import io
import logging
import random
import string
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.redact import RedactingFilter, install_redaction, redact, uninstall_redaction

_ALNUM = string.ascii_letters + string.digits


def token(prefix: str, length: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return prefix + "".join(rng.choice(_ALNUM) for _ in range(length))


GITHUB = [token(p, 36, i) for i, p in enumerate(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"])]
FINE_GRAINED = token("github_pat_", 22, 9) + "_" + token("", 59, 10)
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + token("", 43, 11)


@pytest.mark.parametrize("secret", [*GITHUB, FINE_GRAINED, JWT])
def test_tokens_are_replaced(secret: str) -> None:
    text = f"clone failed for {secret}: 401"
    out = redact(text)
    assert secret not in out
    assert out.startswith("clone failed for [REDACTED:")
    assert out.endswith(": 401")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-123", "Authorization: Bearer [REDACTED:authorization]"),
        (
            "http.extraHeader=AUTHORIZATION: basic eC1hY2Nlc3M6dG9rZW4=",
            "http.extraHeader=AUTHORIZATION: basic [REDACTED:authorization]",
        ),
        (
            "{'Authorization': 'token abcdef123456', 'Accept': 'json'}",
            "{'Authorization': 'token [REDACTED:authorization]', 'Accept': 'json'}",
        ),
        (
            'proxy_set_header Authorization "Basic dXNlcjpwdw==";',
            'proxy_set_header Authorization "Basic [REDACTED:authorization]";',
        ),
        (
            "https://x-access-token:s3cr3t@github.com/o/r.git",
            "https://x-access-token:[REDACTED:password]@github.com/o/r.git",
        ),
        ("Authorization failed; no authorization header", None),
        ("https://github.com/o/r/pull/3 and http://host:8080/p", None),
    ],
)
def test_headers_and_url_passwords(text: str, expected: str | None) -> None:
    assert redact(text) == (text if expected is None else expected)


def test_private_key_blocks_complete_or_cut_off() -> None:
    block = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA\n-----END OPENSSH PRIVATE KEY-----"
    assert redact(f"before\n{block}\nafter") == "before\n[REDACTED:private-key]\nafter"
    assert redact("key: -----BEGIN RSA PRIVATE KEY-----\nMIIE") == "key: [REDACTED:private-key]"


@given(
    prefix=st.sampled_from(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]),
    body=st.text(alphabet=_ALNUM, min_size=36, max_size=40),
    left=st.text(alphabet=" :=,;'\"()[]\n", max_size=5),
    right=st.text(alphabet=" :=,;'\"()[]\n.", max_size=5),
)
def test_github_tokens_never_survive_and_redaction_is_idempotent(
    prefix: str, body: str, left: str, right: str
) -> None:
    once = redact(f"x{left}{prefix}{body}{right}y")
    assert body not in once
    assert redact(once) == once


# --- logging ----------------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A root handler writing to a buffer; redaction installed, and everything undone after."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(header)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    factory = logging.getLogRecordFactory()
    install_redaction()
    try:
        yield stream
    finally:
        uninstall_redaction()
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert logging.getLogRecordFactory() is factory
    assert not any(isinstance(f, RedactingFilter) for f in handler.filters)


def test_child_logger_args_exceptions_and_extras_are_redacted(captured: io.StringIO) -> None:
    secret = GITHUB[3]
    log = logging.getLogger("ambient.test.child")
    log.info("token %s", secret, extra={"header": f"Bearer {secret}"})
    try:
        raise RuntimeError(f"push rejected for {secret}")
    except RuntimeError:
        log.exception("push failed", extra={"header": "-"})
    output = captured.getvalue()
    assert secret not in output
    assert "ambient.test.child INFO token [REDACTED:github-token]" in output
    assert "RuntimeError: push rejected for [REDACTED:github-token]" in output


def test_records_on_a_non_propagating_logger_with_a_later_handler(
    captured: io.StringIO,
) -> None:
    secret = FINE_GRAINED
    stream = io.StringIO()
    log = logging.getLogger("ambient.test.isolated")
    log.propagate = False
    handler = logging.StreamHandler(stream)
    log.addHandler(handler)
    try:
        log.warning("using %s", secret)
        records: list[logging.LogRecord] = []

        def keep(record: logging.LogRecord) -> bool:
            records.append(record)
            return True

        log.addFilter(keep)
        log.warning("again %s", secret)
        log.removeFilter(keep)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    assert secret not in stream.getvalue()
    assert records[0].args is None
    assert records[0].exc_info is None
    assert captured.getvalue() == ""


def test_records_built_without_the_factory_are_redacted_by_the_handler_filter(
    captured: io.StringIO,
) -> None:
    secret = GITHUB[0]
    record = logging.makeLogRecord(
        {"name": "queue", "msg": "from queue %s", "args": (secret,), "levelno": 20}
    )
    record.levelname = "INFO"
    record.header = f"token={secret}"
    logging.getLogger().handle(record)
    output = captured.getvalue()
    assert secret not in output
    assert "queue INFO from queue [REDACTED:github-token]" in output


def test_install_twice_adds_one_filter(captured: io.StringIO) -> None:
    install_redaction()
    root_handlers = logging.getLogger().handlers
    assert all(sum(isinstance(f, RedactingFilter) for f in h.filters) <= 1 for h in root_handlers)
