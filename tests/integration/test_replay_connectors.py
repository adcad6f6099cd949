"""Replays through the real destinations: a time window to Pulse while live messages keep flowing,
and everything again to Elasticsearch, which versions make a no-op."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors import build_connector
from bugzilla_push.engine import Engine
from bugzilla_push.store import open_store
from bugzilla_push.store.replays import Replays, Selector
from tests.doubles.elasticsearch_server import EsTestServer
from tests.elasticsearch_support import Target, snapshot
from tests.integration.connectors.pulse.support import is_public_or_privacy_transition, pulse_info, rows
from tests.support import enqueue_samples, run_cycle

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bugzilla_push.store import Store
    from tests.fakes import FakeClock
    from tests.integration.connectors.pulse.support import BoundQueue

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    with open_store(pg_url) as store:
        store.create_schema()
        yield store


def engine_for(store: Store, clock: FakeClock) -> Engine:
    return Engine(
        store, DeliveryConfig(replay_batch=300, backoff_jitter=0.0), clock=clock, rng=random.Random(3)
    )


def spread_push_times(store: Store, ids: list[int], start: object) -> None:
    """Give archived messages push times a minute apart, so a window picks some of them."""
    with store.transaction() as cur:
        for n, push_id in enumerate(ids):
            store.execute(
                cur,
                "UPDATE push_archive SET push_ts = %(ts)s WHERE message_id = %(i)s",
                {"ts": store.dialect.to_db(start + timedelta(minutes=n)), "i": push_id},
            )


def test_a_window_replayed_to_pulse_is_exactly_that_window_in_order_while_live_messages_flow(
    pg_store: Store, queue: BoundQueue, clock: FakeClock
) -> None:
    store, engine = pg_store, engine_for(pg_store, clock)
    first = enqueue_samples(store, 1000, private_ratio=0.1)
    published = [r.id for r in rows(store) if is_public_or_privacy_transition(r)]
    with build_connector(pulse_info("pulse", queue.exchange)) as pulse:
        run_cycle(engine, [pulse])
    assert [m.message_id for m in queue.drain()] == published
    start = clock.now - timedelta(days=1)
    spread_push_times(store, first, start)
    since, until = start + timedelta(minutes=100), start + timedelta(minutes=900)
    window = [i for n, i in enumerate(first) if 100 <= n < 900 and i in published]
    Replays(store).create(clock.now, "admin", ["pulse"], Selector(since=since, until=until))

    live: list[int] = []
    runs = 0
    with build_connector(pulse_info("pulse", queue.exchange)) as pulse:
        while Replays(store).active("pulse") or runs == 0:
            new = enqueue_samples(store, 30, seed=100 + runs, private_ratio=0.1)
            live += [r.id for r in rows(store) if is_public_or_privacy_transition(r)]
            run_cycle(engine, [pulse])
            runs += 1
            assert runs < 10
            assert new  # live messages went in every run
    received = [m.message_id for m in queue.drain()]
    assert runs == 3  # 800 archived in the window, 300 a run: it took three runs beside live delivery
    assert [i for i in received if i in set(live)] == live  # live delivery: complete and in order
    assert [i for i in received if i not in set(live)] == window  # exactly the window, in order
    # Each run put its live messages first: no live message waited behind a replay slice.
    positions = {i: n for n, i in enumerate(received)}
    assert all(positions[live[0]] < positions[w] for w in window[:300])


def test_replaying_everything_to_elasticsearch_changes_nothing(pg_store: Store, clock: FakeClock) -> None:
    store, engine = pg_store, engine_for(pg_store, clock)
    ids = enqueue_samples(store, 600, private_ratio=0.1)
    with EsTestServer() as double:
        target = Target(double.url)
        with target.connector() as es_connector:
            run_cycle(engine, [es_connector])
        with target.client() as es:
            before = snapshot(es, target)
        assert before  # the index holds the stream
        Replays(store).create(clock.now, "admin", ["elasticsearch"], Selector(push_ids=tuple(ids)))
        with target.connector() as es_connector:
            while Replays(store).active("elasticsearch"):
                run_cycle(engine, [es_connector])
        with target.client() as es:
            after = snapshot(es, target)
    assert after == before  # same documents, same versions: every replayed write was already applied
    replayed = store.query(
        "SELECT COUNT(*) FROM push_log WHERE connector = 'elasticsearch' AND data LIKE 'replay #%%'"
    )
    assert replayed[0][0] > 0
