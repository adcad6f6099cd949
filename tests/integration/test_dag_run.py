"""The `bugzilla_push` DAG end to end: `dag.test()` in-process and `airflow dags test` as a command,
on a real Airflow metadata database (PostgreSQL) and a real source database."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING
from unittest import mock

import pytest

from bugzilla_push.store import open_store
from tests.conftest import ROOT
from tests.support import airflow, enqueue_samples, pending_ids, read_jsonl, run_dag

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_dag_test_delivers_in_order_and_fails_the_run_for_a_broken_connector(
    airflow_db: None, source: str, tmp_path: Path
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    out = tmp_path / "delivered.jsonl"
    with open_store(source) as store:
        ids = enqueue_samples(store, 300, private_ratio=0.1)
    env = {
        "AIRFLOW_CONN_BUGZILLA_DB": source,
        "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "file,broken",
        "AIRFLOW_CONN_FILE": json.dumps({"conn_type": "fs", "extra": {"path": str(out)}}),
        "AIRFLOW_CONN_BROKEN": "ftp://nowhere.invalid",  # a type no connector serves
        "AIRFLOW_VAR_BUGZILLA_PUSH_CONFIG": json.dumps({"chunk_size": 64}),
    }
    with mock.patch.dict(os.environ, env):
        dag = DagBag(dag_folder=str(ROOT / "dags")).get_dag("bugzilla_push")
        run = dag.test()
        states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}

    assert [r["push_id"] for r in read_jsonl(out)] == ids  # every row, in push-id order
    assert states[("deliver", 0)] == "success"
    assert states[("deliver", 1)] == "failed"
    assert states[("finalize", -1)] == "failed"
    assert run.state == "failed"
    with open_store(source) as store:
        assert pending_ids(store) == []
        held = [
            r[0]
            for r in store.query(
                "SELECT message_id FROM push_backlog WHERE connector = 'broken' ORDER BY message_id"
            )
        ]
        assert held == ids  # kept for the broken connector, not lost
        assert store.query("SELECT COUNT(*) FROM push_log WHERE connector = 'file'")[0][0] == len(ids)


def test_airflow_dags_test_command_on_postgres_empties_push_in_order(
    airflow_db: None, source: str, tmp_path: Path
) -> None:
    out = tmp_path / "file.jsonl"
    with open_store(source) as store:
        ids = enqueue_samples(store, 2000)
    run_dag(source, "file", AIRFLOW_CONN_FILE=f"fs://?path={out}")
    assert [r["push_id"] for r in read_jsonl(out)] == ids
    with open_store(source) as store:
        assert pending_ids(store) == []
        log = store.query(
            "SELECT message_id, result FROM push_log WHERE connector = 'file' ORDER BY message_id"
        )
    assert log == [(i, 1) for i in ids]  # one push_log row per attempt, all OK


def test_a_missing_database_connection_names_it_and_how_to_set_it(airflow_db: None) -> None:
    result = airflow("dags", "test", "bugzilla_push", env={"AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "file"})
    output = result.stdout + result.stderr
    assert "The Airflow connection 'bugzilla_db'" in output
    assert "AIRFLOW_CONN_BUGZILLA_DB=" in output
    assert "failed" in output.lower()
