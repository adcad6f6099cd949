"""The connector contract: every connector passes the same tests against its real server or double.

As Watermill's `tests.TestPubSub` runs against every Pub/Sub, each test here runs for every case in
:data:`~tests.integration.connectors.contract_cases.CASES`, through the real engine on a real store.
What a test checks is observable only: what the destination received (read back from the file, the
queue, the double or the receiver) and what the store says (push_log, dead letters, backlog,
backoff). A test that needs what a case lacks (its `Features`) is not generated for it.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, cast

import pytest

from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors.base import ConnectorFatal
from bugzilla_push.engine import Engine
from bugzilla_push.model import Result
from tests.integration.connectors.contract_cases import cases
from tests.support import backlog_ids, enqueue_samples, log_rows, pending_ids, run_cycle, sqlite_store

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from bugzilla_push.reports import DeliveryReport
    from bugzilla_push.store import Store
    from tests.fakes import FakeClock
    from tests.integration.connectors.contract_cases import Case, Destination

pytestmark = pytest.mark.integration

CHUNK = 3  # messages per send where a test needs several sends in one run


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with sqlite_store(tmp_path) as s:
        yield s


@pytest.fixture
def dest(case: Case, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Destination]:
    with case.open(request, tmp_path) as destination:
        try:
            yield destination
        finally:
            destination.heal()


@pytest.fixture
def engine(store: Store, clock: FakeClock) -> Engine:
    return engine_on(store, clock)


def engine_on(store: Any, clock: FakeClock) -> Engine:
    return Engine(cast("Store", store), DeliveryConfig(backoff_jitter=0.0), clock=clock, rng=random.Random(0))


def run(engine: Engine, dest: Destination, chunk: int | None = None) -> DeliveryReport:
    """One DAG run to the destination's connector (`chunk` messages per send, if given)."""
    with dest.connector() as connector:
        if chunk:
            connector.chunk_size = chunk
        reports, _ = run_cycle(engine, [connector])
    return reports[dest.name]


class OnCommit:
    """The real store, calling `hook` before each commit of delivery progress: a test acts between sends.

    :param hook: may raise (a process killed before its commit)
    """

    def __init__(self, store: Store, hook: Callable[[], None]) -> None:
        self.store = store
        self.hook = hook

    def record(self, commit: Any) -> None:
        self.hook()
        self.store.record(commit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def enqueue(store: Store, count: int, seed: int) -> list[int]:
    """Queue public messages: which private ones a connector sends is its own rule, tested with it."""
    return enqueue_samples(store, count, seed=seed, public_only=True)


def dead_letters(store: Store, name: str) -> list[tuple[int, str]]:
    rows = store.query(
        "SELECT message_id, reason FROM push_dead_letter WHERE connector = %(c)s ORDER BY message_id",
        {"c": name},
    )
    return [(i, reason) for i, reason in rows]


@pytest.mark.parametrize("case", cases())
def test_messages_arrive_in_push_id_order_across_sends_and_runs(
    dest: Destination, store: Store, engine: Engine
) -> None:
    first = enqueue(store, 10, seed=1)
    report = run(engine, dest, chunk=CHUNK)
    second = enqueue(store, 5, seed=2)
    run(engine, dest)
    assert dest.received() == first + second
    assert report.sent == len(first)
    assert log_rows(store, dest.name) == [(i, Result.OK) for i in first + second]
    assert backlog_ids(store, dest.name) == []
    assert pending_ids(store) == []


@pytest.mark.parametrize("case", cases())
def test_a_transient_failure_stops_delivery_there_and_the_rest_follows_in_order(
    dest: Destination, store: Store, clock: FakeClock
) -> None:
    ids = enqueue(store, 8, seed=3)
    broken: list[bool] = []

    def outage_after_first_send() -> None:
        if not broken:
            broken.append(True)
            dest.break_down()

    # The outage starts as the first send is committed: the second send meets it at its first message.
    engine = engine_on(OnCommit(store, outage_after_first_send), clock)
    report = run(engine, dest, chunk=CHUNK)
    assert report.state == "backing_off"
    assert dest.received() == ids[:CHUNK]  # nothing after the failed message was taken
    assert backlog_ids(store, dest.name) == ids[CHUNK:]
    assert log_rows(store, dest.name) == [(i, Result.OK) for i in ids[:CHUNK]] + [
        (ids[CHUNK], Result.TRANSIENT)
    ]
    assert pending_ids(store) == []

    dest.heal()
    clock.advance(6)  # past the first backoff (5 s)
    engine = engine_on(store, clock)
    report = run(engine, dest)
    assert dest.received() == ids  # the backlog, in order, nothing lost
    assert report.backlog_sent == len(ids) - CHUNK
    assert backlog_ids(store, dest.name) == []
    assert store.backoff(dest.name).attempts == 0


@pytest.mark.parametrize("case", cases("refuses_one_message"))
def test_a_message_fatal_item_is_dead_lettered_with_its_reason_and_the_rest_is_sent(
    dest: Destination, store: Store, engine: Engine
) -> None:
    ids = enqueue(store, 6, seed=4)
    says = dest.refuse(store, ids[2], 2)
    report = run(engine, dest)
    assert report.dead == 1
    [(dead_id, reason)] = dead_letters(store, dest.name)
    assert dead_id == ids[2]
    assert says in reason
    assert dest.received() == ids[:2] + ids[3:]
    assert (ids[2], Result.ERROR) in log_rows(store, dest.name)
    assert backlog_ids(store, dest.name) == []
    assert pending_ids(store) == []


@pytest.mark.parametrize("case", cases("fails_as_a_whole"))
def test_a_connector_fatal_error_fails_the_delivery_keeps_everything_and_backs_off(
    dest: Destination, store: Store, engine: Engine, clock: FakeClock
) -> None:
    before = enqueue(store, 4, seed=5)
    run(engine, dest)
    says = dest.break_for_good()
    ids = enqueue(store, 4, seed=6)
    batch = engine.open_batch("run", [dest.name])
    with dest.connector() as connector, pytest.raises(ConnectorFatal) as failure:
        engine.deliver(batch, connector)
    engine.finalize(batch)
    assert says in str(failure.value)
    assert dest.received() == before
    assert backlog_ids(store, dest.name) == ids
    assert pending_ids(store) == []
    backoff = store.backoff(dest.name)
    assert backoff.attempts == 1
    assert backoff.next_attempt_ts is not None
    assert backoff.next_attempt_ts > clock.now

    dest.heal()  # an operator fixes it; the backoff still holds until it ends
    later = enqueue(store, 2, seed=7)
    assert run(engine, dest).state == "backing_off"
    assert dest.received() == before
    assert backlog_ids(store, dest.name) == ids + later

    clock.advance(6)
    run(engine, dest)
    assert dest.received() == before + ids + later
    assert backlog_ids(store, dest.name) == []
    assert store.backoff(dest.name).attempts == 0


class Killed(Exception):
    """The deliverer died after sending and before committing."""


@pytest.mark.parametrize("case", cases())
def test_a_chunk_sent_again_after_a_crash_is_harmless(
    case: Case, dest: Destination, store: Store, clock: FakeClock
) -> None:
    ids = enqueue(store, 7, seed=8)

    def kill() -> None:
        raise Killed

    engine = engine_on(OnCommit(store, kill), clock)
    batch = engine.open_batch("killed-run", [dest.name])
    with dest.connector() as connector:
        connector.chunk_size = CHUNK
        with pytest.raises(Killed):
            engine.deliver(batch, connector)
    assert dest.received() == ids[:CHUNK]  # sent, but the progress was never committed

    engine = engine_on(store, clock)  # the next run adopts the batch and sends that chunk again
    assert engine.open_batch("next-run", [dest.name]).adopted
    with dest.connector() as connector:
        engine.deliver(batch, connector)
    engine.finalize(batch)
    assert dest.received() == ids[:CHUNK] + ids  # the re-send reached the destination
    assert dest.kept() == ids, f"{dest.name}: {case.harmless}"
    assert backlog_ids(store, dest.name) == []
    assert pending_ids(store) == []
