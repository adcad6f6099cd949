"""The store's own contract, on every database: schema, batches, atomic commits, status."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from bugzilla_push.backoff import Backoff
from bugzilla_push.model import PushRow, Result
from bugzilla_push.ranges import IdRanges
from bugzilla_push.store import Commit, NewMessage, Store, open_store
from bugzilla_push.store.records import LogEntry
from bugzilla_push.store.schema import BMO_TABLES, MIGRATIONS, OWN_TABLES
from tests.support import backlog_ids, enqueue_samples, store_now

pytestmark = pytest.mark.integration

BMO_COLUMNS = {
    "push": {"id", "push_ts", "payload", "change_set", "routing_key"},
    "push_backlog": {
        "id",
        "message_id",
        "push_ts",
        "payload",
        "change_set",
        "routing_key",
        "connector",
        "attempt_ts",
        "attempts",
        "last_error",
    },
    "push_backoff": {"id", "connector", "next_attempt_ts", "attempts"},
    "push_options": {"id", "connector", "option_name", "option_value"},
    "push_log": {
        "id",
        "message_id",
        "change_set",
        "routing_key",
        "connector",
        "push_ts",
        "processed_ts",
        "result",
        "data",
    },
}


def columns(store: Store, table: str) -> set[str]:
    with store.transaction() as cur:
        store.execute(cur, f"SELECT * FROM {table} WHERE 1 = 0")
        return {d[0] for d in cur.description}


def test_schema_has_bmos_tables_and_columns_and_is_idempotent(store: Store) -> None:
    for table, expected in BMO_COLUMNS.items():
        assert columns(store, table) == expected
    assert store.dialect.existing_tables(store.conn, [*BMO_TABLES, *OWN_TABLES]) == {*BMO_TABLES, *OWN_TABLES}
    assert store.create_schema() == []
    assert store.schema_version() == MIGRATIONS[-1][0]


def test_schema_upgrades_an_older_version_in_place(store: Store) -> None:
    ids = enqueue_samples(store, 3)
    added_in_2 = [
        "push_connector_state",
        "push_audit",
        "push_stats",
        "push_archive",
        "push_replay",
        "push_replay_connector",
    ]
    with store.transaction() as cur:  # as a deployment of schema version 1 left it
        for table in added_in_2:
            store.execute(cur, f"DROP TABLE {table}")
        store.execute(cur, "UPDATE push_meta SET value = '1' WHERE name = 'schema_version'")
    applied = store.create_schema()
    assert applied
    assert all("push_run " not in sql for sql in applied)  # version 1 is not applied again
    assert store.schema_version() == MIGRATIONS[-1][0]
    assert store.dialect.existing_tables(store.conn, added_in_2) == set(added_in_2)
    assert "push_log_message_idx" in store.dialect.existing_indexes(store.conn, "push_log")  # ours: indexed
    assert [r[0] for r in store.query("SELECT id FROM push ORDER BY id")] == ids  # nothing lost


def test_an_empty_queue_opens_no_run_record(store: Store) -> None:
    batch = store.open_batch("run", 100, ["file"], ["file"], store_now())
    assert batch.is_empty
    assert batch.size == 0
    assert store.query("SELECT COUNT(*) FROM push_run")[0][0] == 0


def test_an_open_batch_is_adopted_not_read_again(store: Store) -> None:
    ids = enqueue_samples(store, 10)
    first = store.open_batch("run-1", 4, ["file"], ["file"], store_now())
    enqueue_samples(store, 5, seed=2)
    second = store.open_batch("run-2", 100, ["file", "pulse"], ["file", "pulse"], store_now())
    assert list(first.ranges) == ids[:4]
    assert second.id == first.id
    assert second.adopted
    assert list(second.ranges) == ids[:4]
    assert second.connectors == ("file",)  # the batch keeps the connectors it was opened with


def test_batches_opened_at_the_same_moment_are_one_batch(db_url: str, store: Store) -> None:
    enqueue_samples(store, 50)
    got: list[int] = []
    start = threading.Barrier(4)

    def opener(n: int) -> None:
        with open_store(db_url) as own:
            start.wait()
            got.append(own.open_batch(f"run-{n}", 20, ["file"], ["file"], store_now()).id)

    threads = [threading.Thread(target=opener, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1
    assert store.query("SELECT COUNT(*) FROM push_run")[0][0] == 1


def test_batch_rows_are_exactly_the_batch(store: Store) -> None:
    ids = enqueue_samples(store, 10)
    batch = store.open_batch("run", 100, ["file"], ["file"], store_now())
    gap = IdRanges.from_ids([i for i in ids if i not in (ids[3], ids[4])])
    from dataclasses import replace

    narrowed = replace(batch, ranges=gap)
    assert [r.id for r in store.batch_rows(narrowed, 0, 100)] == [i for i in ids if i not in (ids[3], ids[4])]
    assert [r.id for r in store.batch_rows(narrowed, ids[2], 3)] == ids[5:8]


def test_a_commit_is_all_or_nothing(store: Store) -> None:
    ids = enqueue_samples(store, 3)
    batch = store.open_batch("run", 100, ["file"], ["file"], store_now())
    row = store.batch_rows(batch, 0, 1)[0]
    broken = Commit(
        "file",
        store_now(),
        logs=[LogEntry(row, Result.OK)],
        hold=batch.ranges,
        dead=[(row, None)],  # type: ignore[list-item]  # NOT NULL reason: the insert fails
        progress=(batch.id, ids[-1], "done"),
    )
    with pytest.raises(Exception):  # noqa: B017, PT011 - each driver raises its own IntegrityError
        store.record(broken)
    assert store.query("SELECT COUNT(*) FROM push_log")[0][0] == 0
    assert backlog_ids(store, "file") == []
    assert store.progress(batch.id, "file").state == "pending"


def test_holding_the_same_rows_twice_keeps_one_copy(store: Store) -> None:
    ids = enqueue_samples(store, 5)
    ranges = IdRanges.from_ids(ids)
    store.record(Commit("pulse", store_now(), hold=ranges))
    store.record(Commit("pulse", store_now(), hold=ranges))  # BMO's duplicate-insert defect: not here
    assert backlog_ids(store, "pulse") == ids


def test_status_reports_queue_backlogs_backoff_and_dead_letters(store: Store) -> None:
    enqueue_samples(store, 4)
    store.enqueue([NewMessage("{", "bug.create", "1.1", push_ts=datetime(2026, 1, 1))], store_now())
    bad = PushRow(999, datetime(2026, 1, 1), "{", "1.1", "bug.create")
    store.record(
        Commit(
            "pulse",
            store_now(),
            hold=IdRanges.from_ids([1, 2]),
            failed=(1, "connection refused"),
            backoff=Backoff(2, datetime(2030, 1, 1)),
            dead=[(bad, "not JSON")],
        )
    )
    status = store.status(["file"])
    assert status.pending == 5
    assert status.pending_oldest_ts == datetime(2026, 1, 1)
    pulse = status.connectors["pulse"]
    assert (pulse.backlog, pulse.backoff_attempts, pulse.dead_letters) == (2, 2, 1)
    assert pulse.next_attempt_ts == datetime(2030, 1, 1)
    assert pulse.last_error == "connection refused"
    assert status.connectors["file"].backlog == 0


def test_each_delivery_leaves_a_statistics_sample(store: Store) -> None:
    from bugzilla_push.store.records import Counts

    enqueue_samples(store, 3)
    store.record(
        Commit(
            "pulse", store_now(), hold=IdRanges.from_ids([r[0] for r in store.query("SELECT id FROM push")])
        )
    )
    store.record_stats(store_now(), "pulse", "backing_off", Counts(sent=2, held=3), transient=1, millis=15)
    store.record_queue_stats(store_now())
    rows = store.query(
        "SELECT connector, state, sent, held, transient, depth, millis FROM push_stats ORDER BY id"
    )
    assert rows == [("pulse", "backing_off", 2, 3, 1, 3, 15), ("*", "queue", 0, 0, 0, 3, 0)]
