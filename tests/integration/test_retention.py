"""Retention: only what is past its age goes, in bounded batches, while delivery runs (every database)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.clock import utcnow
from bugzilla_push.config import DeliveryConfig
from bugzilla_push.engine import Engine
from bugzilla_push.store import open_store
from bugzilla_push.store.dialect import LOG_COLUMNS
from bugzilla_push.store.retention import log_retention_days, purge
from tests.fakes import ScriptedConnector
from tests.support import enqueue_samples, run_cycle

if TYPE_CHECKING:
    from datetime import datetime

    from bugzilla_push.store import Store

pytestmark = pytest.mark.integration


def add_log_rows(store: Store, count: int, when: datetime, connector: str = "old") -> None:
    d = store.dialect
    rows = [
        (n + 1, "1.1", "bug.modify:status", connector, d.to_db(when), d.to_db(when), 1, None)
        for n in range(count)
    ]
    with store.transaction() as cur:
        d.bulk_insert(cur, "push_log", LOG_COLUMNS, rows)


def add_archive_rows(store: Store, ids: range, when: datetime) -> None:
    d = store.dialect
    with store.transaction() as cur:
        d.bulk_insert(
            cur,
            "push_archive",
            ("message_id", "push_ts", "payload", "change_set", "routing_key", "archived_ts"),
            [(i, d.to_db(when), "{}", "1.1", "bug.create", d.to_db(when)) for i in ids],
        )


def count(store: Store, sql: str) -> int:
    return store.query(sql)[0][0]


def test_only_rows_past_their_age_are_purged_in_batches(store: Store) -> None:
    now = utcnow()
    add_log_rows(store, 700, now - timedelta(days=9))
    add_log_rows(store, 300, now - timedelta(days=6), connector="recent")
    add_archive_rows(store, range(1, 401), now - timedelta(days=31))
    add_archive_rows(store, range(401, 501), now - timedelta(days=29))
    report = purge(store, now, log_days=7, archive_days=30, batch=100, max_seconds=60)
    assert report.finished
    assert report.deleted["push_log"] == 700
    assert report.deleted["push_archive"] == 400
    assert report.statements >= 7 + 4  # bounded batches of 100, not one big delete
    assert count(store, "SELECT COUNT(*) FROM push_log WHERE connector = 'old'") == 0
    assert count(store, "SELECT COUNT(*) FROM push_log WHERE connector = 'recent'") == 300
    assert [r[0] for r in store.query("SELECT MIN(message_id) FROM push_archive")] == [401]
    assert purge(store, now, log_days=7, archive_days=30, batch=100).deleted["push_log"] == 0


def test_a_time_budget_stops_purging_and_the_next_run_goes_on(store: Store) -> None:
    now = utcnow()
    add_log_rows(store, 500, now - timedelta(days=30))
    first = purge(store, now, log_days=7, archive_days=30, batch=10, max_seconds=0)
    assert not first.finished
    assert count(store, "SELECT COUNT(*) FROM push_log") == 500
    second = purge(store, now, log_days=7, archive_days=30, batch=1000, max_seconds=60)
    assert second.finished
    assert count(store, "SELECT COUNT(*) FROM push_log") == 0


def test_bmos_log_purge_option_sets_the_log_retention(store: Store) -> None:
    assert log_retention_days(store, None) == 7  # BMO's default
    with store.transaction() as cur:
        store.execute(
            cur,
            "INSERT INTO push_options (connector, option_name, option_value) "
            "VALUES ('global', 'log_purge', '3')",
        )
    assert log_retention_days(store, None) == 3
    assert log_retention_days(store, 14) == 14  # an explicit setting wins


def test_purging_does_not_lock_out_delivery(db_url: str, store: Store) -> None:
    now = utcnow()
    add_log_rows(store, 20_000, now - timedelta(days=10))
    ids = enqueue_samples(store, 1500)
    delivered: list[int] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            with open_store(db_url) as own:
                pulse = ScriptedConnector("pulse")
                engine = Engine(own, DeliveryConfig(batch_size=100, chunk_size=50))
                while own.query("SELECT COUNT(*) FROM push")[0][0]:
                    run_cycle(engine, [pulse])
                delivered.extend(pulse.received)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=deliver)
    thread.start()
    report = purge(store, now, log_days=7, archive_days=30, batch=500, max_seconds=120)
    thread.join(120)
    assert not errors, errors
    assert delivered == ids  # delivery went on, in order, while the purge ran
    assert report.deleted["push_log"] == 20_000
    assert count(store, "SELECT COUNT(*) FROM push_log WHERE connector = 'pulse'") == len(ids)
    assert report.statements >= 40
