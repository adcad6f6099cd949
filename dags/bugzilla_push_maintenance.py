"""### bugzilla_push_maintenance.

Keeps the push tables and Airflow's own database small, every hour, beside delivery (which never
waits for it):

1. **purge_old_rows** deletes `push_log`, statistics and run records past their retention (the
   `log_days` setting, else BMO's `log_purge` option, else 7 days) and the archive past
   `archive_days` (30), in short batches within `purge_seconds`; what is left goes next hour.
2. **clean_airflow_metadata** removes Airflow's records of `bugzilla_push` and of this DAG older
   than `metadata_days` (3): DAG runs, task instances, XComs, the audit log (Airflow's own
   `run_cleanup`, in batches), the events of the push asset, and task log folders. Never a run
   that has not finished, nor anything after it; each DAG's newest scheduled run stays. It reaches
   the metadata database through the connection `airflow_metadata_db` (tasks may not use Airflow's
   own session): without it the task is skipped and says so.
3. **check_backlog_age** alerts when the oldest message waiting in `push` or in an enabled
   connector's backlog is older than `stale_seconds` (1800): a connector backing off for a long
   time, or runs that no longer start.

Alerts (this check, and a failed run of either DAG) go through the notifier named by the Variable
`bugzilla_push_notifier` (an Airflow notifier class and its arguments, as JSON); without it they
are only logged.

Settings: keys of the Variable `bugzilla_push_config` (JSON), as for delivery.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task

from bugzilla_push.airflow.alerts import RunFailedNotifier

BUGZILLA_PUSH_DB_CONN_ID = "bugzilla_db"
METADATA_CONN_ID = "airflow_metadata_db"
CLEANED_DAG_IDS = ("bugzilla_push", "bugzilla_push_maintenance")


@dag(
    dag_id="bugzilla_push_maintenance",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=55),
    description="Hourly housekeeping of bugzilla_push: the push tables' retention and Airflow's own records",
    doc_md=__doc__,
    tags=["bugzilla", "push", "maintenance"],
    default_args={"owner": "bugzilla", "retries": 2, "retry_delay": timedelta(minutes=1)},
    on_failure_callback=RunFailedNotifier(),
)
def bugzilla_push_maintenance() -> None:
    @task(execution_timeout=timedelta(minutes=20))
    def purge_old_rows() -> dict[str, Any]:
        """Delete `push_log`, statistics, run records and archived messages past their retention.

        In batches of `purge_batch` rows, each its own short transaction, for at most `purge_seconds`
        (Variable `bugzilla_push_config`); what is left goes next hour.
        """
        from bugzilla_push.airflow import maintenance

        return maintenance.purge_old_rows(BUGZILLA_PUSH_DB_CONN_ID)

    @task(execution_timeout=timedelta(minutes=30))
    def clean_airflow_metadata() -> dict[str, Any]:
        """Remove Airflow's records of these DAGs older than `metadata_days` (3).

        DAG runs with their task instances and XComs, the audit log, the push asset's events and task
        log folders, in batches of `purge_batch`. Runs not finished, and everything after the oldest
        of them, stay; so does each DAG's newest scheduled run. Needs the connection
        `airflow_metadata_db` to Airflow's metadata database; skipped without it.
        """
        from bugzilla_push.airflow import maintenance

        return maintenance.clean_airflow_metadata(CLEANED_DAG_IDS, METADATA_CONN_ID)

    @task(execution_timeout=timedelta(minutes=5))
    def check_backlog_age() -> dict[str, int]:
        """Alert when a message has waited longer than `stale_seconds` (1800) in `push` or a backlog.

        Through the notifier of the Variable `bugzilla_push_notifier`, once per check while it lasts.
        Returns each queue's oldest age in seconds.
        """
        from bugzilla_push.airflow import maintenance

        return maintenance.check_backlog_age(BUGZILLA_PUSH_DB_CONN_ID, get_current_context())

    purge_old_rows()
    clean_airflow_metadata()
    check_backlog_age()


bugzilla_push_maintenance()
