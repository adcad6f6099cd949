"""The webhook connector's failure classes against a real HTTP server on 127.0.0.1, through the real
engine and store: 503 and retry, 400 and dead letter, 410, self-pause, timeouts, refused connections, TLS.

Every test runs on SQLite and PostgreSQL (`db_url`); `FakeClock` moves time past the backoff.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.connectors import ConnectorFatal, ConnectorPaused
from bugzilla_push.model import Result
from bugzilla_push.reports import DeliveryReport
from tests.doubles.webhook_receiver import Reply, Request, WebhookReceiver, always
from tests.integration.connectors.webhook.support import KEY, engine_for, ids, run, webhook
from tests.support import backlog_ids, enqueue_samples, log_rows, pending_ids

if TYPE_CHECKING:
    from pathlib import Path

    from bugzilla_push.store import Store
    from tests.fakes import FakeClock

pytestmark = pytest.mark.integration


def test_after_a_503_the_rest_waits_and_arrives_in_order_after_the_backoff(
    store: Store, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    first = enqueue_samples(store, 40, seed=15)
    failing = first[6]
    failed_once: set[int] = set()

    def unavailable_once(request: Request) -> Reply:
        if request.push_id == failing and failing not in failed_once:
            failed_once.add(failing)
            return Reply(503, '{"error": "maintenance"}', {"Retry-After": "30"})
        return Reply(200)

    receiver.script = unavailable_once
    # Every message goes to this webhook: private comments and attachments too (reduced to ids).
    everything = {"include_private_comments": True}
    engine = engine_for(store, clock)
    reports = run(engine, webhook(receiver.url(), **everything))
    assert reports["webhook_a"].state == "backing_off"
    assert ids(receiver.accepted()) == first[:6]
    assert backlog_ids(store, "webhook_a") == first[6:]
    assert (failing, Result.TRANSIENT) in log_rows(store, "webhook_a")
    last_error = store.status(["webhook_a"]).connectors["webhook_a"].last_error
    assert "HTTP 503 Service Unavailable" in last_error
    assert "Retry-After: 30" in last_error

    second = enqueue_samples(store, 10, seed=16)
    clock.advance(2)  # still inside the 5 s backoff: nothing is attempted, new messages queue behind
    run(engine, webhook(receiver.url(), **everything))
    assert len(receiver.requests()) == 7
    assert backlog_ids(store, "webhook_a") == first[6:] + second

    clock.advance(4)
    reports = run(engine, webhook(receiver.url(), **everything))
    assert ids(receiver.accepted()) == first + second  # in push-id order, each exactly once
    assert ids(receiver.requests()).count(failing) == 2
    assert reports["webhook_a"].backlog_sent == len(first) - 6 + len(second)
    assert backlog_ids(store, "webhook_a") == []
    assert store.backoff("webhook_a").attempts == 0


def test_a_400_dead_letters_that_message_and_the_next_ones_are_delivered(
    store: Store, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    sent = enqueue_samples(store, 20, seed=17)
    rejected = sent[4]
    receiver.script = lambda r: (
        Reply(400, '{"error": "field bug.severity: unknown value"}') if r.push_id == rejected else Reply(200)
    )

    reports = run(engine_for(store, clock), webhook(receiver.url(), include_private_comments=True))

    assert ids(receiver.accepted()) == [i for i in sent if i != rejected]
    dead = store.query("SELECT message_id, reason FROM push_dead_letter WHERE connector = 'webhook_a'")
    assert dead == [
        (
            rejected,
            'the receiver rejected this message: HTTP 400 Bad Request: {"error": "field bug.severity: '
            'unknown value"}',
        )
    ]
    assert reports["webhook_a"].dead == 1
    assert reports["webhook_a"].state == "done"
    assert backlog_ids(store, "webhook_a") == []
    assert store.status(["webhook_a"]).connectors["webhook_a"].dead_letters == 1


def test_410_gone_is_connector_fatal_and_keeps_every_message(
    store: Store, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    sent = enqueue_samples(store, 15, seed=18)
    receiver.script = always(410, '{"error": "this hook was deleted"}')

    outcome = run(engine_for(store, clock), webhook(receiver.url()))["webhook_a"]

    assert isinstance(outcome, ConnectorFatal)
    assert "the endpoint says it is gone (HTTP 410 Gone" in str(outcome)
    assert len(receiver.requests()) == 1
    assert backlog_ids(store, "webhook_a") == sent
    assert pending_ids(store) == []
    assert "remove or fix the webhook" in store.status(["webhook_a"]).connectors["webhook_a"].last_error


def test_the_webhook_pauses_itself_after_n_failures_and_stays_paused_until_resumed(
    store: Store, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    sent = enqueue_samples(store, 12, seed=19)
    receiver.script = always(503, "down")
    engine = engine_for(store, clock)

    def next_run() -> DeliveryReport | ConnectorFatal:
        backoff = store.backoff("webhook_a")
        if backoff.next_attempt_ts is not None:
            clock.now = backoff.next_attempt_ts  # the backoff is over
        return run(engine, webhook(receiver.url(), pause_after_failures=3))["webhook_a"]

    for attempt in range(1, 4):
        report = next_run()
        assert isinstance(report, DeliveryReport)
        assert report.state == "backing_off"
        assert len(receiver.requests()) == attempt
    paused = next_run()
    assert isinstance(paused, ConnectorPaused)
    assert str(paused).startswith(
        "webhook paused after 3 consecutive failed deliveries (pause_after_failures=3)"
    )
    assert len(receiver.requests()) == 3  # the fourth run sent nothing
    assert backlog_ids(store, "webhook_a") == sent
    state = store.connector_state("webhook_a")
    assert state.paused
    assert state.changed_by == "bugzilla-push"
    assert state.reason.startswith("webhook paused after 3")
    status = store.status(["webhook_a"]).connectors["webhook_a"]
    assert status.last_error.startswith("webhook paused after 3")
    assert status.backlog == len(sent)

    receiver.script = always(200)
    later = next_run()  # a paused webhook does not probe by itself: its messages wait
    assert isinstance(later, DeliveryReport)
    assert later.state == "paused"
    assert len(receiver.requests()) == 3

    store.set_paused("webhook_a", False, "admin", clock.now)  # an operator resumes it
    assert store.backoff("webhook_a").attempts == 0
    report = next_run()
    assert isinstance(report, DeliveryReport)
    assert report.state == "done"
    assert ids(receiver.accepted()) == sent
    assert backlog_ids(store, "webhook_a") == []
    actions = store.query("SELECT actor, action FROM push_audit ORDER BY id")
    assert actions == [("bugzilla-push", "pause"), ("admin", "resume")]


def test_a_run_of_rejected_messages_holds_the_rest_back_instead_of_dead_lettering_all(
    store: Store, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    sent = enqueue_samples(store, 12, seed=20)
    receiver.script = always(404, "<html>Not Found</html>")

    report = run(engine_for(store, clock), webhook(receiver.url(), pause_after_failures=3))["webhook_a"]

    assert isinstance(report, DeliveryReport)
    assert report.dead == 3
    assert report.state == "backing_off"
    assert len(receiver.requests()) == 3
    assert backlog_ids(store, "webhook_a") == sent[3:]
    assert "3 deliveries in a row failed" in store.status(["webhook_a"]).connectors["webhook_a"].last_error


def test_a_timeout_is_transient_and_the_message_is_sent_again_with_the_same_push_id(
    store: Store, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    sent = enqueue_samples(store, 8, seed=21)
    slow = sent[2]
    receiver.script = lambda r: Reply(200, hold=r.push_id == slow and r.seq == 3)
    engine = engine_for(store, clock)

    reports = run(engine, webhook(receiver.url(), timeout=0.3))
    assert reports["webhook_a"].state == "backing_off"
    assert "no answer within 0.3 s (ReadTimeout)" in reports["webhook_a"].error
    assert backlog_ids(store, "webhook_a") == sent[2:]

    receiver.release()
    clock.advance(6)
    run(engine, webhook(receiver.url(), timeout=0.3))
    assert ids(receiver.accepted()) == sent
    assert ids(receiver.requests()).count(slow) == 2  # same X-Bugzilla-Push-Id: receivers can drop it


def test_connection_refused_is_transient(store: Store, clock: FakeClock) -> None:
    sent = enqueue_samples(store, 5, seed=22)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nothing listens on it once closed

    reports = run(engine_for(store, clock), webhook(f"http://127.0.0.1:{port}/hook"))

    assert reports["webhook_a"].state == "backing_off"
    assert "ConnectError" in reports["webhook_a"].error
    assert backlog_ids(store, "webhook_a") == sent


def test_https_to_a_receiver_with_a_private_ca_needs_its_ca_bundle(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    sent = enqueue_samples(store, 6, seed=24)
    with WebhookReceiver(tls_dir=tmp_path) as tls:
        assert tls.url().startswith("https://127.0.0.1:")
        engine = engine_for(store, clock)
        untrusted = run(engine, webhook(tls.url()))["webhook_a"]
        assert untrusted.state == "backing_off"
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error
        assert tls.requests() == []

        clock.advance(6)
        run(engine, webhook(tls.url(), ca_bundle=str(tls.ca_bundle)))
        assert ids(tls.accepted()) == sent
        assert {r.headers["x-api-key"] for r in tls.accepted()} == {KEY}
