"""Failures of an Elasticsearch cluster, injected by the test double, through the real engine and store.

These need the double (a real cluster cannot be told to answer 429 for its 37th item), so they
are not part of the contract suite. What the engine decides is observed in the store (push_log,
backlog, dead letters), what reached the cluster through the double's request log and a snapshot.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors.base import ConnectorFatal
from bugzilla_push.connectors.elasticsearch.documents import privacy_transition
from bugzilla_push.engine import Engine
from bugzilla_push.model import Result
from bugzilla_push.store import open_store
from tests.doubles.elasticsearch_server import EsTestServer
from tests.elasticsearch_support import (
    Target,
    expected_documents,
    pending_messages,
    sample_messages,
    send_all,
    snapshot,
    sources,
)
from tests.support import backlog_ids, enqueue_samples, log_rows, pending_ids, run_cycle

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bugzilla_push.store import Store
    from tests.fakes import FakeClock

pytestmark = pytest.mark.integration


@pytest.fixture
def double() -> Iterator[EsTestServer]:
    with EsTestServer() as server:
        yield server


@pytest.fixture
def target(double: EsTestServer) -> Target:
    return Target(double.url)


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    with open_store(pg_url) as s:
        s.create_schema()
        yield s


def engine_for(store: Store, clock: FakeClock, chunk_size: int = 100) -> Engine:
    config = DeliveryConfig(batch_size=10_000, chunk_size=chunk_size, backoff_jitter=0.0)
    return Engine(store, config, clock=clock, rng=random.Random(0))


def sent_log(store: Store) -> list[tuple[int, int]]:
    """push_log rows of messages the connector was given (IGNORED ones, private creations, left out)."""
    return [r for r in log_rows(store, "elasticsearch") if r[1] != Result.IGNORED]


def dead_letters(store: Store) -> list[tuple[int, str]]:
    return [
        tuple(r) for r in store.query("SELECT message_id, reason FROM push_dead_letter ORDER BY message_id")
    ]


@pytest.mark.parametrize("position", [0, 36])
def test_a_429_on_an_item_acknowledges_those_before_and_backlogs_it_and_the_rest_in_order(
    db_url: str, double: EsTestServer, target: Target, clock: FakeClock, position: int
) -> None:
    with open_store(db_url) as store:
        store.create_schema()
        ids = enqueue_samples(store, 150, seed=5, private_ratio=0.1)
        messages = pending_messages(store)
        double.faults.reject_items(429, positions=(position,))
        engine = engine_for(store, clock)
        with target.connector(bulk_size=500) as connector:
            reports, _ = run_cycle(engine, [connector])

        first = double.bulk_requests()[0]
        failed_id = first.items[position][3]  # the item's version is its message's push id
        sendable = [m.id for m in messages if connector.should_send(m)]  # the rest is IGNORED (private)
        before = [i for i in sendable if i < failed_id]
        assert set(before) == {v for *_, v in first.items[:position]} - {failed_id}
        assert sent_log(store) == [(i, Result.OK) for i in before] + [(failed_id, Result.TRANSIENT)]
        assert backlog_ids(store, "elasticsearch") == [i for i in ids if i >= failed_id]
        assert pending_ids(store) == []
        assert reports["elasticsearch"].state == "backing_off"
        assert "es_rejected_execution_exception" in (reports["elasticsearch"].error or "")

        clock.advance(6)
        with target.connector(bulk_size=500) as connector:
            run_cycle(engine, [connector])
        resent = double.bulk_requests()[1]
        assert resent.items[0][3] == failed_id  # the backlog goes first, oldest first
        assert backlog_ids(store, "elasticsearch") == []
        assert [r for r in sent_log(store) if r[1] == Result.OK] == [(i, Result.OK) for i in sendable]
        assert {i for i, r in log_rows(store, "elasticsearch") if r != Result.TRANSIENT} == set(ids)
    with target.client() as es:
        assert sources(snapshot(es, target)) == expected_documents(messages, False)["public"]


def test_a_400_on_one_item_dead_letters_that_message_only(
    db_url: str, double: EsTestServer, target: Target, clock: FakeClock
) -> None:
    with open_store(db_url) as store:
        store.create_schema()
        ids = enqueue_samples(store, 120, seed=6, private_ratio=0.0)
        # A comment or attachment: its document id is in no other message (a bug's is in all of its).
        victim = next(m for m in pending_messages(store)[40:] if m.target != "bug")
        double.faults.reject_items(400, doc_ids=(str(victim.object["id"]),))
        with target.connector() as connector:
            reports, _ = run_cycle(engine_for(store, clock), [connector])
        assert reports["elasticsearch"].dead == 1
        assert reports["elasticsearch"].sent + reports["elasticsearch"].ignored == len(ids) - 1
        [(dead_id, reason)] = dead_letters(store)
        assert dead_id == victim.id
        assert "400 document_parsing_exception" in reason
        assert backlog_ids(store, "elasticsearch") == []
        assert pending_ids(store) == []


def test_a_503_for_a_whole_request_keeps_the_requests_before_it_and_the_next_run_completes(
    store: Store, double: EsTestServer, target: Target, clock: FakeClock
) -> None:
    ids = enqueue_samples(store, 100, seed=7, private_ratio=0.0)
    messages = pending_messages(store)
    double.faults.fail_requests(503, after=1)
    engine = engine_for(store, clock)
    with target.connector(bulk_size=30, retries=0) as connector:
        reports, _ = run_cycle(engine, [connector])
    first, second = double.bulk_requests()[:2]
    assert second.status == 503
    sent = sorted({item[3] for item in first.items})
    failed_id = next(m.id for m in messages if m.id > sent[-1] and connector.should_send(m))
    assert sent_log(store) == [(i, Result.OK) for i in sent] + [(failed_id, Result.TRANSIENT)]
    assert backlog_ids(store, "elasticsearch") == [i for i in ids if i >= failed_id]
    assert "503" in (reports["elasticsearch"].error or "")

    clock.advance(6)
    with target.connector(bulk_size=30, retries=0) as connector:
        run_cycle(engine, [connector])
    assert backlog_ids(store, "elasticsearch") == []
    with target.client() as es:
        assert sources(snapshot(es, target)) == expected_documents(messages, False)["public"]


def test_the_client_retries_a_single_503_itself_when_retries_are_allowed(
    store: Store, double: EsTestServer, target: Target, clock: FakeClock
) -> None:
    ids = enqueue_samples(store, 60, seed=8, private_ratio=0.0)
    double.faults.fail_requests(503)
    with target.connector(retries=2) as connector:
        reports, _ = run_cycle(engine_for(store, clock), [connector])
    assert reports["elasticsearch"].sent + reports["elasticsearch"].ignored == len(ids)
    assert [r.status for r in double.bulk_requests()] == [503, 200]


def test_a_slow_cluster_times_out_as_transient_and_the_late_bulk_counts_as_already_applied(
    store: Store, double: EsTestServer, target: Target, clock: FakeClock
) -> None:
    ids = enqueue_samples(store, 80, seed=9, private_ratio=0.0)
    double.faults.delay_responses(30.0)  # applied now, answered after the client gave up
    engine = engine_for(store, clock)
    with target.connector(timeout=0.5, retries=0) as connector:
        reports, _ = run_cycle(engine, [connector])
    assert backlog_ids(store, "elasticsearch") == ids
    assert "no answer" in (reports["elasticsearch"].error or "")

    clock.advance(6)
    with target.connector(timeout=5, retries=0) as connector:
        reports, _ = run_cycle(engine, [connector])
        assert connector.stats["already applied"] > 0  # what the slow request wrote is not written twice
    assert reports["elasticsearch"].backlog_sent + reports["elasticsearch"].ignored == len(ids)
    assert backlog_ids(store, "elasticsearch") == []


@pytest.mark.parametrize(("retries", "sent_in_first_run"), [(0, False), (1, True)])
def test_a_dropped_connection_is_transient_unless_the_client_may_retry(
    store: Store,
    double: EsTestServer,
    target: Target,
    clock: FakeClock,
    retries: int,
    sent_in_first_run: bool,
) -> None:
    ids = enqueue_samples(store, 50, seed=10, private_ratio=0.0)
    double.faults.drop_connections()
    with target.connector(retries=retries) as connector:
        reports, _ = run_cycle(engine_for(store, clock), [connector])
    if sent_in_first_run:
        assert reports["elasticsearch"].sent + reports["elasticsearch"].ignored == len(ids)
        assert [r.status for r in double.bulk_requests()] == [None, 200]  # dropped, then retried
    else:
        assert backlog_ids(store, "elasticsearch") == ids
        assert "cannot reach" in (reports["elasticsearch"].error or "")


def test_wrong_credentials_fail_the_connector_keep_every_message_and_never_show_the_password(
    store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-Secret-4711"
    ids = enqueue_samples(store, 30, seed=11)
    engine = engine_for(store, clock)
    with EsTestServer(users={"bugzilla": "the-right-one"}) as double:
        target = Target(double.url, "bugzilla", secret)
        batch = engine.open_batch("run", ["elasticsearch"])
        with (
            caplog.at_level(logging.DEBUG),
            target.connector() as connector,
            pytest.raises(ConnectorFatal) as failure,
        ):
            engine.deliver(batch, connector)
        engine.finalize(batch)
        assert double.bulk_requests() == []  # nothing was sent
    message = str(failure.value)
    assert "401" in message
    assert "'elasticsearch'" in message
    assert "login and password" in message
    assert backlog_ids(store, "elasticsearch") == ids
    stored = store.query("SELECT COALESCE(data, '') FROM push_log") + store.query(
        "SELECT last_error FROM push_backlog"
    )
    for text in [message, caplog.text, *(str(r[0]) for r in stored)]:
        assert secret not in text


def test_missing_privileges_to_install_templates_fail_the_connector_saying_what_to_grant(
    store: Store, double: EsTestServer, target: Target, clock: FakeClock
) -> None:
    ids = enqueue_samples(store, 20, seed=12)
    double.faults.fail_requests(403, path="_index_template", times=None)
    engine = engine_for(store, clock)
    batch = engine.open_batch("run", ["elasticsearch"])
    with target.connector() as connector, pytest.raises(ConnectorFatal) as failure:
        engine.deliver(batch, connector)
    engine.finalize(batch)
    assert "403" in str(failure.value)
    assert "manage_index_templates" in str(failure.value)
    assert backlog_ids(store, "elasticsearch") == ids


def test_a_missing_index_that_the_cluster_will_not_create_is_connector_fatal(
    double: EsTestServer, target: Target
) -> None:
    double.cluster.auto_create_index = False
    with target.connector(manage_indices=False) as connector, pytest.raises(ConnectorFatal) as failure:
        connector.send(sample_messages(10))
    assert "does not exist" in str(failure.value)
    assert "auto_create_index" in str(failure.value)
    assert double.cluster.indices == {}


def test_a_fatal_item_later_in_a_batch_raises_with_the_outcomes_of_what_came_before(
    double: EsTestServer, target: Target
) -> None:
    messages = sample_messages(40, seed=13, private_ratio=0.0)
    first_comment = next(i for i, m in enumerate(messages) if m.target == "comment")
    assert first_comment > 0
    double.faults.reject_items(403, index=target.index("comments"), times=None)
    with (
        target.connector() as connector,
        pytest.raises(ConnectorFatal, match="403 security_exception") as fatal,
    ):
        connector.send(messages)
    assert [o.result for o in fatal.value.outcomes] == [Result.OK] * first_comment


def test_a_429_on_a_sweep_keeps_the_privacy_transition_for_the_next_attempt(
    double: EsTestServer, target: Target
) -> None:
    messages = sample_messages(400, seed=14, private_ratio=0.0)
    at = next(
        i
        for i, m in enumerate(messages)
        if privacy_transition(m) == "private"
        and any(
            c.target == "comment" and not c.is_private and c.bug["id"] == m.object["id"] for c in messages[:i]
        )
    )
    with target.connector() as connector:
        send_all(connector, messages[:at])
        double.faults.reject_items(429, index=target.index("comments"))
        assert [o.result for o in connector.send(messages[at : at + 100])] == [Result.TRANSIENT]
        send_all(connector, messages[at:])
    with target.client() as es:
        assert sources(snapshot(es, target)) == expected_documents(messages, False)["public"]
