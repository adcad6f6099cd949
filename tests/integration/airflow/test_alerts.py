"""Alerts through the notifier named by a Variable: one for a failed run, one for a stale backlog."""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.store import NewMessage, open_store
from tests.conftest import ROOT
from tests.doubles.recording_notifier import notifier_variable, recorded
from tests.support import airflow, enqueue_samples, run_dag, store_now

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def alert_env(path: Path) -> dict[str, str]:
    """The notifier Variable, and this repository importable in the process that sends (tests.doubles)."""
    return {
        "AIRFLOW_VAR_BUGZILLA_PUSH_NOTIFIER": notifier_variable(path),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def test_a_failed_run_sends_one_alert_and_a_good_run_none(
    airflow_db: None, source: str, tmp_path: Path
) -> None:
    sent = tmp_path / "alerts.jsonl"
    with open_store(source) as store:
        enqueue_samples(store, 5)
    run_dag(source, "file", AIRFLOW_CONN_FILE=f"fs://?path={tmp_path / 'out.jsonl'}", **alert_env(sent))
    assert recorded(sent) == []

    with open_store(source) as store:
        enqueue_samples(store, 5)
    # A connector without a connection is connector-fatal: its deliver task fails, finalize fails the run.
    result = run_dag(source, "file,nowhere", expect_success=False, **alert_env(sent))
    assert "delivery failed for nowhere" in result.stdout + result.stderr
    [alert] = recorded(sent)
    assert alert["kind"] == "run_failed"
    assert alert["dag_id"] == "bugzilla_push"
    assert alert["subject"].startswith("bugzilla_push: run ")
    assert alert["subject"].endswith(" failed")
    assert "DAG bugzilla_push, run " in alert["message"]


def waiting_since(source: str, age: timedelta) -> None:
    """One message in push, committed `age` ago."""
    with open_store(source) as store:
        store.enqueue([NewMessage("{}", "bug.create", "1.1")], store_now() - age)


def check(source: str, env: dict[str, str]) -> str:
    result = airflow(
        "tasks",
        "test",
        "bugzilla_push_maintenance",
        "check_backlog_age",
        env={"AIRFLOW_CONN_BUGZILLA_DB": source, "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "file", **env},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result.stdout + result.stderr


def test_a_stale_backlog_sends_one_alert_per_check(airflow_db: None, source: str, tmp_path: Path) -> None:
    sent = tmp_path / "alerts.jsonl"
    waiting_since(source, timedelta(hours=2))
    relaxed = {"AIRFLOW_VAR_BUGZILLA_PUSH_CONFIG": json.dumps({"stale_seconds": 3 * 3600})}
    check(source, {**alert_env(sent), **relaxed})
    assert recorded(sent) == []  # two hours is not stale when three are allowed

    check(source, alert_env(sent))  # the default: 30 minutes
    [alert] = recorded(sent)
    assert alert["kind"] == "stale_backlog"
    assert alert["dag_id"] == "bugzilla_push_maintenance"
    # Two hours and the minutes the checks took.
    assert re.fullmatch(r"bugzilla_push: messages have waited 12\d min", alert["subject"])
    assert re.search(r"push queue 12\d min", alert["message"])


def test_without_a_notifier_the_alert_is_only_logged(airflow_db: None, source: str) -> None:
    waiting_since(source, timedelta(hours=1))
    output = check(source, {})
    assert re.search(r"alert \(stale_backlog\): bugzilla_push: messages have waited 6\d min", output)
    assert "no notifier configured (Variable bugzilla_push_notifier)" in output
