"""Finished DAG runs written straight into Airflow's metadata database, as the scheduler leaves them.

A delivery run of `bugzilla_push` started by a commit: one asset event (linked to the run), four
task instances (`read_pending`, `deliver` mapped over two connectors, `finalize`) and the XCom
each returned. Bulk inserts, for the metadata cleaning's tests and its benchmark: no task runs.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.engine import Connection, Engine

TASKS = (("read_pending", -1), ("deliver", 0), ("deliver", 1), ("finalize", -1))
TASK_SECONDS = 0.5  # each task's duration; a run lasts len(TASKS) times this


def tables(engine: Engine) -> dict[str, sa.Table]:
    meta = sa.MetaData()
    names = ("dag_run", "task_instance", "xcom", "asset_event", "dagrun_asset_event", "dag_version", "asset")
    meta.reflect(bind=engine, only=names)
    return {name: meta.tables[name] for name in names}


def latest_version(conn: Connection, t: dict[str, sa.Table], dag_id: str) -> uuid.UUID | None:
    v = t["dag_version"]
    return conn.execute(
        sa.select(v.c.id).where(v.c.dag_id == dag_id).order_by(v.c.version_number.desc()).limit(1)
    ).scalar()


def asset_id(conn: Connection, t: dict[str, sa.Table], uri: str) -> int | None:
    return conn.execute(sa.select(t["asset"].c.id).where(t["asset"].c.uri == uri)).scalar()


def add_runs(
    engine: Engine,
    dag_id: str,
    starts: Iterable[datetime],
    *,
    run_type: str = "asset_triggered",
    state: str = "success",
    asset_uri: str | None = "x-bugzilla-push://bugzilla_db/push",
    chunk: int = 2000,
) -> list[str]:
    """Write one finished run per start time (aware UTC) with its task instances, XComs and event.

    Returns the run ids, in the order of `starts`.
    """
    t = tables(engine)
    run_ids: list[str] = []
    with engine.begin() as conn:
        version = latest_version(conn, t, dag_id)
        asset = asset_id(conn, t, asset_uri) if asset_uri else None
    pending = list(starts)
    for i in range(0, len(pending), chunk):
        with engine.begin() as conn:
            run_ids += _add_chunk(conn, t, dag_id, pending[i : i + chunk], run_type, state, version, asset)
    return run_ids


def _add_chunk(
    conn: Connection,
    t: dict[str, sa.Table],
    dag_id: str,
    starts: Sequence[datetime],
    run_type: str,
    state: str,
    version: uuid.UUID | None,
    asset: int | None,
) -> list[str]:
    took = timedelta(seconds=TASK_SECONDS * len(TASKS))
    finished = state in ("success", "failed")
    runs = [
        {
            "dag_id": dag_id,
            "run_id": f"{run_type}__{start.isoformat()}_{uuid.uuid4().hex[:6]}",
            "run_type": run_type,
            # Only a scheduled run has a logical date (and `airflow tasks test` replaces a run of the
            # DAG whose logical date is empty, as its own are).
            "logical_date": start if run_type == "scheduled" else None,
            "state": state,
            "queued_at": start,
            "start_date": start,
            "end_date": start + took if finished else None,
            "run_after": start,
            # Stored as the enum's name (DagRunTriggeredByType).
            "triggered_by": "ASSET" if run_type == "asset_triggered" else "TIMETABLE",
            "clear_number": 0,
            "span_status": "not_started",
            "created_dag_version_id": version,
            "conf": {},
        }
        for start in starts
    ]
    made = conn.execute(
        sa.insert(t["dag_run"]).returning(
            t["dag_run"].c.id, t["dag_run"].c.run_id, sort_by_parameter_order=True
        ),
        runs,
    ).all()
    ids = {run_id: pk for pk, run_id in made}
    tis, xcoms = [], []
    for run in runs:
        for n, (task_id, map_index) in enumerate(TASKS):
            began = run["start_date"] + timedelta(seconds=TASK_SECONDS * n)
            ended = began + timedelta(seconds=TASK_SECONDS) if finished else None
            tis.append(
                {
                    "id": uuid.uuid4(),
                    "task_id": task_id,
                    "dag_id": dag_id,
                    "run_id": run["run_id"],
                    "map_index": map_index,
                    "start_date": began,
                    "end_date": ended,
                    "duration": TASK_SECONDS if finished else None,
                    "state": state if finished else "running",
                    "try_number": 1,
                    "max_tries": 2,
                    "pool": "default_pool",
                    "pool_slots": 1,
                    "queue": "default",
                    "priority_weight": 1,
                    "operator": "_PythonDecoratedOperator",
                    "dag_version_id": version,
                    "span_status": "not_started",
                    "rendered_map_index": {0: "file", 1: "pulse"}.get(map_index),
                }
            )
            xcoms.append(
                {
                    "dag_run_id": ids[run["run_id"]],
                    "task_id": task_id,
                    "map_index": map_index,
                    "key": "return_value",
                    "dag_id": dag_id,
                    "run_id": run["run_id"],
                    "value": {"sent": 5, "state": "ok"},
                    "timestamp": ended or began,
                }
            )
    conn.execute(sa.insert(t["task_instance"]), tis)
    conn.execute(sa.insert(t["xcom"]), xcoms)
    if asset is not None:
        events = conn.execute(
            sa.insert(t["asset_event"]).returning(t["asset_event"].c.id, sort_by_parameter_order=True),
            [
                {
                    "asset_id": asset,
                    # The run's id, so that a test finds the run's events after the run is gone.
                    "extra": {"max_id": n, "run_id": run["run_id"]},
                    "timestamp": run["start_date"] - timedelta(seconds=1),
                }
                for n, run in enumerate(runs)
            ],
        ).all()
        conn.execute(
            sa.insert(t["dagrun_asset_event"]),
            [
                {"dag_run_id": ids[run["run_id"]], "event_id": event_id}
                for run, (event_id,) in zip(runs, events, strict=True)
            ],
        )
    return [run["run_id"] for run in runs]
