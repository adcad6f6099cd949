"""The bodies of the `bugzilla_push_maintenance` DAG's tasks: housekeeping beside delivery, hourly.

Delivery runs never wait for any of this: it runs in a DAG of its own.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowSkipException

from bugzilla_push.airflow.alerts import send_alert
from bugzilla_push.airflow.connectors import enabled_connectors
from bugzilla_push.airflow.metadata import MetadataNotConfigured, clean_metadata, metadata_url
from bugzilla_push.airflow.tasks import delivery_config, open_store
from bugzilla_push.clock import utcnow
from bugzilla_push.connectors import ConnectorConfigError
from bugzilla_push.engine import Engine
from bugzilla_push.store.records import waiting
from bugzilla_push.store.retention import log_retention_days, purge

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

log = logging.getLogger(__name__)


def purge_old_rows(conn_id: str) -> dict[str, Any]:
    """Purge the log, statistics, run records and archive past their retention, within a time budget."""
    config = delivery_config()
    with open_store(conn_id) as store:
        log_days = log_retention_days(store, config.log_days)
        report = purge(
            store,
            Engine(store, config).clock(),
            log_days,
            config.archive_days,
            config.purge_batch,
            config.purge_seconds,
        )
    total = sum(report.deleted.values())
    log.info(
        "purged %s rows older than %d days (archive: %d days) in %d statements%s: %s",
        f"{total:,}",
        log_days,
        config.archive_days,
        report.statements,
        "" if report.finished else ", time is up",
        ", ".join(f"{t} {n:,}" for t, n in report.deleted.items()),
    )
    return {
        "log_days": log_days,
        "archive_days": config.archive_days,
        "deleted": report.deleted,
        "finished": report.finished,
    }


def clean_airflow_metadata(
    dag_ids: Sequence[str], metadata_conn_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """Remove Airflow's records of these DAGs older than `metadata_days`: runs, tasks, XComs, events, logs."""
    import sqlalchemy as sa
    from airflow.sdk.configuration import conf

    config = delivery_config()
    try:
        url = metadata_url(metadata_conn_id)
    except MetadataNotConfigured as exc:
        raise AirflowSkipException(f"Airflow's metadata is not cleaned: {exc}") from None
    before = (now or datetime.now(UTC)) - timedelta(days=config.metadata_days)
    engine = sa.create_engine(url, pool_pre_ping=True)
    try:
        report = clean_metadata(
            engine,
            dag_ids,
            before,
            config.purge_batch,
            log_folder=Path(conf.get("logging", "base_log_folder")),
            log_seconds=config.purge_seconds,
        )
    finally:
        engine.dispose()
    log.info(
        "Airflow's records of %s before %s (%d days): %s; %s asset events and %s task log folders "
        "removed in %.1f s",
        ", ".join(dag_ids),
        f"{report.before:%Y-%m-%d %H:%M:%S} UTC",
        config.metadata_days,
        ", ".join(f"{t} {report.rows_before[t]:,} → {report.rows_after[t]:,}" for t in report.rows_before),
        f"{report.asset_events:,}",
        f"{report.log_folders:,}",
        report.seconds,
    )
    return report.to_dict()


def check_backlog_age(conn_id: str, context: Context) -> dict[str, int]:
    """Alert when the oldest waiting message (in push, or an enabled connector's backlog) is stale.

    One alert per check (hourly) while it lasts, through the configured notifier; returns each
    queue's age in seconds.
    """
    config = delivery_config()
    try:
        enabled = enabled_connectors()
    except ConnectorConfigError as exc:  # the delivery runs fail and say so; the queue is still checked
        log.warning("%s", exc)
        enabled = []
    with open_store(conn_id) as store:
        status = store.status(enabled)
    ages = {what: age for what, (_depth, age) in waiting(status, enabled, utcnow()).items()}
    stale = {what: age for what, age in ages.items() if config.stale_seconds and age >= config.stale_seconds}
    if stale:
        oldest = max(stale.values())
        send_alert(
            context,
            "stale_backlog",
            f"bugzilla_push: messages have waited {_minutes(oldest)}",
            "Oldest waiting message, at least "
            f"{_minutes(config.stale_seconds)} old (stale_seconds {config.stale_seconds:,}): "
            + ", ".join(f"{what} {_minutes(age)}" for what, age in stale.items())
            + ". See the push console and `bugzilla-push status`.",
        )
    else:
        log.info("nothing waits longer than %s: %s", _minutes(config.stale_seconds), ages)
    return ages


def _minutes(seconds: int) -> str:
    return f"{seconds // 60:,} min" if seconds >= 120 else f"{seconds} s"
