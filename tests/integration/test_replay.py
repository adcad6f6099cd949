"""Replay and backfill: archived messages sent again in their original order, beside live delivery."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.config import DeliveryConfig
from bugzilla_push.engine import Engine
from bugzilla_push.model import PushRow, Result, parse_message
from bugzilla_push.store import open_store
from bugzilla_push.store.replays import ReplayError, Replays, Selector
from tests.fakes import FakeClock, ScriptedConnector, fail_at
from tests.support import enqueue_samples, run_cycle

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bugzilla_push.store import Store

pytestmark = pytest.mark.integration


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with open_store(db_url) as s:
        s.create_schema()
        yield s


def engine_for(store: Store, clock: FakeClock, **settings: object) -> Engine:
    config = DeliveryConfig(**{"chunk_size": 7, "replay_batch": 20, "backoff_jitter": 0.0, **settings})
    return Engine(store, config, clock=clock, rng=random.Random(0))


def archived(store: Store) -> list[tuple[int, object]]:
    return [
        (i, store.dialect.from_db(ts))
        for i, ts in store.query("SELECT message_id, push_ts FROM push_archive ORDER BY message_id")
    ]


def test_delivered_rows_are_archived_as_they_were(store: Store) -> None:
    clock = FakeClock()
    enqueue_samples(store, 15)
    before = store.query("SELECT id, push_ts, payload, change_set, routing_key FROM push ORDER BY id")
    run_cycle(engine_for(store, clock), [ScriptedConnector("pulse")])
    after = store.query(
        "SELECT message_id, push_ts, payload, change_set, routing_key FROM push_archive ORDER BY message_id"
    )
    assert after == before
    assert store.query("SELECT COUNT(*) FROM push")[0][0] == 0


def test_a_window_replay_sends_exactly_that_window_in_order_while_live_messages_flow(store: Store) -> None:
    clock = FakeClock()
    engine = engine_for(store, clock)
    pulse = ScriptedConnector("pulse")
    first = enqueue_samples(store, 60)
    run_cycle(engine, [pulse])
    # Give the archived rows distinct push times, a minute apart, and pick a window of 45 of them.
    with store.transaction() as cur:
        for n, push_id in enumerate(first):
            store.execute(
                cur,
                "UPDATE push_archive SET push_ts = %(ts)s WHERE message_id = %(i)s",
                {"ts": store.dialect.to_db(clock.now - timedelta(minutes=100 - n)), "i": push_id},
            )
    window = [
        i
        for i, ts in archived(store)
        if clock.now - timedelta(minutes=90) <= ts < clock.now - timedelta(minutes=45)
    ]
    assert len(window) == 45
    Replays(store).create(
        clock.now,
        "admin",
        ["pulse"],
        Selector(since=clock.now - timedelta(minutes=90), until=clock.now - timedelta(minutes=45)),
    )
    pulse.received.clear()
    live: list[int] = []
    runs = 0
    while True:
        new = enqueue_samples(store, 5, seed=runs + 7)
        live += new
        before = len(pulse.received)
        run_cycle(engine, [pulse])
        runs += 1
        got = pulse.received[before:]
        assert got[: len(new)] == new  # every run delivers its live messages first, none held up
        if not Replays(store).active("pulse"):
            break
        assert runs < 10
    assert runs == 3  # 45 archived messages, at most 20 a run
    replayed = [i for i in pulse.received if i not in live]
    assert replayed == window  # exactly the window, in the original order
    assert [i for i in pulse.received if i in live] == live
    replay_log = store.query("SELECT message_id FROM push_log WHERE data LIKE 'replay #%%' ORDER BY id")
    assert [r[0] for r in replay_log] == window
    assert Replays(store).recent()[0]["state"] == "done"


def test_replay_by_bug_ids_and_by_push_ids(store: Store) -> None:
    clock = FakeClock()
    engine = engine_for(store, clock, replay_batch=1000)
    pulse = ScriptedConnector("pulse")
    ids = enqueue_samples(store, 80)
    run_cycle(engine, [pulse])
    rows = {
        i: PushRow(i, clock.now, p, "1", k)
        for i, p, k in store.query("SELECT message_id, payload, routing_key FROM push_archive")
    }
    bug = parse_message(rows[ids[0]], 10**7).bug["id"]
    about_bug = [i for i in ids if (parse_message(rows[i], 10**7).bug or {}).get("id") == bug]
    assert 1 < len(about_bug) < len(ids)
    Replays(store).create(clock.now, "admin", ["pulse"], Selector(bug_ids=(bug,)))
    pulse.received.clear()
    run_cycle(engine, [pulse])
    assert pulse.received == about_bug

    pulse.received.clear()
    Replays(store).create(clock.now, "admin", ["pulse"], Selector(push_ids=(ids[5], ids[2], ids[40])))
    run_cycle(engine, [pulse])
    assert pulse.received == [ids[2], ids[5], ids[40]]


def test_a_replay_stopped_by_a_transient_failure_goes_on_from_there(store: Store) -> None:
    clock = FakeClock()
    engine = engine_for(store, clock, replay_batch=1000)
    ids = enqueue_samples(store, 30)
    run_cycle(engine, [ScriptedConnector("pulse")])
    flaky = ScriptedConnector("pulse", fail_at(ids[12], Result.TRANSIENT))
    Replays(store).create(clock.now, "admin", ["pulse"], Selector(push_ids=tuple(ids)))
    run_cycle(engine, [flaky])
    assert flaky.received == ids[:12]
    progress = store.query("SELECT through_id, state, error FROM push_replay_connector")[0]
    assert progress[0] == ids[11]
    assert progress[1] == "active"
    assert "scripted" in progress[2]
    run_cycle(engine, [flaky])
    assert flaky.received == ids  # from where it stopped, nothing twice


def test_bad_replay_requests_are_refused_with_a_reason(store: Store) -> None:
    clock = FakeClock()
    replays = Replays(store)
    with pytest.raises(ReplayError, match="needs a time window, bug ids or push ids"):
        replays.create(clock.now, "admin", ["pulse"], Selector())
    with pytest.raises(ReplayError, match="window is empty"):
        replays.create(clock.now, "admin", ["pulse"], Selector(since=clock.now, until=clock.now))
    with pytest.raises(ReplayError, match="at least one connector"):
        replays.create(clock.now, "admin", [], Selector(push_ids=(1,)))


def test_a_paused_connector_replays_nothing_and_loses_nothing(store: Store) -> None:
    clock = FakeClock()
    engine = engine_for(store, clock)
    pulse = ScriptedConnector("pulse")
    ids = enqueue_samples(store, 10)
    run_cycle(engine, [pulse])
    Replays(store).create(clock.now, "admin", ["pulse"], Selector(push_ids=tuple(ids)))
    store.set_paused("pulse", True, "admin", clock.now, reason="receiver maintenance")
    more = enqueue_samples(store, 4, seed=3)
    reports, _ = run_cycle(engine, [pulse])
    assert reports["pulse"].state == "paused"
    assert pulse.received == ids  # nothing new sent while paused
    store.set_paused("pulse", False, "admin", clock.now)
    run_cycle(engine, [pulse])
    assert pulse.received == ids + more + ids  # backlog first, then the replay
