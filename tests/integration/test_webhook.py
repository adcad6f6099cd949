"""The webhook connector against a real HTTP server on 127.0.0.1, through the real engine and store.

Every test runs on SQLite and PostgreSQL (`db_url`). The receiver (`tests/doubles/webhook_receiver.py`)
is a test double that records requests and answers as scripted; what each webhook should get is
worked out here from the queued payloads, independently of the connector's own filter code.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import socket
from typing import TYPE_CHECKING, Any

import pytest

from bugzilla_push.backoff import Backoff
from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors import ConnectionInfo, ConnectorFatal, build_connector
from bugzilla_push.engine import DeliveryReport, Engine
from bugzilla_push.model import Result
from bugzilla_push.store import Commit, Store, open_store
from tests.doubles.webhook_receiver import Reply, Request, WebhookReceiver, always
from tests.fakes import FakeClock
from tests.support import backlog_ids, enqueue_samples, log_rows, pending_ids

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from bugzilla_push.connectors.base import Connector
    from bugzilla_push.store import Batch

pytestmark = pytest.mark.integration

KEY = "wh-" + secrets.token_hex(12)  # the API key; a fresh one per session, so a leak cannot hide


class EngineWithBackoffHook(Engine):
    """The engine plus the one hook the webhook's self-pause needs (test-only until the engine has it).

    Once per delivery, before anything is sent, a connector that defines `observe_backoff` gets the
    connector's `push_backoff.attempts`: its consecutive transient failures so far.
    """

    def deliver(self, batch: Batch, connector: Connector) -> DeliveryReport:
        observe = getattr(connector, "observe_backoff", None)
        if observe is not None:
            observe(self.store.backoff(connector.name).attempts)
        return super().deliver(batch, connector)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with open_store(db_url) as s:
        s.create_schema()
        yield s


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def engine_for(store: Store, clock: FakeClock, **settings: Any) -> Engine:
    config = DeliveryConfig(**{"chunk_size": 25, "backoff_jitter": 0.0, **settings})
    return EngineWithBackoffHook(store, config, clock=clock, rng=random.Random(0))


def webhook(url: str, name: str = "webhook_a", **extra: Any) -> Connector:
    """Build the connector from a connection, as each DAG run does."""
    extra = {"api_key_header": "X-Api-Key", "timeout": 5, **extra}
    return build_connector(ConnectionInfo(name, "http", host=url, password=KEY, extra=extra))


def run(engine: Engine, *connectors: Connector) -> dict[str, DeliveryReport | ConnectorFatal]:
    """One DAG run without Airflow: open the batch, deliver to each webhook, finalize, close them."""
    batch = engine.open_batch("test-run", [c.name for c in connectors])
    results: dict[str, DeliveryReport | ConnectorFatal] = {}
    for connector in connectors:
        with connector:
            try:
                results[connector.name] = engine.deliver(batch, connector)
            except ConnectorFatal as exc:
                results[connector.name] = exc
    engine.finalize(batch)
    return results


def queued(store: Store) -> list[tuple[int, str, dict[str, Any]]]:
    """The pending messages as (push id, routing key, payload)."""
    rows = store.query("SELECT id, routing_key, payload FROM push ORDER BY id")
    return [(i, key, json.loads(body)) for i, key, body in rows]


def bug_of(body: dict[str, Any]) -> dict[str, Any]:
    target = body["event"]["target"]
    return body[target] if target == "bug" else body[target]["bug"]


def name(value: Any) -> str:
    return value["name"] if isinstance(value, dict) else value


def own_private(body: dict[str, Any]) -> bool:
    target = body["event"]["target"]
    return target != "bug" and bool(body[target]["is_private"])


def ids(requests: list[Request]) -> list[int]:
    return [r.push_id for r in requests]


def test_every_wanted_message_arrives_once_in_push_id_order_with_the_api_key(
    store: Store, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    enqueue_samples(store, 300, seed=11, private_ratio=0.1)
    messages = queued(store)
    wanted = [i for i, _, body in messages if not own_private(body)]  # the simulator writes every kind

    reports = run(engine_for(store, clock), webhook(receiver.url()))

    assert ids(receiver.accepted()) == wanted
    assert ids(receiver.requests()) == wanted  # one POST each, nothing sent twice
    assert reports["webhook_a"].sent == len(wanted)
    assert all(r.headers["x-api-key"] == KEY for r in receiver.requests())
    assert all(r.headers["content-type"] == "application/json" for r in receiver.requests())
    results = dict(log_rows(store, "webhook_a"))
    assert {i: results[i] for i in wanted} == dict.fromkeys(wanted, Result.OK)
    assert {results[i] for i, _, _ in messages if i not in wanted} == {Result.IGNORED}
    assert pending_ids(store) == []
    assert backlog_ids(store, "webhook_a") == []
    first = receiver.accepted()[0].json
    assert first["webhook_name"] == "a"
    assert first["webhook_id"] is None
    assert "change_set" not in first["event"]


def test_filters_by_product_component_and_event_kind_per_webhook(
    store: Store, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    enqueue_samples(store, 400, seed=12)
    messages = queued(store)
    firefox_comments = [
        i
        for i, key, body in messages
        if key == "comment.create" and name(bug_of(body)["product"]) == "Firefox" and not own_private(body)
    ]
    core_networking_bugs = [
        i
        for i, key, body in messages
        if (key == "bug.create" or key.startswith("bug.modify"))
        and name(bug_of(body)["product"]) == "Core"
        and name(bug_of(body)["component"]) == "Networking"
    ]
    assert firefox_comments
    assert core_networking_bugs

    run(
        engine_for(store, clock),
        webhook(receiver.url("/ff"), "webhook_ff", product="Firefox", events="comment"),
        webhook(
            receiver.url("/net"),
            "webhook_net",
            product="Core",
            component="Networking",
            events=["create", "change"],
        ),
    )

    assert ids(receiver.accepted("/ff")) == firefox_comments
    assert ids(receiver.accepted("/net")) == core_networking_bugs
    for connector, wanted in (("webhook_ff", firefox_comments), ("webhook_net", core_networking_bugs)):
        logged = log_rows(store, connector)
        assert [i for i, result in logged if result == Result.OK] == wanted
        assert len(logged) == len(messages)  # everything else logged IGNORED
    assert {r.json["bug"]["comment"]["id"] > 0 for r in receiver.accepted("/ff")} == {True}


def test_private_bugs_arrive_reduced_to_ids_and_private_comments_only_when_allowed(
    store: Store, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    enqueue_samples(store, 400, seed=13, private_ratio=0.4)
    messages = {i: (key, body) for i, key, body in queued(store)}

    run(
        engine_for(store, clock),
        webhook(receiver.url("/default")),
        webhook(receiver.url("/insider"), "webhook_insider", include_private_comments=True),
    )

    default = {r.push_id: r.json for r in receiver.accepted("/default")}
    insider = {r.push_id: r.json for r in receiver.accepted("/insider")}
    private_bug = [i for i, (_, body) in messages.items() if bug_of(body)["is_private"]]
    private_comments = [i for i, (_, body) in messages.items() if own_private(body)]
    transitions = [i for i, (key, _) in messages.items() if key == "bug.modify:is_private"]
    assert private_bug
    assert private_comments
    assert transitions
    for i in private_bug:
        key, body = messages[i]
        if i in private_comments:
            continue
        target = body["event"]["target"]
        expected = {"id": bug_of(body)["id"], "is_private": True}
        if target != "bug":
            expected[target] = {"id": body[target]["id"], "is_private": True}
        assert default[i]["bug"] == expected
        assert "changes" not in default[i]["event"]
    for i in transitions:  # built from the public side by Bugzilla: sent whole
        assert default[i]["bug"]["summary"] == messages[i][1]["bug"]["summary"]
        assert default[i]["event"]["changes"][0]["field"] == "is_private"
    assert not set(private_comments) & set(default)
    assert set(private_comments) <= set(insider)
    for i in private_comments:
        target = messages[i][1]["event"]["target"]
        assert set(insider[i]["bug"]) == {"id", "is_private", target}
        assert "body" not in insider[i]["bug"][target]
    for i in private_bug:
        if i in default:
            assert default[i]["event"]["user"] == messages[i][1]["event"]["user"]  # BMO keeps the actor


def test_the_api_key_is_sent_but_never_stored_logged_or_shown(
    store: Store, receiver: WebhookReceiver, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ids_ = enqueue_samples(store, 30, seed=14)

    def echoing(request: Request) -> Reply:
        # A receiver that echoes the request's headers in its errors: the key must not come back.
        if request.push_id == ids_[3]:
            return Reply(400, json.dumps({"error": "bad", "headers": request.headers}))
        if request.push_id == ids_[9]:
            return Reply(503, f"upstream down; you sent X-Api-Key: {request.headers['x-api-key']}")
        return Reply(200)

    receiver.script = echoing
    run(engine_for(store, clock), webhook(receiver.url()))
    assert all(r.headers["x-api-key"] == KEY for r in receiver.requests())

    stored = store.query("SELECT data FROM push_log WHERE data IS NOT NULL")
    stored += store.query("SELECT reason FROM push_dead_letter")
    stored += store.query("SELECT last_error FROM push_backlog WHERE last_error IS NOT NULL")
    texts = " ".join(str(v) for row in stored for v in row)
    assert "HTTP 400" in texts
    assert "HTTP 503" in texts
    assert "***" in texts  # the echoed key was there, and was redacted
    assert KEY not in texts
    assert KEY not in repr(store.status(["webhook_a"]))
    assert KEY not in caplog.text


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
    engine = engine_for(store, clock)
    reports = run(engine, webhook(receiver.url()))
    assert reports["webhook_a"].state == "backing_off"
    assert ids(receiver.accepted()) == first[:6]
    assert backlog_ids(store, "webhook_a") == first[6:]
    assert (failing, Result.TRANSIENT) in log_rows(store, "webhook_a")
    last_error = store.status(["webhook_a"]).connectors["webhook_a"].last_error
    assert "HTTP 503 Service Unavailable" in last_error
    assert "Retry-After: 30" in last_error

    second = enqueue_samples(store, 10, seed=16)
    clock.advance(2)  # still inside the 5 s backoff: nothing is attempted, new messages queue behind
    run(engine, webhook(receiver.url()))
    assert len(receiver.requests()) == 7
    assert backlog_ids(store, "webhook_a") == first[6:] + second

    clock.advance(4)
    reports = run(engine, webhook(receiver.url()))
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

    reports = run(engine_for(store, clock), webhook(receiver.url()))

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


def test_the_webhook_pauses_itself_after_n_failures_and_stays_paused_until_reset(
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
    assert isinstance(paused, ConnectorFatal)
    assert str(paused).startswith(
        "webhook paused after 3 consecutive failed deliveries (pause_after_failures=3)"
    )
    assert len(receiver.requests()) == 3  # the fourth run sent nothing
    assert backlog_ids(store, "webhook_a") == sent
    status = store.status(["webhook_a"]).connectors["webhook_a"]
    assert status.last_error.startswith("webhook paused after 3")
    assert status.backlog == len(sent)

    receiver.script = always(200)
    assert isinstance(next_run(), ConnectorFatal)  # a paused webhook does not probe by itself
    assert len(receiver.requests()) == 3

    store.record(Commit("webhook_a", clock.now, backoff=Backoff()))  # an operator resets its backoff
    report = next_run()
    assert isinstance(report, DeliveryReport)
    assert report.state == "done"
    assert ids(receiver.accepted()) == sent
    assert backlog_ids(store, "webhook_a") == []


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
