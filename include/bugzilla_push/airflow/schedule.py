"""The DAG's schedule: a run within about a second of a commit to `push`, and every minute regardless.

`BUGZILLA_PUSH_SCHEDULE` picks it when the DAG file is parsed (an environment variable: no
database or network look-up): `event` (default) runs on the asset watcher's events or every
minute, whichever comes first; `minute` runs every minute only, for deployments without a
triggerer and for latency comparisons.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import Asset, AssetOrTimeSchedule, AssetWatcher, CronTriggerTimetable

SCHEDULE_VARIABLE = "BUGZILLA_PUSH_SCHEDULE"
SCHEDULES = ("event", "minute")
# An `x-` scheme is private to this project: Airflow neither normalises nor validates it.
PUSH_ASSET_URI = "x-bugzilla-push://bugzilla_db/push"
PUSH_ASSET_NAME = "bugzilla_push_table"
WATCHER_NAME = "bugzilla_push_commits"


def minute_timetable() -> CronTriggerTimetable:
    # Each run's data interval is the minute before it, which a backfill replays.
    return CronTriggerTimetable("* * * * *", timezone="UTC", interval=timedelta(minutes=1))


def push_asset(conn_id: str) -> Asset:
    """Return the `push` table as an asset whose watcher fires on commits."""
    from bugzilla_push.airflow.trigger import PushCommitTrigger

    return Asset(
        name=PUSH_ASSET_NAME,
        uri=PUSH_ASSET_URI,
        watchers=[AssetWatcher(name=WATCHER_NAME, trigger=PushCommitTrigger(conn_id=conn_id))],
    )


def delivery_schedule(conn_id: str, mode: str | None = None) -> CronTriggerTimetable | AssetOrTimeSchedule:
    """Return the schedule `mode` (default: `$BUGZILLA_PUSH_SCHEDULE`, else `event`) asks for."""
    mode = (mode or os.environ.get(SCHEDULE_VARIABLE) or "event").strip().lower()
    if mode not in SCHEDULES:
        raise ValueError(f"{SCHEDULE_VARIABLE}={mode!r}: use one of {', '.join(SCHEDULES)}")
    if mode == "minute":
        return minute_timetable()
    return AssetOrTimeSchedule(timetable=minute_timetable(), assets=push_asset(conn_id))
