"""The spec's invariants 1–4 and 7, on every database (`db_url` is parametrised).

A scripted connector (a test double) fails where each test says; the store is real.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from bugzilla_push.backoff import Backoff
from bugzilla_push.config import DeliveryConfig
from bugzilla_push.engine import Engine
from bugzilla_push.model import Result
from bugzilla_push.store import Commit, NewMessage, Store, open_store
from tests.fakes import FakeClock, ScriptedConnector, always, fail_at
from tests.support import backlog_ids, clear, enqueue_samples, log_rows, pending_ids, run_cycle, store_now

pytestmark = pytest.mark.integration

BATCH = 12


def engine_for(store: Store, clock: FakeClock, **settings: object) -> Engine:
    config = DeliveryConfig(**{"batch_size": 1000, "chunk_size": 5, "backoff_jitter": 0.0, **settings})
    return Engine(store, config, clock=clock, rng=random.Random(0))


def test_transient_failure_at_every_position_keeps_order_and_loses_nothing(
    db_url: str, clock: FakeClock
) -> None:
    for position in range(BATCH):
        with open_store(db_url) as store:
            store.create_schema()
            clear(store)
            ids = enqueue_samples(store, BATCH, seed=position)
            failing = ids[position]
            connector = ScriptedConnector("pulse", fail_at(failing, Result.TRANSIENT))
            engine = engine_for(store, clock)

            reports, final = run_cycle(engine, [connector])
            assert connector.received == ids[:position]
            assert backlog_ids(store, "pulse") == ids[position:]
            assert pending_ids(store) == []
            assert final.deleted == BATCH
            assert log_rows(store, "pulse") == [(i, Result.OK) for i in ids[:position]] + [
                (failing, Result.TRANSIENT)
            ]
            assert reports["pulse"].state == "backing_off"

            clock.advance(6)  # past the first backoff (5 s)
            run_cycle(engine, [connector])
            assert connector.received == ids, f"failure at position {position}"
            assert backlog_ids(store, "pulse") == []
            assert store.backoff("pulse").attempts == 0


def test_permanent_error_at_every_position_dead_letters_only_that_message(
    db_url: str, clock: FakeClock
) -> None:
    with open_store(db_url) as store:
        store.create_schema()
        for position in range(BATCH):
            ids = enqueue_samples(store, BATCH, seed=position)
            name = f"hook{position}"
            connector = ScriptedConnector(name, fail_at(ids[position], Result.ERROR))
            run_cycle(engine_for(store, clock), [connector])
            assert connector.received == ids[:position] + ids[position + 1 :]
            dead = store.query(
                "SELECT message_id, reason FROM push_dead_letter WHERE connector = %(c)s", {"c": name}
            )
            assert dead == [(ids[position], "scripted ERROR")]
            assert backlog_ids(store, name) == []
            assert pending_ids(store) == []


def test_filtered_messages_are_logged_as_ignored(store: Store, clock: FakeClock) -> None:
    ids = enqueue_samples(store, 20)
    connector = ScriptedConnector("pulse", accept=lambda m: m.target == "bug")
    run_cycle(engine_for(store, clock), [connector])
    results = dict(log_rows(store, "pulse"))
    assert set(results) == set(ids)
    assert {results[i] for i in ids if i not in connector.received} == {Result.IGNORED}
    assert connector.received
    assert len(connector.received) < len(ids)


def test_a_connector_that_is_down_never_holds_up_another(store: Store, clock: FakeClock) -> None:
    down = ScriptedConnector("pulse", always(Result.TRANSIENT, "connection refused"))
    healthy = ScriptedConnector("file")
    engine = engine_for(store, clock)
    delivered: list[int] = []
    for _ in range(4):
        delivered += enqueue_samples(store, 7, seed=len(delivered))
        reports, _ = run_cycle(engine, [down, healthy])
        assert healthy.received == delivered
        assert backlog_ids(store, "pulse") == delivered  # everything waits, in order
        clock.advance(2)  # mostly still inside the backoff window: no attempt, rows queue behind
    assert reports["pulse"].state == "backing_off"
    assert store.status().connectors["pulse"].backlog == len(delivered)


def test_a_slow_connector_does_not_delay_another(db_url: str, clock: FakeClock) -> None:
    with open_store(db_url) as store:
        store.create_schema()
        enqueue_samples(store, 10)
        batch = engine_for(store, clock).open_batch("run", ["slow", "fast"])
    slow, fast = ScriptedConnector("slow", delay=3.0), ScriptedConnector("fast")

    def deliver_slow() -> None:
        with open_store(db_url) as own:
            engine_for(own, clock).deliver(batch, slow)

    thread = threading.Thread(target=deliver_slow)
    thread.start()
    assert slow.sending.wait(10)
    started = time.monotonic()
    with open_store(db_url) as own:
        report = engine_for(own, clock).deliver(batch, fast)
    fast_seconds = time.monotonic() - started
    thread.join()
    assert report.sent == 10
    assert fast_seconds < 1.5, f"fast connector took {fast_seconds:.2f} s"
    assert slow.received == fast.received


def test_backlog_drains_in_order_before_new_messages_after_recovery(store: Store, clock: FakeClock) -> None:
    state = {"up": False}
    connector = ScriptedConnector(
        "pulse", lambda m, n: always(Result.OK)(m, n) if state["up"] else always(Result.TRANSIENT)(m, n)
    )
    engine = engine_for(store, clock)
    ids: list[int] = []
    for run in range(5):
        ids += enqueue_samples(store, 6, seed=run)
        run_cycle(engine, [connector])
        clock.advance(1000)  # every run attempts (beyond the longest backoff)
    assert connector.received == []
    assert backlog_ids(store, "pulse") == ids
    state["up"] = True
    ids += enqueue_samples(store, 6, seed=99)
    reports, _ = run_cycle(engine, [connector])
    assert connector.received == ids  # the backlog first, then the new batch, one push-id order
    assert reports["pulse"].backlog_sent == 30
    assert reports["pulse"].sent == 36
    assert store.backoff("pulse").attempts == 0


def test_backoff_grows_is_capped_and_resets_after_a_success(store: Store, clock: FakeClock) -> None:
    state = {"up": False}
    connector = ScriptedConnector(
        "pulse", lambda m, n: always(Result.OK if state["up"] else Result.TRANSIENT)(m, n)
    )
    engine = engine_for(store, clock)
    enqueue_samples(store, 3)
    waits = []
    for _ in range(7):
        run_cycle(engine, [connector])
        backoff = store.backoff("pulse")
        waits.append(round((backoff.next_attempt_ts - clock.now).total_seconds()))
        clock.now = backoff.next_attempt_ts
    assert waits == [5, 25, 125, 625, 900, 900, 900]
    attempts_before = connector.calls
    clock.advance(-1)  # inside the window: no attempt at all
    run_cycle(engine, [connector])
    assert connector.calls == attempts_before
    clock.advance(1)
    state["up"] = True
    run_cycle(engine, [connector])
    assert store.backoff("pulse").attempts == 0
    assert backlog_ids(store, "pulse") == []


def test_backoff_has_jitter(store: Store, clock: FakeClock) -> None:
    connector = ScriptedConnector("pulse", always(Result.TRANSIENT))
    enqueue_samples(store, 2)
    engine = Engine(store, DeliveryConfig(backoff_jitter=0.2), clock=clock, rng=random.Random(7))
    waits = set()
    for _ in range(5):
        # Three failures so far, due now: the next one waits 5**4 = 625 s less up to 20 %. (Bugzilla's
        # DATETIME keeps whole seconds, so jitter shows on the longer waits.)
        store.record(Commit("pulse", clock.now, backoff=Backoff(3, None)))
        run_cycle(engine, [connector])
        waits.add((store.backoff("pulse").next_attempt_ts - clock.now).total_seconds())
    assert len(waits) >= 4, waits
    assert all(500 <= w <= 625 for w in waits), waits


def test_bad_rows_are_dead_lettered_with_a_reason_and_the_queue_moves_on(
    store: Store, clock: FakeClock
) -> None:
    good = enqueue_samples(store, 3)
    bad = [
        NewMessage('{"bug": {"id": 1}, "event": {', "bug.modify:status", "1.1"),
        NewMessage('{"bug": {"id": 2}}', "bug.modify:status", "1.2"),
        NewMessage(
            '{"bug": {"id": 3}, "event": {"action": "create", "target": "bug"}}', "comment.create", "1.3"
        ),
        NewMessage(
            '{"bug": {"id": 4, "summary": "'
            + "x" * 5000
            + '"}, "event": {"action": "create", "target": "bug"}}',
            "bug.create",
            "1.4",
        ),
        NewMessage(
            '{"widget": {"id": 5}, "event": {"action": "create", "target": "widget"}}', "widget.create", "1.5"
        ),
    ]
    store.enqueue(bad, store_now())
    later = enqueue_samples(store, 3, seed=2)
    connector = ScriptedConnector("file")
    engine = engine_for(store, clock, max_payload_bytes=4096)
    reports, _ = run_cycle(engine, [connector])
    assert connector.received == good + later
    reasons = [r[0] for r in store.query("SELECT reason FROM push_dead_letter ORDER BY message_id")]
    assert len(reasons) == 5
    for reason, expected in zip(
        reasons,
        [
            "not valid JSON",
            "no 'event' object",
            "does not match the payload",
            "over the limit",
            "unknown target",
        ],
        strict=True,
    ):
        assert expected in reason
    assert reports["file"].dead == 5
    assert pending_ids(store) == []


def test_a_subset_run_keeps_the_other_connectors_messages_in_their_backlog(
    store: Store, clock: FakeClock
) -> None:
    pulse, file = ScriptedConnector("pulse"), ScriptedConnector("file")
    engine = engine_for(store, clock)
    first = enqueue_samples(store, 5)
    run_cycle(engine, [pulse, file], selected=["file"])
    assert file.received == first
    assert pulse.received == []
    assert backlog_ids(store, "pulse") == first
    assert pending_ids(store) == []
    second = enqueue_samples(store, 5, seed=3)
    run_cycle(engine, [pulse, file])
    assert pulse.received == first + second
    assert file.received == first + second


def test_a_connector_fatal_error_keeps_everything_and_fails_loudly(store: Store, clock: FakeClock) -> None:
    from bugzilla_push.connectors import ConnectorFatal
    from tests.fakes import raise_fatal

    broken, healthy = ScriptedConnector("pulse", raise_fatal), ScriptedConnector("file")
    engine = engine_for(store, clock)
    ids = enqueue_samples(store, 8)
    batch = engine.open_batch("run", ["pulse", "file"])
    with pytest.raises(ConnectorFatal, match="authentication failed"):
        engine.deliver(batch, broken)
    engine.deliver(batch, healthy)
    engine.finalize(batch)
    assert healthy.received == ids
    assert backlog_ids(store, "pulse") == ids
    assert "authentication failed" in store.status().connectors["pulse"].last_error
    assert store.backoff("pulse").attempts == 1


def test_a_fatal_error_midway_keeps_what_the_destination_answered(store: Store, clock: FakeClock) -> None:
    from bugzilla_push.connectors import ConnectorFatal
    from tests.fakes import fatal_after

    connector = ScriptedConnector("pulse", before_send=fatal_after(7))  # chunks of 5: fails inside the 2nd
    engine = engine_for(store, clock)
    ids = enqueue_samples(store, 12)
    batch = engine.open_batch("run", ["pulse"])
    with pytest.raises(ConnectorFatal, match="access refused"):
        engine.deliver(batch, connector)
    engine.finalize(batch)
    assert connector.received == ids[:7]
    assert backlog_ids(store, "pulse") == ids[7:]
    assert log_rows(store, "pulse") == [(i, Result.OK) for i in ids[:7]] + [(ids[7], Result.TRANSIENT)]
    assert "access refused" in store.status().connectors["pulse"].last_error
