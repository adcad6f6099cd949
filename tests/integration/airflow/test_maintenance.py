"""The maintenance DAG on a real Airflow metadata database: only old records of its DAGs go."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from bugzilla_push.store import open_store
from tests.airflow_runs import add_runs
from tests.support import airflow

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy.engine import Engine

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def metadata(airflow_db: None) -> Iterator[Engine]:
    """This worker's metadata database, with both DAGs (and the push asset) serialized into it."""
    result = airflow("dags", "reserialize")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    engine = sa.create_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    yield engine
    engine.dispose()


def metadata_conn() -> str:
    """The same database as an Airflow connection URI (`postgresql://…`, the type Airflow parses)."""
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg", "", 1)


def run_ids(engine: Engine, ids: list[str]) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text("SELECT run_id FROM dag_run WHERE run_id = ANY(:ids)"), {"ids": ids}
            ).scalars()
        )


def rows(engine: Engine, table: str, ids: list[str]) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(f"SELECT COUNT(*) FROM {table} WHERE run_id = ANY(:ids)"), {"ids": ids}
        ).scalar()


def events(engine: Engine, ids: list[str]) -> int:
    """How many asset events of these runs are left (each names its run in its extra)."""
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT COUNT(*) FROM asset_event WHERE extra->>'run_id' = ANY(:ids)"), {"ids": ids}
        ).scalar()


def log_folder(base: Path, dag_id: str, run_id: str, age: timedelta) -> Path:
    folder = base / f"dag_id={dag_id}" / f"run_id={run_id}"
    (folder / "task_id=finalize").mkdir(parents=True)
    (folder / "task_id=finalize" / "attempt=1.log").write_text("{}\n")
    stamp = (datetime.now(UTC) - age).timestamp()
    for path in (folder / "task_id=finalize" / "attempt=1.log", folder / "task_id=finalize", folder):
        os.utime(path, (stamp, stamp))
    return folder


def clean(logs: Path) -> str:
    result = airflow(
        "tasks",
        "test",
        "bugzilla_push_maintenance",
        "clean_airflow_metadata",
        env={
            "AIRFLOW_CONN_AIRFLOW_METADATA_DB": metadata_conn(),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(logs),
        },
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_old_runs_of_its_dags_go_and_nothing_else(metadata: Engine, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    three_s = timedelta(seconds=3)
    old = add_runs(metadata, "bugzilla_push", [now - 5 * DAY + i * three_s for i in range(4)])
    after_running = add_runs(metadata, "bugzilla_push", [now - 3.5 * DAY + i * three_s for i in range(3)])
    new = add_runs(metadata, "bugzilla_push", [now - timedelta(hours=1) + i * three_s for i in range(3)])
    maintenance_old = add_runs(
        metadata,
        "bugzilla_push_maintenance",
        [now - 6 * DAY, now - 5 * DAY],
        run_type="scheduled",
        asset_uri=None,
    )
    # A maintenance run that has not finished, started four days ago: it and everything after it stay.
    running = add_runs(
        metadata,
        "bugzilla_push_maintenance",
        [now - 4 * DAY],
        run_type="scheduled",
        state="running",
        asset_uri=None,
    )
    other = add_runs(metadata, "another_dag", [now - 5 * DAY], asset_uri=None)
    logs = tmp_path / "logs"
    old_folder = log_folder(logs, "bugzilla_push", old[0], 5 * DAY)
    new_folder = log_folder(logs, "bugzilla_push", new[0], timedelta(hours=1))
    other_folder = log_folder(logs, "another_dag", other[0], 5 * DAY)
    every = old + after_running + new + maintenance_old + running + other
    assert events(metadata, old + after_running + new) == 10

    output = clean(logs)

    assert "Airflow's records of bugzilla_push, bugzilla_push_maintenance before" in output
    assert run_ids(metadata, every) == {*after_running, *new, *running, *other}
    assert (rows(metadata, "task_instance", old), rows(metadata, "xcom", old)) == (0, 0)
    assert rows(metadata, "task_instance", new) == rows(metadata, "xcom", new) == 4 * len(new)
    assert rows(metadata, "task_instance", other) == 4
    assert (events(metadata, old), events(metadata, after_running + new)) == (0, 6)
    assert (old_folder.exists(), new_folder.exists(), other_folder.exists()) == (False, True, True)

    with metadata.begin() as conn:  # the maintenance run ends: the runs after its start go next time
        conn.execute(
            sa.text("UPDATE dag_run SET state = 'success', end_date = start_date WHERE run_id = :r"),
            {"r": running[0]},
        )
    clean(logs)

    # Its newest scheduled run stays, four days old: Airflow's timetable continues from it.
    assert run_ids(metadata, every) == {*new, *running, *other}
    assert (events(metadata, after_running), events(metadata, new)) == (0, 3)
    assert rows(metadata, "xcom", new) == 4 * len(new)


def test_without_the_metadata_connection_the_cleaning_is_skipped_and_says_why() -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from bugzilla_push.airflow.maintenance import clean_airflow_metadata

    with pytest.raises(AirflowSkipException, match="AIRFLOW_CONN_AIRFLOW_METADATA_DB="):
        clean_airflow_metadata(["bugzilla_push"], "airflow_metadata_db")


def test_purge_old_rows_runs_in_the_maintenance_dag(airflow_db: None, source: str) -> None:
    with open_store(source) as store, store.transaction() as cur:
        old = store.dialect.to_db(datetime(2020, 1, 1))
        store.execute(
            cur,
            "INSERT INTO push_log (message_id, change_set, routing_key, connector, push_ts, "
            "processed_ts, result, data) VALUES (1, '1.1', 'bug.create', 'file', %(t)s, %(t)s, 1, NULL)",
            {"t": old},
        )
    result = airflow(
        "tasks",
        "test",
        "bugzilla_push_maintenance",
        "purge_old_rows",
        env={"AIRFLOW_CONN_BUGZILLA_DB": source},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "purged 1 rows older than 7 days" in result.stdout + result.stderr
    with open_store(source) as store:
        assert store.query("SELECT COUNT(*) FROM push_log")[0][0] == 0
