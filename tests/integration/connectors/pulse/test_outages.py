"""The Pulse connector when the broker goes away: stopped mid-batch, blocking publishers, unreachable.

Each outage is real: `rabbitmqctl stop_app`, a memory alarm, or a frozen TCP link (a proxy in
front of the broker that stops forwarding). Every test that changes the broker restores it in a
`finally`.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors import build_connector
from bugzilla_push.connectors.base import Outcome
from bugzilla_push.connectors.file import FileConnector
from bugzilla_push.connectors.pulse.connector import PulseConnector
from bugzilla_push.connectors.pulse.publisher import ConfirmingPublisher
from bugzilla_push.engine import Engine
from bugzilla_push.model import PushRow, Result, parse_message
from bugzilla_push.samples import BugzillaSimulator
from bugzilla_push.store import open_store
from tests.doubles.tcp_proxy import FreezableProxy
from tests.fakes import FakeClock
from tests.integration.connectors.pulse.support import (
    AMQP_HOST,
    AMQP_PORT,
    BoundQueue,
    dedup_keeps_order,
    port_open,
    public_ids,
    pulse_info,
    rabbitmqctl,
    start_broker,
    wait_until,
)
from tests.support import (
    backlog_ids,
    delivered_ids,
    enqueue_samples,
    log_rows,
    pending_ids,
    run_cycle,
    store_now,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pika.frame import Method

    from bugzilla_push.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.usefixtures("rabbitmq")]


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    with open_store(pg_url) as s:
        s.create_schema()
        yield s


class StopsBrokerMidFlight(ConfirmingPublisher):
    """A publisher that stops the broker once `after` messages of a call are sent, with some in flight.

    `rabbitmqctl stop_app` runs in a thread; the I/O loop is held until the broker stops listening,
    so the broker goes down while this publisher has unconfirmed messages outstanding.
    """

    def __init__(self, base: ConfirmingPublisher, after: int) -> None:
        super().__init__(base.parameters, base.target, base.window, base.confirm_timeout, base.max_body)
        self.after = after
        self.in_flight_at_stop = 0
        self.stopper: threading.Thread | None = None

    def _on_confirm(self, frame: Method) -> None:
        super()._on_confirm(frame)
        run = self._run
        if self.stopper is None and run is not None and run.next >= self.after and run.outstanding:
            self.in_flight_at_stop = len(run.outstanding)
            self.stopper = threading.Thread(target=rabbitmqctl, args=("stop_app",))
            self.stopper.start()
            wait_until(lambda: not port_open(), 60, "the broker to stop listening")


@pytest.mark.stops_broker
def test_broker_stopped_mid_batch_loses_nothing_keeps_order_and_drains_after_restart(
    store: Store, queue: BoundQueue, tmp_path: Path
) -> None:
    window = 400
    ids = enqueue_samples(store, 6000, seed=21, private_ratio=0.1)
    expected = public_ids(store)
    clock = FakeClock()
    engine = Engine(
        store, DeliveryConfig(chunk_size=2000, backoff_jitter=0.0), clock=clock, rng=random.Random(0)
    )
    file = FileConnector("file", tmp_path / "file.jsonl")
    base = build_connector(pulse_info("pulse", queue.exchange, confirm_window=window))
    spy = StopsBrokerMidFlight(base.publisher, after=1000)
    pulse = PulseConnector("pulse", spy, "guest")
    try:
        reports, _ = run_cycle(engine, [pulse, file])
        assert spy.stopper is not None
        spy.stopper.join(timeout=120)
        assert spy.in_flight_at_stop > 0  # the broker went down with messages unconfirmed
        assert delivered_ids(tmp_path / "file.jsonl") == ids  # the file connector is unaffected
        assert reports["pulse"].state == "backing_off"
        assert 0 < reports["pulse"].sent < len(expected)
        failed_at, result = log_rows(store, "pulse")[-1]
        assert result == Result.TRANSIENT
        assert "320" in (reports["pulse"].error or "")  # CONNECTION_FORCED, while sending
        assert backlog_ids(store, "pulse") == ids[ids.index(failed_at) :]
        assert pending_ids(store) == []

        # Still down: new messages queue behind the backlog; the file connector carries on.
        more = enqueue_samples(store, 300, seed=22)
        expected += public_ids(store)
        clock.advance(6)
        reports, _ = run_cycle(engine, [pulse, file])
        assert "connection refused" in (reports["pulse"].error or "")
        assert backlog_ids(store, "pulse") == ids[ids.index(failed_at) :] + more
        assert delivered_ids(tmp_path / "file.jsonl") == ids + more
    finally:
        start_broker()
    clock.advance(30)  # past the second backoff (25 s)
    reports, _ = run_cycle(engine, [pulse, file])
    pulse.close()
    assert reports["pulse"].state == "done"
    assert backlog_ids(store, "pulse") == []
    assert store.backoff("pulse").attempts == 0
    received = [m.message_id for m in queue.drain()]
    resent = dedup_keeps_order(received, expected, window)  # ≤ window duplicates, one run, by message_id
    print(f"{spy.in_flight_at_stop} in flight when the broker stopped; {resent} received twice")


@contextlib.contextmanager
def memory_alarm() -> Iterator[None]:
    """Make the broker block publishers (a memory alarm); lift it afterwards."""
    before = rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").strip()
    restore = (
        ["set_vm_memory_high_watermark", "absolute", before.split(",")[1].strip(" }")]
        if before.startswith("{absolute")
        else ["set_vm_memory_high_watermark", before]
    )
    rabbitmqctl("set_vm_memory_high_watermark", "0.0000001")
    try:
        # The broker raises the alarm on its next memory check, not at once: wait until it has.
        wait_until(
            lambda: "memory" in rabbitmqctl("eval", "rabbit_alarm:get_alarms()."), 30, "the memory alarm"
        )
        yield
    finally:
        rabbitmqctl(*restore)


def messages(count: int, seed: int = 23) -> list:
    rows = [
        PushRow(n, store_now(), json.dumps(m["payload"]), m["change_set"], m["routing_key"])
        for n, m in enumerate(BugzillaSimulator(seed=seed, private_ratio=0.0).messages(count), start=1)
    ]
    return [parse_message(r, 10**7) for r in rows]


@pytest.mark.stops_broker
def test_a_broker_blocking_publishers_longer_than_the_timeout_is_transient(queue: BoundQueue) -> None:
    batch = messages(200)
    connector = build_connector(pulse_info("pulse", queue.exchange, blocked_connection_timeout=1.0))
    with connector:
        assert connector.send(batch[:100]) == [Outcome.sent()] * 100
        with memory_alarm():
            outcomes = connector.send(batch[100:])
        assert [o.result for o in outcomes] == [Result.TRANSIENT]
        assert "blocked publishing" in (outcomes[0].detail or "")
        assert connector.send(batch[100:]) == [Outcome.sent()] * 100  # after the alarm, the same messages go
    dedup_keeps_order([m.message_id for m in queue.drain()], list(range(1, 201)), window=100)


def test_a_silent_link_is_noticed_by_the_heartbeat_and_is_transient(queue: BoundQueue) -> None:
    batch = messages(60)
    with FreezableProxy((AMQP_HOST, AMQP_PORT)) as proxy:
        info = pulse_info("pulse", queue.exchange, heartbeat=1, confirm_timeout=120)
        info = replace(info, port=proxy.port)
        with build_connector(info) as connector:
            assert connector.send(batch[:20]) == [Outcome.sent()] * 20
            proxy.freeze()
            outcomes = connector.send(batch[20:40])
            assert [o.result for o in outcomes] == [Result.TRANSIENT]
            assert "no heartbeat" in (outcomes[0].detail or "")
            proxy.cut()  # the dead link's unsent bytes are gone, as on a real network
            assert connector.send(batch[20:]) == [Outcome.sent()] * 40
    assert [m.message_id for m in queue.drain()] == list(range(1, 61))


def test_no_confirm_within_confirm_timeout_is_transient_and_drops_the_connection(queue: BoundQueue) -> None:
    batch = messages(40)
    with FreezableProxy((AMQP_HOST, AMQP_PORT)) as proxy:
        info = pulse_info("pulse", queue.exchange, confirm_timeout=1.5)
        info = replace(info, port=proxy.port)
        with build_connector(info) as connector:
            assert connector.send(batch[:20]) == [Outcome.sent()] * 20
            proxy.freeze()
            outcomes = connector.send(batch[20:])
            assert [o.result for o in outcomes] == [Result.TRANSIENT]
            assert "confirm_timeout" in (outcomes[0].detail or "")
            assert not connector.publisher.connected
            proxy.cut()
            assert connector.send(batch[20:]) == [Outcome.sent()] * 20
            assert connector.publisher.connections_opened == 2
    assert [m.message_id for m in queue.drain()] == list(range(1, 41))


def test_messages_stored_by_the_broker_but_never_confirmed_are_resent_and_recognisable(
    queue: BoundQueue,
) -> None:
    window = 100
    batch = messages(300)
    with FreezableProxy((AMQP_HOST, AMQP_PORT)) as proxy:
        info = pulse_info("pulse", queue.exchange, confirm_window=window, confirm_timeout=1.5)
        with build_connector(replace(info, port=proxy.port)) as connector:
            assert connector.send(batch[:50]) == [Outcome.sent()] * 50
            proxy.hold_replies()  # the broker gets the messages; its confirms are lost on the way back
            outcomes = connector.send(batch[50:])
            assert [o.result for o in outcomes] == [Result.TRANSIENT]
            assert "confirm_timeout" in (outcomes[0].detail or "")
            wait_until(lambda: queue.depth() == 50 + window, 30, "the unconfirmed window to be queued")
            proxy.cut()
            assert connector.send(batch[50:]) == [Outcome.sent()] * 250
    received = queue.drain()
    ids = [m.message_id for m in received]
    assert dedup_keeps_order(ids, list(range(1, 301)), window) == window  # exactly the window, once more
    copies: dict[int, list] = {}
    for m in received:
        copies.setdefault(m.message_id, []).append((m.routing_key, m.body))
    twice = {i for i, c in copies.items() if len(c) == 2}
    assert twice == set(range(51, 51 + window))
    assert all(c[0] == c[1] for c in copies.values() if len(c) == 2)  # same message_id, same message
