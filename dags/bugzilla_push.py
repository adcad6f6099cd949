"""### bugzilla_push.

Delivers Bugzilla's change stream — every bug, comment, attachment and flag change that
Bugzilla writes into its `push` table — to each enabled connector (Pulse, Elasticsearch, a
file, webhooks), **in push-id order, with nothing lost**.

Each run:

1. **read_pending** fixes this run's rows (the oldest *batch size* ids of `push`), or takes
   over a batch an earlier run did not finish;
2. **deliver** runs once per connector (the task is named after it; `bugzilla_webhooks` delivers
   every webhook of Bugzilla's `webhooks` table, concurrently): it sends that connector's
   backlog first, then the batch, and stops at the first transient failure — the rest waits in
   that connector's backlog, with backoff (5ⁿ s, at most 15 min), while the others carry on;
3. **finalize** keeps in its backlog whatever a failed connector did not reach, deletes the
   batch from `push`, and fails the run if a connector failed so it shows here.

A scheduled or commit-triggered run **lingers** (`linger_seconds`, 30 s): after its batch, each
deliver task goes on with what is committed meanwhile, a segment at a time, so a message waits
for a poll (0.2 s) rather than for the next run.

When it runs: within about a second of a commit to `push` (an asset watcher in the triggerer
fires on new rows: PostgreSQL LISTEN/NOTIFY after `bugzilla-push notify install`, otherwise a
`MAX(id)` poll every second), and every minute regardless, as a safety net.
`BUGZILLA_PUSH_SCHEDULE=minute` keeps only the minute schedule (no triggerer needed).
A burst of commits never piles up runs: the watcher sends at most one event a second, and while
a run is queued or running (`max_active_runs=1`) Airflow creates no asset-triggered run; it keeps
one queued-asset record, and when the run ends starts **one** run that consumes every event that
arrived meanwhile. Asset-triggered runs deliver live, like scheduled ones; only a backfill replays.

Configure: connection `bugzilla_db` (the database), Variable `bugzilla_push_connectors`
(comma-separated connection ids, default `file`), one connection per connector. A manual run
can choose connectors and a batch size. A failed run alerts through the notifier of the Variable
`bugzilla_push_notifier`. Housekeeping (retention, Airflow's own records, the staleness alert)
is the hourly DAG `bugzilla_push_maintenance`'s.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, TriggerRule, dag, task

from bugzilla_push.airflow.alerts import RunFailedNotifier
from bugzilla_push.airflow.schedule import delivery_schedule
from bugzilla_push.model import CONNECTOR_NAME_PATTERN

BUGZILLA_PUSH_DB_CONN_ID = "bugzilla_db"


@dag(
    dag_id="bugzilla_push",
    # On commits to push (asset watcher) or every minute; BUGZILLA_PUSH_SCHEDULE=minute: minute only.
    schedule=delivery_schedule(BUGZILLA_PUSH_DB_CONN_ID),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    description="Delivers Bugzilla's push table to each connector in push-id order, with nothing lost",
    doc_md=__doc__,
    on_failure_callback=RunFailedNotifier(),
    tags=["bugzilla", "push", "delivery"],
    # Airflow retries only crashes (a killed process, a lost database): connector failures go to the
    # backlog and connector-fatal ones fail without retry. The engine resumes exactly where the dead
    # attempt committed, and the whole run (every connector) waits for the retry, so retry soon.
    default_args={"owner": "bugzilla", "retries": 2, "retry_delay": timedelta(seconds=5)},
    params={
        "connectors": Param(
            [],
            type="array",
            items={"type": "string", "pattern": CONNECTOR_NAME_PATTERN},
            title="Connectors",
            description="Deliver only to these connectors in this run (empty: every enabled one). The "
            "others keep this run's messages in their backlog and get them, in order, on their next run.",
        ),
        "batch_size": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=1_000_000,
            title="Batch size",
            description="How many pending messages this run takes from the push table (empty: the "
            "batch_size delivery setting, 10,000 unless the bugzilla_push_config Variable sets another).",
        ),
        "replay_since": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Replay: pushed from",
            description="Send archived messages again that Bugzilla pushed at or after this time (UTC), "
            "to the connectors above (or all), in their original order. Live delivery goes on meanwhile.",
        ),
        "replay_until": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Replay: pushed before",
            description="The end of the replay window (UTC), not included.",
        ),
        "replay_bug_ids": Param(
            [],
            type="array",
            items={"type": "integer", "minimum": 1},
            title="Replay: bug ids",
            description="Replay only the archived messages about these bugs (with or without a window).",
        ),
        "replay_push_ids": Param(
            [],
            type="array",
            items={"type": "integer", "minimum": 1},
            title="Replay: push ids",
            description="Replay exactly these archived messages.",
        ),
    },
)
def bugzilla_push() -> None:
    @task
    def read_pending(**context: Any) -> list[dict[str, Any]]:
        """Fix this run's batch: the oldest *batch size* ids of `push` (or an unfinished run's batch).

        Returns one `{connector, batch}` per selected connector, ids as ranges (never payloads). A
        manual run with replay params, or a backfill run, starts a replay of archived messages too.
        """
        from bugzilla_push.airflow import tasks

        return tasks.read_pending(
            context["params"], tasks.RunInfo.from_context(context), BUGZILLA_PUSH_DB_CONN_ID
        )

    @task(map_index_template="{{ connector }}", execution_timeout=timedelta(minutes=25))
    def deliver(connector: str, batch: dict[str, Any], linger_until: str | None = None) -> dict[str, Any]:
        """Send one connector its backlog, then the batch, in push-id order (one task per connector).

        Stops at the first transient failure: the rest waits in the connector's backlog, with backoff.
        Fails for a connector-fatal error (the message says what to fix); skipped while paused.
        A live run lingers until `linger_until`, delivering what is committed meanwhile.
        """
        from bugzilla_push.airflow import tasks

        return tasks.deliver(connector, batch, BUGZILLA_PUSH_DB_CONN_ID, linger_until)

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def finalize(plan: list[dict[str, Any]] | None, reports: list[dict[str, Any]]) -> dict[str, Any]:
        """Keep in its backlog what a failed connector did not reach; archive and delete the batch.

        Runs even when a deliver task failed, and then fails the run, so that it shows (and alerts).
        """
        from bugzilla_push.airflow import tasks

        # A slice fetches every mapped result in one call (iterating probes one past the end).
        return tasks.finalize(plan, list(reports[:]) if reports is not None else [], BUGZILLA_PUSH_DB_CONN_ID)

    # Airflow 3.3 gives a mapped task no docs from its docstring: handed over explicitly.
    deliver = deliver.override(doc_md=deliver.function.__doc__)
    plan = read_pending()
    finalize(plan, deliver.expand_kwargs(plan))


bugzilla_push()
