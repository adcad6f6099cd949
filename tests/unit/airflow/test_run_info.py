"""An asset-triggered run (a commit to push) delivers live, like a scheduled one; only a backfill replays."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from bugzilla_push.airflow.tasks import RunInfo, replay_selector

DEFAULT_PARAMS = {"connectors": [], "batch_size": 10_000, "replay_since": None, "replay_until": None}


def test_an_asset_triggered_run_is_live_delivery() -> None:
    # Airflow 3.3 creates asset-triggered runs with no logical date and no data interval.
    run = SimpleNamespace(run_id="asset_triggered__2026-01-01T00:00:01", run_type="asset_triggered")
    info = RunInfo.from_context({"dag_run": run, "data_interval_start": None, "data_interval_end": None})
    assert info.run_type == "asset_triggered"
    assert info.interval is None
    assert replay_selector(DEFAULT_PARAMS, info) is None


def test_an_asset_triggered_run_with_an_interval_is_still_not_a_replay() -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    run = SimpleNamespace(run_id="asset_triggered__x", run_type="asset_triggered")
    info = RunInfo.from_context({"dag_run": run, "data_interval_start": start, "data_interval_end": end})
    assert replay_selector(DEFAULT_PARAMS, info) is None
