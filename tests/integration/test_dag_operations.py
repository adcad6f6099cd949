"""Operating the DAG: a paused connector's task is skipped, metrics reach StatsD, backfill runs replay."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from unittest import mock

import pytest

from bugzilla_push.airflow.tasks import RunInfo, read_pending
from bugzilla_push.store import open_store
from bugzilla_push.store.replays import Replays
from tests.conftest import ROOT
from tests.support import enqueue_samples, pending_ids

if TYPE_CHECKING:
    from pathlib import Path

    from tests.doubles.statsd_receiver import StatsdReceiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_paused_connector_is_skipped_and_metrics_reach_statsd(
    airflow_db: None, source: str, tmp_path: Path, statsd: StatsdReceiver
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    out, kept = tmp_path / "file.jsonl", tmp_path / "kept.jsonl"
    with open_store(source) as store:
        ids = enqueue_samples(store, 120)
        store.set_paused(
            "archive", True, "admin", datetime(2026, 11, 27), reason="disk swap on the archive host"
        )
    env = {
        "AIRFLOW_CONN_BUGZILLA_DB": source,
        "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "file,archive",
        "AIRFLOW_CONN_FILE": f"fs://?path={out}",
        "AIRFLOW_CONN_ARCHIVE": f"fs://?path={kept}",
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
    }
    with mock.patch.dict(os.environ, env):
        import bugzilla_push.airflow.metrics as metrics

        metrics._initialized = False  # pick up this test's [metrics] settings
        dag = DagBag(dag_folder=str(ROOT / "dags")).get_dag("bugzilla_push")
        run = dag.test()
        states = {
            (ti.task_id, ti.rendered_map_index or ti.map_index): ti.state for ti in run.get_task_instances()
        }
    assert states[("deliver", "archive")] == "skipped"
    assert states[("deliver", "file")] == "success"
    assert run.state == "success"  # paused on purpose is not a failure
    assert [json.loads(line)["push_id"] for line in out.read_text().splitlines()] == ids
    assert not kept.exists()
    with open_store(source) as store:
        assert pending_ids(store) == []
        held = store.query("SELECT COUNT(*) FROM push_backlog WHERE connector = 'archive'")[0][0]
    assert held == len(ids)  # waiting for the resume, not lost

    assert statsd.wait_for("airflow.bugzilla_push.file.sent") == [f"{len(ids)}|c"]
    assert statsd.wait_for("airflow.bugzilla_push.file.backlog") == ["0|g"]
    assert statsd.wait_for("airflow.bugzilla_push.archive.backlog") == [f"{len(ids)}|g"]
    assert statsd.wait_for("airflow.bugzilla_push.pending") == ["0|g"]
    assert statsd.wait_for("airflow.bugzilla_push.file.batch_duration")[0].endswith("|ms")
    age = statsd.wait_for("airflow.bugzilla_push.archive.backlog_oldest_age")
    assert age
    assert float(age[0].split("|")[0]) >= 0


def test_a_backfill_run_replays_its_interval_and_reads_no_new_rows(source: str) -> None:
    with open_store(source) as store:
        pending = enqueue_samples(store, 5)
    start = datetime(2026, 11, 27, 10, 0)
    run = RunInfo(
        "backfill__2026-11-27T10:01:00+00:00", "backfill", (start, start + timedelta(minutes=1)), "admin"
    )
    env = {"AIRFLOW_CONN_BUGZILLA_DB": source, "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "file,pulse"}
    with mock.patch.dict(os.environ, env):
        plan = read_pending({"connectors": ["pulse"]}, run, "bugzilla_db")
    assert [p["connector"] for p in plan] == ["pulse"]
    assert plan[0]["batch"]["batch_id"] == 0  # no live batch in a backfill run
    with open_store(source) as store:
        assert pending_ids(store) == pending
        job = Replays(store).recent()[0]
    assert job["selector"] == "pushed 2026-11-27 10:00:00 to 2026-11-27 10:01:00"
    assert [c["connector"] for c in job["connectors"]] == ["pulse"]
    assert job["requested_by"].startswith("admin (backfill run")


def test_a_manual_replay_with_a_bad_window_fails_clearly(source: str) -> None:
    env = {"AIRFLOW_CONN_BUGZILLA_DB": source, "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "file"}
    from airflow.sdk.exceptions import AirflowFailException

    with mock.patch.dict(os.environ, env), pytest.raises(AirflowFailException, match="window is empty"):
        read_pending(
            {"replay_since": "2026-11-27T10:00:00Z", "replay_until": "2026-11-27T09:00:00Z"},
            RunInfo("manual__1", "manual"),
            "bugzilla_db",
        )
    with mock.patch.dict(os.environ, env), pytest.raises(AirflowFailException, match="is not a date"):
        read_pending({"replay_since": "yesterday"}, RunInfo("manual__2", "manual"), "bugzilla_db")
