"""Retention: purge `push_log`, statistics, run records and the archive past their age.

BMO has a `log_purge` option (days, in `push_options`) but never purged anything, so its
`push_log` grows forever. Here each table is purged in bounded batches, each its own short
transaction, lowest ids first, so delivery (which only appends to these tables) is never locked
out, and a run stops purging when its time is up and goes on next time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bugzilla_push.store.base import Store

BMO_DEFAULT_LOG_DAYS = 7  # BMO's default for its log_purge option


@dataclass
class PurgeReport:
    """Rows purged per table, statements run, and whether the time budget ran out."""

    deleted: dict[str, int] = field(default_factory=dict)
    statements: int = 0
    finished: bool = True


def log_retention_days(store: Store, configured: int | None) -> int:
    """Days to keep the log: the configured value, else BMO's `log_purge` option, else 7."""
    if configured is not None:
        return configured
    rows = store.query(
        "SELECT option_value FROM push_options WHERE connector = 'global' AND option_name = 'log_purge'"
    )
    try:
        return max(1, int(rows[0][0])) if rows else BMO_DEFAULT_LOG_DAYS
    except ValueError:
        return BMO_DEFAULT_LOG_DAYS


def purge(
    store: Store,
    now: datetime,
    log_days: int,
    archive_days: int,
    batch: int = 5000,
    max_seconds: float = 30.0,
) -> PurgeReport:
    """Delete what is older than its retention, a batch at a time, within `max_seconds`."""
    report = PurgeReport()
    deadline = time.monotonic() + max_seconds
    log_cutoff = store.dialect.to_db(now - timedelta(days=log_days))
    targets = [
        ("push_log", "id", "processed_ts", log_cutoff),
        ("push_stats", "id", "sampled_ts", log_cutoff),
        ("push_run_connector", "run_id", "updated_ts", log_cutoff),
        ("push_run", "id", "finished_ts", log_cutoff),
    ]
    if archive_days > 0:
        targets.append(
            (
                "push_archive",
                "message_id",
                "archived_ts",
                store.dialect.to_db(now - timedelta(days=archive_days)),
            )
        )
    for table, id_column, ts_column, cutoff in targets:
        # An id bound first (ids grow with time), so each batch reads along the primary key even
        # where there is no index on the timestamp (BMO's own push_log).
        bound = _first_id_at_or_after(store, table, id_column, ts_column, cutoff)
        where = (
            f"{id_column} < {int(bound)} AND {ts_column} < %(cutoff)s"
            if bound
            else f"{ts_column} < %(cutoff)s"
        )
        if table == "push_run":
            where += " AND open_slot IS NULL"  # never an open batch
        sql = store.dialect.delete_some(table, id_column, where, batch)
        total = 0
        while True:
            if time.monotonic() >= deadline:
                report.finished = False
                break
            removed = store.execute_one(sql, {"cutoff": cutoff})
            report.statements += 1
            total += removed
            if removed < batch:
                break
        report.deleted[table] = total
        if not report.finished:
            break
    return report


def _first_id_at_or_after(
    store: Store, table: str, id_column: str, ts_column: str, cutoff: object
) -> int | None:
    """Find the lowest id whose timestamp is at or after `cutoff`, by binary search (None: no rows).

    Past the highest id when every row is older.
    """
    bounds = store.query(f"SELECT MIN({id_column}), MAX({id_column}) FROM {table}")
    if not bounds or bounds[0][0] is None:
        return None
    low, high = int(bounds[0][0]), int(bounds[0][1])
    probe = f"SELECT {ts_column} FROM {table} WHERE {id_column} >= %(i)s ORDER BY {id_column} LIMIT 1"
    first_ts = store.query(probe, {"i": low})[0][0]
    if first_ts is not None and _not_before(store, first_ts, cutoff):
        return low  # nothing is old enough
    answer: int | None = None
    while low <= high:
        middle = (low + high) // 2
        found = store.query(probe, {"i": middle})
        if not found:
            high = middle - 1
            continue
        ts = found[0][0]
        if ts is not None and _not_before(store, ts, cutoff):
            answer, high = middle, middle - 1
        else:
            low = middle + 1
    return answer if answer is not None else high + 1


def _not_before(store: Store, value: object, cutoff: object) -> bool:
    d = store.dialect
    return d.from_db_required(value) >= d.from_db_required(cutoff)
