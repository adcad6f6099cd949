"""Airflow's own records of this project's DAGs, kept for `metadata_days` and then cleaned.

Event-driven delivery makes tens of thousands of DAG runs a day, each with task instances, XComs,
an asset event and log folders; nothing in Airflow removes them on its own. The cleaning uses
Airflow's `run_cleanup` (what `airflow db clean --dag-ids` runs: dag runs, task instances, their
history, XComs, reschedules and the audit log, each in bounded batches, deleting a run cascading
to everything that hangs off it), then removes what `run_cleanup` cannot filter by DAG: the
events of the assets only these DAGs consume, and task log folders on disk.

A task may not use Airflow's ORM session (Airflow 3 blocks it), so the metadata database is
reached through a connection of its own (`airflow_metadata_db`), which the deployment grants.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pendulum
import sqlalchemy as sa

from bugzilla_push.errors import BugzillaPushError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from sqlalchemy.engine import URL, Engine
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

METADATA_CONN_ID = "airflow_metadata_db"
# Tables handed to run_cleanup; it adds their dependants (task_instance → xcom, history; dag_run →
# task_state_store, deadline). Never `dag` or `dag_version`: those describe the DAG itself, not its
# runs. `task_reschedule` and `deadline` carry no dag_id in Airflow 3.3, so run_cleanup cannot
# filter them by DAG (it warns about `deadline`, which comes with dag_run): their rows go by cascade
# with their task instance or run.
TABLES = ("dag_run", "task_instance", "task_instance_history", "xcom", "log")
# Row counts reported before and after a cleaning, per table, for the DAGs cleaned.
COUNTED = ("dag_run", "task_instance", "xcom", "log")


class MetadataNotConfigured(BugzillaPushError, RuntimeError):
    """No connection to Airflow's metadata database: the message says how to add one."""


@dataclass
class MetadataReport:
    """What one cleaning removed: rows per table (before → after), asset events, log folders.

    :param before: the cut-off: records older than this were removed
    """

    before: datetime
    rows_before: dict[str, int] = field(default_factory=dict)
    rows_after: dict[str, int] = field(default_factory=dict)
    asset_events: int = 0
    log_folders: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.isoformat(),
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "asset_events": self.asset_events,
            "log_folders": self.log_folders,
            "seconds": round(self.seconds, 1),
        }


def metadata_url(conn_id: str = METADATA_CONN_ID) -> URL:
    """Return the SQLAlchemy URL of Airflow's metadata database from its Airflow connection."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise MetadataNotConfigured(
            f"the Airflow connection {conn_id!r} (Airflow's own metadata database, which tasks may not "
            "reach through Airflow's session) is not defined: set it to the same database as "
            "[database] sql_alchemy_conn, for example "
            f"AIRFLOW_CONN_{conn_id.upper()}='postgresql://airflow:airflow@postgres/airflow'"
        ) from None
    kind = (conn.conn_type or "").lower()
    if kind in ("postgres", "postgresql"):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return PostgresHook(postgres_conn_id=conn_id, connection=conn).sqlalchemy_url
    if kind in ("mysql", "mariadb"):
        return sa.engine.URL.create(
            "mysql+pymysql", conn.login, conn.password, conn.host, conn.port, conn.schema
        )
    if kind == "sqlite":
        return sa.engine.URL.create("sqlite", database=conn.host or conn.schema)
    raise MetadataNotConfigured(
        f"the Airflow connection {conn_id!r} has type {conn.conn_type!r}; Airflow's metadata database "
        "is PostgreSQL, MySQL or SQLite"
    )


def clean_metadata(
    engine: Engine,
    dag_ids: Sequence[str],
    before: datetime,
    batch: int,
    log_folder: Path | None = None,
    log_seconds: float = 600.0,
) -> MetadataReport:
    """Remove the DAGs' runs, task instances, XComs, audit log, asset events and log folders before `before`.

    Never a run that has not finished, nor anything younger than it: the cut-off moves back to the
    start of the oldest queued or running run of these DAGs. Airflow keeps each DAG's newest
    scheduled run as well (its timetable continues from it).
    """
    from sqlalchemy.orm import Session

    started = time.monotonic()
    with Session(engine) as session:
        before = min(before, _oldest_unfinished(session, dag_ids) or before)
        report = MetadataReport(before, rows_before=_counts(session, dag_ids))
        _run_cleanup(session, dag_ids, before, batch)
        report.asset_events = _delete_asset_events(session, dag_ids, before, batch)
        report.rows_after = _counts(session, dag_ids)
    if log_folder is not None:
        report.log_folders = remove_log_folders(log_folder, dag_ids, before, log_seconds)
    report.seconds = time.monotonic() - started
    return report


def _run_cleanup(session: Session, dag_ids: Sequence[str], before: datetime, batch: int) -> None:
    from airflow.utils.db_cleanup import run_cleanup

    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # it prints a line per table and batch, for a terminal
        run_cleanup(
            clean_before_timestamp=pendulum.instance(before),
            table_names=list(TABLES),
            dag_ids=list(dag_ids),
            confirm=False,
            skip_archive=True,
            batch_size=batch,
            session=session,
        )
    log.debug("run_cleanup:\n%s", out.getvalue())


def _oldest_unfinished(session: Session, dag_ids: Sequence[str]) -> datetime | None:
    dag_run = sa.table("dag_run", sa.column("dag_id"), sa.column("state"), sa.column("start_date"))
    oldest = session.execute(
        sa.select(sa.func.min(dag_run.c.start_date)).where(
            dag_run.c.dag_id.in_(dag_ids), dag_run.c.state.in_(("queued", "running"))
        )
    ).scalar()
    return _aware(oldest) if oldest else None


def _counts(session: Session, dag_ids: Sequence[str]) -> dict[str, int]:
    counts = {}
    for name in COUNTED:
        t = sa.table(name, sa.column("dag_id"))
        counts[name] = session.execute(
            sa.select(sa.func.count()).select_from(t).where(t.c.dag_id.in_(dag_ids))
        ).scalar_one()
    return counts


def _delete_asset_events(session: Session, dag_ids: Sequence[str], before: datetime, batch: int) -> int:
    """Delete old events of the assets only these DAGs consume, and those their tasks emitted.

    `run_cleanup` cannot filter asset events by DAG (they carry none); an asset another DAG also
    consumes keeps its events, so that DAG's history is not this project's to clean.
    """
    event = sa.table(
        "asset_event",
        sa.column("id"),
        sa.column("asset_id"),
        sa.column("source_dag_id"),
        sa.column("timestamp"),
    )
    ref = sa.table("dag_schedule_asset_reference", sa.column("asset_id"), sa.column("dag_id"))
    ours = sa.select(ref.c.asset_id).where(ref.c.dag_id.in_(dag_ids))
    shared = sa.select(ref.c.asset_id).where(ref.c.dag_id.not_in(dag_ids))
    old = sa.and_(
        event.c.timestamp < before,
        sa.or_(
            sa.and_(event.c.asset_id.in_(ours), event.c.asset_id.not_in(shared)),
            event.c.source_dag_id.in_(dag_ids),
        ),
    )
    total = 0
    while True:
        # By id, a batch at a time: each statement is a short transaction (links cascade).
        query = sa.select(event.c.id).where(old).order_by(event.c.id).limit(batch)
        ids = [row[0] for row in session.execute(query)]
        if not ids:
            return total
        session.execute(sa.delete(event).where(event.c.id.in_(ids)))
        session.commit()
        total += len(ids)


def remove_log_folders(base: Path, dag_ids: Sequence[str], before: datetime, max_seconds: float) -> int:
    """Remove the DAGs' task log folders (`dag_id=…/run_id=…`) last written before `before`.

    A run's folder changes when a task of it starts; runs end within their timeout, so a folder
    untouched since the cut-off belongs to a run that is over.
    """
    cutoff, removed = before.timestamp(), 0
    deadline = time.monotonic() + max_seconds
    for dag_id in dag_ids:
        folder = base / f"dag_id={dag_id}"
        if not folder.is_dir():
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                if time.monotonic() >= deadline:
                    log.warning("log folders: time is up after %d; the rest goes next time", removed)
                    return removed
                if entry.name.startswith("run_id=") and entry.is_dir() and entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed += 1
    return removed


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
