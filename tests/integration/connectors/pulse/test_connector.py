"""The Pulse connector against the real RabbitMQ on loopback, driven by the engine on a real store.

Each test publishes to its own exchange and reads back a queue bound to it with `#`.
"""

from __future__ import annotations

import calendar
import json
import random
import re
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.cli import parse_enqueue_input
from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors import ConnectorFatal, build_connector
from bugzilla_push.connectors.base import OK
from bugzilla_push.connectors.file import FileConnector
from bugzilla_push.engine import Engine
from bugzilla_push.model import PushRow, Result, parse_message
from bugzilla_push.samples import BugzillaSimulator
from bugzilla_push.store import open_store
from tests.fakes import FakeClock
from tests.integration.connectors.pulse.support import (
    BoundQueue,
    blocking,
    broker_setting,
    close_client_connection,
    dedup_keeps_order,
    is_public_or_privacy_transition,
    public_ids,
    pulse_info,
    rabbitmqctl,
    rows,
    unique,
)
from tests.support import backlog_ids, enqueue_samples, log_rows, pending_ids, run_cycle, store_now

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from bugzilla_push.connectors.pulse.connector import PulseConnector
    from bugzilla_push.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("rabbitmq")]


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    with open_store(pg_url) as s:
        s.create_schema()
        yield s


def engine_for(store: Store, clock: FakeClock | None = None, **settings: object) -> Engine:
    config = DeliveryConfig(**{"chunk_size": 500, "backoff_jitter": 0.0, **settings})
    return Engine(store, config, clock=clock or FakeClock(), rng=random.Random(0))


def pulse(name: str, exchange: str, **extra: object) -> PulseConnector:
    return build_connector(pulse_info(name, exchange, **extra))  # type: ignore[return-value]


def enqueue_with_big(store: Store, count: int, near: list[int], pad: int) -> list[int]:
    """Enqueue `count` messages; the first public one at or after each position in `near` gets `pad`
    more bytes. Return the ids of the big ones."""
    items = list(BugzillaSimulator(seed=5, private_ratio=0.0).messages(count))
    big = []
    for position in near:
        while not is_public_or_privacy_transition(row_of(items[position])):
            position += 1
        payload = items[position]["payload"]
        payload[payload["event"]["target"]]["attachment_data"] = "x" * pad
        big.append(position)
    before = store.query("SELECT COALESCE(MAX(id), 0) FROM push")[0][0]
    store.enqueue(parse_enqueue_input("\n".join(json.dumps(m) for m in items)), now=store_now())
    ids = [r[0] for r in store.query("SELECT id FROM push WHERE id > %(b)s ORDER BY id", {"b": before})]
    return [ids[p] for p in big]


def row_of(message: dict) -> PushRow:
    return PushRow(
        0, store_now(), json.dumps(message["payload"]), message["change_set"], message["routing_key"]
    )


def test_delivers_persistent_json_in_push_id_order_and_skips_private_bugs(
    store: Store, queue: BoundQueue
) -> None:
    enqueue_samples(store, 2000, seed=11, private_ratio=0.15)
    pending = rows(store)
    expected = [r for r in pending if is_public_or_privacy_transition(r)]
    with pulse("pulse", queue.exchange) as connector:
        reports, _ = run_cycle(engine_for(store), [connector])

    received = queue.drain()
    assert [m.message_id for m in received] == [r.id for r in expected]
    skipped = {r.id for r in pending} - {r.id for r in expected}
    assert len(skipped) > 50  # private bugs and private comments were really there
    assert reports["pulse"].sent == len(expected)
    assert reports["pulse"].ignored == len(skipped)
    assert dict(log_rows(store, "pulse")) == {
        r.id: Result.IGNORED if r.id in skipped else Result.OK for r in pending
    }
    for message, row in zip(received, expected, strict=True):
        assert message.routing_key == json.loads(row.payload)["event"]["routing_key"]  # whole, past 64 too
        assert message.raw == row.payload.encode("utf-8")  # the payload verbatim, as Bugzilla wrote it
        assert message.properties.delivery_mode == 2
        assert message.properties.content_type == "application/json"
        assert message.properties.timestamp == calendar.timegm(row.push_ts.timetuple())
    transitions = [m for m in received if m.routing_key.endswith(".modify:is_private")]
    assert transitions  # the privacy changes themselves are published
    assert any(len(m.routing_key) > 64 for m in received)  # keys the column cut


def test_confirms_are_pipelined_up_to_the_window_on_one_connection(store: Store, queue: BoundQueue) -> None:
    enqueue_samples(store, 3000, seed=12)
    expected = public_ids(store)
    with pulse("pulse", queue.exchange, confirm_window=64) as connector:
        run_cycle(engine_for(store), [connector])
        assert connector.publisher.peak_in_flight == 64  # many in flight, never more than the window
        assert connector.publisher.connections_opened == 1  # six send() calls, one connection
    assert [m.message_id for m in queue.drain()] == expected


def test_unroutable_messages_are_delivered_as_far_as_pulse_is_concerned() -> None:
    """No queue bound (Pulse consumers come and go): the broker confirms, nothing is retried."""
    exchange = unique("exchange/guest/nobody-listens")
    messages = [parse_message(r, 10**7) for r in sample_rows(30)]
    try:
        with pulse("pulse", exchange) as connector:
            assert connector.send(messages) == [OK] * 30
    finally:
        BoundQueue(exchange, unique("unused")).delete()


def test_the_connections_vhost_is_used(store: Store) -> None:
    vhost = unique("bp-vhost")
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        queue = BoundQueue(unique("exchange/guest/test"), unique("bp-pulse"), vhost=vhost).declare()
        enqueue_samples(store, 50, seed=13)
        expected = public_ids(store)
        with build_connector(pulse_info("pulse", queue.exchange, vhost=vhost, declare=False)) as connector:
            run_cycle(engine_for(store), [connector])
        assert [m.message_id for m in queue.drain()] == expected
    finally:
        rabbitmqctl("delete_vhost", vhost)


def test_a_connection_the_broker_closed_while_idle_is_reopened_without_a_failure(queue: BoundQueue) -> None:
    name = unique("pulse")[:32]
    messages = [parse_message(r, 10**7) for r in sample_rows(40)]
    with pulse(name, queue.exchange) as connector:
        assert connector.send(messages[:20]) == [OK] * 20
        close_client_connection(f"bugzilla-push {name}")
        assert connector.send(messages[20:]) == [OK] * 20
        assert connector.publisher.connections_opened == 2
    assert [m.message_id for m in queue.drain()] == list(range(1, 41))


def test_a_nack_stops_delivery_there_and_the_rest_follows_in_order(store: Store) -> None:
    # A queue that is full and rejects new messages makes the broker nack them.
    queue = BoundQueue(
        unique("exchange/guest/test"),
        unique("bp-pulse"),
        arguments={"x-max-length": 120, "x-overflow": "reject-publish"},
    ).declare()
    try:
        ids = enqueue_samples(store, 200, seed=14)
        expected = public_ids(store)
        nacked = expected[120]
        clock = FakeClock()
        engine = engine_for(store, clock)
        with pulse("pulse", queue.exchange) as connector:
            reports, _ = run_cycle(engine, [connector])
            assert reports["pulse"].state == "backing_off"
            assert "nack" in (reports["pulse"].error or "")
            assert backlog_ids(store, "pulse") == ids[ids.index(nacked) :]
            assert log_rows(store, "pulse")[-1] == (nacked, Result.TRANSIENT)
            first = [m.message_id for m in queue.drain()]  # a consumer makes room

            clock.advance(6)  # past the first backoff
            run_cycle(engine, [connector])
        assert first == expected[:120]
        assert [m.message_id for m in queue.drain()] == expected[120:]
        assert backlog_ids(store, "pulse") == []
    finally:
        queue.delete()


@pytest.mark.stops_broker
def test_a_message_over_the_brokers_size_limit_is_dead_lettered_and_the_rest_delivered(
    store: Store, queue: BoundQueue
) -> None:
    limit = 64 * 1024
    with broker_setting("max_message_size", limit):  # 128 MiB here by default; new channels read it
        big = enqueue_with_big(store, 1500, near=[700, 1210], pad=100_000)
        expected = [i for i in public_ids(store) if i not in big]
        total = len(pending_ids(store))
        with pulse("pulse", queue.exchange, confirm_window=500) as connector:
            reports, final = run_cycle(engine_for(store, chunk_size=1000), [connector])
            assert connector.publisher.broker_max_body == limit  # learned from the 406, then checked first
    dead = store.query("SELECT message_id, reason FROM push_dead_letter WHERE connector = 'pulse' ORDER BY 1")
    assert [d[0] for d in dead] == big
    assert all(f"over the broker's limit of {limit:,}" in reason for _, reason in dead)
    assert reports["pulse"].dead == 2
    assert reports["pulse"].state == "done"
    dedup_keeps_order([m.message_id for m in queue.drain()], expected, window=500)
    assert backlog_ids(store, "pulse") == []
    assert pending_ids(store) == []
    assert final.deleted == total


def test_max_message_bytes_dead_letters_a_big_message_without_sending_it(
    store: Store, queue: BoundQueue
) -> None:
    big = enqueue_with_big(store, 30, near=[10], pad=20_000)
    expected = [i for i in public_ids(store) if i not in big]
    with pulse("pulse", queue.exchange, max_message_bytes=10_000) as connector:
        reports, _ = run_cycle(engine_for(store), [connector])
        assert connector.publisher.broker_max_body is None  # the broker never saw it
    assert reports["pulse"].dead == 1
    assert [m.message_id for m in queue.drain()] == expected


WRONG_PASSWORD = "not-the-password-7f3a"  # a test value that must never show up anywhere


@pytest.fixture(scope="module")
def limited_users() -> Iterator[dict[str, str]]:
    """Users of vhost '/' that may not configure anything, or not write anything (password: limited-pw)."""
    users = {"no-configure": unique("bp-noconf"), "no-write": unique("bp-nowrite")}
    rabbitmqctl("add_user", users["no-configure"], "limited-pw")
    rabbitmqctl("add_user", users["no-write"], "limited-pw")
    try:
        rabbitmqctl("set_permissions", "-p", "/", users["no-configure"], "^$", ".*", ".*")
        rabbitmqctl("set_permissions", "-p", "/", users["no-write"], ".*", "^$", ".*")
        yield users
    finally:
        for user in users.values():
            rabbitmqctl("delete_user", user)


@pytest.fixture(scope="module")
def forbidden_vhost() -> Iterator[str]:
    """A vhost on which guest has no permissions."""
    vhost = unique("bp-forbidden")
    rabbitmqctl("add_vhost", vhost)
    try:
        yield vhost
    finally:
        rabbitmqctl("delete_vhost", vhost)


@pytest.mark.parametrize(
    ("case", "fatal", "says"),
    [
        ("wrong password", True, "fix the login or password of Airflow connection 'pulse'"),
        ("wrong vhost", True, "virtual host 'no-such-vhost' does not exist"),
        ("vhost not permitted", True, "may not use virtual host 'bp-forbidden-"),  # 'guest' is *** here
        ("missing exchange", True, "\"declare\": true in the extra of Airflow connection 'pulse'"),
        ("exchange of another type", True, "it must be a durable topic exchange"),
        ("may not configure", True, "may not declare (configure) exchange"),
        ("may not write", True, "may not publish to (write) exchange"),
        ("connection refused", False, "cannot connect to 127.0.0.1:1: connection refused"),
    ],
)  # fmt: skip
def test_broken_configuration_is_classified_and_keeps_every_message(
    store: Store, tmp_path: Path, request: pytest.FixtureRequest, case: str, fatal: bool, says: str
) -> None:
    exchange = unique("exchange/guest/test")
    request.addfinalizer(BoundQueue(exchange, unique("unused")).delete)  # a user may declare it, then fail
    info = pulse_info("pulse", exchange)
    if case == "wrong password":
        info = replace(info, password=WRONG_PASSWORD)
    elif case == "wrong vhost":
        info = replace(info, schema="no-such-vhost")
    elif case == "vhost not permitted":
        info = replace(info, schema=request.getfixturevalue("forbidden_vhost"))
    elif case == "missing exchange":
        info = replace(info, extra={**info.extra, "declare": False})
    elif case == "exchange of another type":
        with blocking() as conn:
            conn.channel().exchange_declare(exchange, "fanout", durable=True)
    elif case.startswith("may not"):
        user = request.getfixturevalue("limited_users")[case.replace("may not ", "no-")]
        info = replace(info, login=user, password="limited-pw")
    else:
        info = replace(info, port=1)  # nothing listens there
    ids = enqueue_samples(store, 40, seed=15)
    engine = engine_for(store)
    batch = engine.open_batch("run", ["pulse", "file"])
    assert engine.deliver(batch, FileConnector("file", tmp_path / "f.jsonl")).sent == len(ids)  # not held up
    with build_connector(info) as connector:
        if fatal:
            with pytest.raises(ConnectorFatal, match=re.escape(says)) as raised:
                engine.deliver(batch, connector)
            text = str(raised.value)
        else:
            report = engine.deliver(batch, connector)
            assert report.state == "backing_off"
            text = report.error or ""
            assert says in text
    engine.finalize(batch)
    assert backlog_ids(store, "pulse") == ids  # nothing lost: all of it waits, in order
    assert pending_ids(store) == []
    assert store.backoff("pulse").attempts == 1
    last_error = store.query(
        "SELECT last_error FROM push_backlog WHERE connector = 'pulse' AND message_id = %(m)s", {"m": ids[0]}
    )[0][0]
    assert says in last_error  # what `bugzilla-push status` shows the operator
    logged = store.query("SELECT message_id, result, data FROM push_log WHERE connector = 'pulse'")
    if not fatal:
        assert [(i, r) for i, r, _ in logged] == [(ids[0], Result.TRANSIENT)]
    assert WRONG_PASSWORD not in text + last_error + repr(logged)


def sample_rows(count: int) -> list[PushRow]:
    return [
        PushRow(n, store_now(), json.dumps(m["payload"]), m["change_set"], m["routing_key"])
        for n, m in enumerate(BugzillaSimulator(seed=16, private_ratio=0.0).messages(count), start=1)
    ]
