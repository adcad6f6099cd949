"""The DAG file imports cleanly and follows the contract (no services needed)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def dagbag():  # noqa: ANN201
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag) -> None:  # noqa: ANN001
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"bugzilla_push", "bugzilla_push_maintenance"}


def test_contract(dagbag) -> None:  # noqa: ANN001
    dag = dagbag.dags["bugzilla_push"]
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    minute = dag.timetable.timetable  # the default schedule: the push asset or every minute
    assert minute.expression == "* * * * *"
    assert minute.interval == timedelta(minutes=1)  # a run's data interval: the minute before it
    assert {"bugzilla", "push"} <= set(dag.tags)
    assert dag.doc_md
    assert "bugzilla_push" in dag.doc_md
    assert dag.owner == "bugzilla"
    assert {
        "connectors",
        "batch_size",
        "replay_since",
        "replay_until",
        "replay_bug_ids",
        "replay_push_ids",
    } <= set(dag.params)
    for name, param in dag.params.items():
        assert param.description, f"param {name} explains itself on the trigger form"
    # Empty unless a manual run sets one, so the bugzilla_push_config Variable's batch_size holds.
    assert dag.params["batch_size"] is None


def test_the_default_schedule_is_the_push_asset_or_every_minute(dagbag) -> None:  # noqa: ANN001
    from airflow.sdk import Asset, AssetOrTimeSchedule

    timetable = dagbag.dags["bugzilla_push"].timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    asset = timetable.asset_condition
    assert isinstance(asset, Asset)
    assert asset.uri == "x-bugzilla-push://bugzilla_db/push"
    [watcher] = asset.watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "bugzilla_push.airflow.trigger.PushCommitTrigger"
    assert kwargs["conn_id"] == "bugzilla_db"  # an id, never credentials
    assert "max_active_runs=1" in dagbag.dags["bugzilla_push"].doc_md  # the burst behaviour is documented


def parse(monkeypatch: pytest.MonkeyPatch, schedule: str):  # noqa: ANN201
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("BUGZILLA_PUSH_SCHEDULE", schedule)
    return DagBag(dag_folder=str(ROOT / "dags"))


def test_minute_schedule_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import CronTriggerTimetable

    bag = parse(monkeypatch, "minute")
    assert bag.import_errors == {}
    timetable = bag.dags["bugzilla_push"].timetable
    assert isinstance(timetable, CronTriggerTimetable)
    assert timetable.expression == "* * * * *"
    assert bag.dags["bugzilla_push"].max_active_runs == 1


def test_an_unknown_schedule_is_an_import_error_that_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bag = parse(monkeypatch, "hourly")
    assert "BUGZILLA_PUSH_SCHEDULE" in "".join(bag.import_errors.values())


def test_every_task_retries_and_finalize_always_runs(dagbag) -> None:  # noqa: ANN001
    dag = dagbag.dags["bugzilla_push"]
    assert {t.task_id for t in dag.tasks} == {"read_pending", "deliver", "finalize"}
    for task in dag.tasks:
        assert task.retries >= 2, task.task_id
        assert task.retry_delay <= timedelta(minutes=1)
    assert dag.get_task("finalize").trigger_rule == "all_done"
    assert dag.get_task("deliver").map_index_template == "{{ connector }}"
    assert dag.get_task("finalize").upstream_task_ids == {"read_pending", "deliver"}
    assert dag.leaves == [dag.get_task("finalize")]  # its failure is the run's


def test_housekeeping_runs_hourly_in_a_dag_of_its_own(dagbag) -> None:  # noqa: ANN001
    """Delivery runs never wait for a purge: it is the maintenance DAG's, which runs beside them."""
    from airflow.sdk import CronTriggerTimetable

    dag = dagbag.dags["bugzilla_push_maintenance"]
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.expression == "0 * * * *"
    assert (dag.max_active_runs, dag.catchup, dag.owner) == (1, False, "bugzilla")
    assert {t.task_id for t in dag.tasks} == {"purge_old_rows", "clean_airflow_metadata", "check_backlog_age"}
    for task in dag.tasks:
        assert task.upstream_task_ids == set(), task.task_id  # none waits for another
        assert task.retries >= 2, task.task_id
        assert task.execution_timeout, task.task_id
    assert dag.doc_md


def test_parsing_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing runs at parse time: parsing with no connections or variables must not fail or connect."""
    import socket

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the DAG file opened a network connection while being parsed")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}


@pytest.mark.parametrize("dag_id", ["bugzilla_push", "bugzilla_push_maintenance"])
def test_each_task_documents_itself_and_a_failed_run_alerts(dagbag, dag_id: str) -> None:  # noqa: ANN001
    from bugzilla_push.airflow.alerts import RunFailedNotifier

    dag = dagbag.dags[dag_id]
    assert dag.description
    for task in dag.tasks:
        assert task.doc_md, f"{task.task_id} has no docstring (its docs in the UI)"
    assert isinstance(dag.on_failure_callback, RunFailedNotifier)
