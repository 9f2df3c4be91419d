"""The receiver over real HTTP with a real Redis: verify → dedupe → enqueue → answer."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from arq.constants import default_queue_name, job_key_prefix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.events.payloads import CheckSuitePayload, parse_payload
from bot.events.spec import deserialize
from bot.github.manifest import load_app_yml
from bot.ingress.enqueue import STAGING_KEY_PREFIX
from bot.ingress.web import LABELLED_EVENTS
from tests.fixtures.ingress import Receiver
from tests.fixtures.redis import RedisServer
from tests.webhook_corpus import Sample, all_samples, selected

ROOT = Path(__file__).resolve().parent.parent

# Header values a client can send at all (HTTP forbids control characters in them).
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=120)
NOT_JSON = frozenset({"openapi/secret-scanning-alert-location-created-form-encoded.json"})


def _queued_jobs(server: RedisServer) -> list[str]:
    client = redis.Redis.from_url(server.url)
    try:
        return [m.decode() for m in client.zrange(default_queue_name, 0, -1)]
    finally:
        client.close()


def _failing_suite() -> bytes:
    payload = selected("check_suite.completed.success.with-pr").payload
    suite = payload["check_suite"]
    assert isinstance(suite, dict)
    suite["conclusion"] = "failure"
    return json.dumps(payload).encode()


def test_every_recorded_payload_is_answered_without_a_server_error(
    receiver: Receiver, redis_server: RedisServer
) -> None:
    queued: set[str] = set()
    for sample in all_samples():
        response = receiver.deliver(
            sample.event, sample.body, str(uuid.uuid4()), content_type=sample.content_type
        )
        expected = {400} if sample.name in NOT_JSON else {200, 202}
        assert response.status_code in expected, (sample.name, response.text)
        if response.status_code == 202:
            queued.update(response.json()["queued"])
    assert set(_queued_jobs(redis_server)) == queued
    # A label may be the repository's `tasks.label`: the task job reads the config to know.
    assert {job.split(":")[0] for job in queued} == {"installation", "push", "task"}


def test_a_delivery_sent_twice_queues_once(receiver: Receiver, redis_server: RedisServer) -> None:
    body = _failing_suite()
    first = receiver.deliver("check_suite", body, "delivery-1")
    second = receiver.deliver("check_suite", body, "delivery-1")
    assert first.status_code == 202
    (job_id,) = first.json()["queued"]
    assert job_id.startswith("ci:")
    assert second.status_code == 200
    assert second.json() == {"duplicate": True}
    assert _queued_jobs(redis_server) == [job_id]


def test_another_failing_suite_of_the_same_commit_joins_the_queued_job(
    receiver: Receiver, redis_server: RedisServer
) -> None:
    body = _failing_suite()
    first = receiver.deliver("check_suite", body, "suite-a")
    second = receiver.deliver("check_suite", body, "suite-b")
    assert second.status_code == 202
    assert second.json() == {"queued": [], "already_queued": first.json()["queued"]}
    assert len(_queued_jobs(redis_server)) == 1


def test_the_queued_job_is_what_arqs_worker_reads(
    receiver: Receiver, redis_server: RedisServer
) -> None:
    response = receiver.deliver("check_suite", _failing_suite(), "d-arq")
    (job_id,) = response.json()["queued"]
    client = redis.Redis.from_url(redis_server.url)
    raw = client.get(job_key_prefix + job_id)
    ttl = client.pttl(job_key_prefix + job_id)
    client.close()
    assert raw is not None
    job = deserialize(raw)
    assert job["f"] == "fix_ci"
    spec_json, body = job["a"]  # type: ignore[misc]
    assert json.loads(spec_json)["delivery_id"] == "d-arq"
    # The delivery travels as the JSON object it is, and the worker's parser takes it.
    assert body == json.loads(_failing_suite())
    assert isinstance(parse_payload("check_suite", body), CheckSuitePayload)
    assert ttl > 0
    assert not client_keys(redis_server, STAGING_KEY_PREFIX + "*")


def client_keys(server: RedisServer, pattern: str) -> list[bytes]:
    client = redis.Redis.from_url(server.url)
    try:
        return list(client.scan_iter(pattern))
    finally:
        client.close()


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({"X-Hub-Signature-256": ""}, 401, "missing"),
        ({"X-Hub-Signature-256": "sha1=" + "0" * 40}, 401, "sha256="),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 401, "AMBIENT_WEBHOOK_SECRET"),
        ({"X-GitHub-Delivery": ""}, 400, "X-GitHub-Delivery"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    receiver: Receiver, redis_server: RedisServer, headers: dict[str, str], status: int, reason: str
) -> None:
    response = receiver.deliver("check_suite", _failing_suite(), "d-bad", extra_headers=headers)
    assert response.status_code == status
    assert reason in response.json()["error"]
    assert _queued_jobs(redis_server) == []


def test_the_webhook_takes_only_posts_and_the_other_routes_still_answer(
    receiver: Receiver, redis_server: RedisServer
) -> None:
    assert receiver.client.get(receiver.url + "/webhook").status_code == 405
    assert receiver.client.post(receiver.url + "/healthz").status_code == 405
    assert receiver.client.get(receiver.url + "/nowhere").status_code == 404
    assert receiver.client.get(receiver.url + "/healthz").json() == {"status": "ok"}
    assert _queued_jobs(redis_server) == []


def test_a_wrong_secret_is_refused(receiver: Receiver, redis_server: RedisServer) -> None:
    response = receiver.deliver("check_suite", _failing_suite(), "d", secret="wrong")
    assert response.status_code == 401
    assert _queued_jobs(redis_server) == []


def test_a_body_over_the_limit_is_refused(
    receiver_factory: Callable[..., Receiver], redis_server: RedisServer
) -> None:
    small = receiver_factory(redis_server, AMBIENT_MAX_BODY_BYTES="1000")
    response = small.deliver("check_suite", _failing_suite(), "d-big")
    assert response.status_code == 413
    assert _queued_jobs(redis_server) == []


def test_redis_down_answers_503_and_recovers_without_a_restart(
    receiver_factory: Callable[..., Receiver], redis_factory: Callable[[], RedisServer]
) -> None:
    server = redis_factory()
    receiver = receiver_factory(server)
    assert receiver.client.get(receiver.url + "/readyz").status_code == 200
    server.stop()
    down = receiver.deliver("check_suite", _failing_suite(), "d-down")
    assert down.status_code == 503
    assert down.json()["error"].startswith("redis unreachable")
    assert receiver.client.get(receiver.url + "/readyz").status_code == 503
    assert receiver.client.get(receiver.url + "/healthz").status_code == 200
    server.start()
    again = receiver.deliver("check_suite", _failing_suite(), "d-down")
    assert again.status_code == 202
    assert receiver.client.get(receiver.url + "/readyz").status_code == 200


def test_metrics_count_deliveries_by_event_and_outcome(receiver: Receiver) -> None:
    receiver.deliver("check_suite", _failing_suite(), "d-m")
    receiver.deliver("check_suite", _failing_suite(), "d-m")
    text = receiver.client.get(receiver.url + "/metrics").text
    assert 'ambient_deliveries_total{event="check_suite",outcome="duplicate"}' in text
    assert "ambient_enqueue_seconds_bucket" in text


def test_metric_series_are_named_only_by_events_github_sends(receiver: Receiver) -> None:
    invented = f"invented-{uuid.uuid4().hex}"
    unsigned = receiver.deliver(invented, _failing_suite(), "d-inv-1", secret="wrong")
    signed = receiver.deliver(invented, b"{}", "d-inv-2")
    malformed = receiver.deliver(invented, b"[not json", "d-inv-3")
    assert (unsigned.status_code, signed.status_code) == (401, 200)
    assert malformed.status_code == 400
    text = receiver.client.get(receiver.url + "/metrics").text
    assert invented not in text
    assert 'ambient_deliveries_total{event="unverified",outcome="bad_signature"}' in text
    assert 'ambient_deliveries_total{event="other",outcome="ignored"}' in text
    assert 'ambient_deliveries_total{event="other",outcome="malformed"}' in text


def test_every_event_the_app_receives_names_its_own_series() -> None:
    subscribed = load_app_yml((ROOT / "app.yml").read_text())["default_events"]
    assert {*subscribed, "installation", "installation_repositories", "ping"} <= LABELLED_EVENTS


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    event=st.sampled_from(["check_suite", "issue_comment", "push", "x" * 70, "", "ping"]),
    body=st.one_of(
        st.binary(max_size=300),
        st.just(_failing_suite()),
        st.builds(lambda s: s.body, st.sampled_from([selected("push.new-branch")])),
    ),
    signature=st.one_of(st.none(), HEADER_TEXT, st.just("sha256=" + "a" * 64), st.just("sign")),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
    ),
    delivery=HEADER_TEXT,
)
def test_fuzzed_requests_never_5xx_and_never_queue_without_a_valid_signature(
    receiver: Receiver,
    redis_server: RedisServer,
    event: str,
    body: bytes,
    signature: str | None,
    content_type: str,
    delivery: str,
) -> None:
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": content_type}
    if signature == "sign":
        response = receiver.deliver(event, body, delivery, content_type=content_type)
    else:
        headers["X-Hub-Signature-256"] = signature or ""
        before = _queued_jobs(redis_server)
        response = receiver.client.post(receiver.url + "/webhook", content=body, headers=headers)
        assert response.status_code == 401
        assert _queued_jobs(redis_server) == before
    assert response.status_code < 500


def test_sample_type_is_importable() -> None:
    assert Sample("n", "e", b"{}").payload == {}
