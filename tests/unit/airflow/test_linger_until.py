"""Which runs linger (tasks.linger_until), and how a lingering run's reports add up."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bugzilla_push.airflow import table_webhooks
from bugzilla_push.airflow.tasks import RunInfo, linger_until
from bugzilla_push.clock import utcnow
from bugzilla_push.config import DeliveryConfig
from bugzilla_push.reports import DeliveryReport, DeliveryState
from bugzilla_push.store.replays import Selector

CONFIG = DeliveryConfig(linger_seconds=30)


@pytest.mark.parametrize("run_type", ["scheduled", "asset_triggered"])
def test_live_runs_linger_for_the_configured_time(run_type: str) -> None:
    until = linger_until(CONFIG, RunInfo("r", run_type), {}, None)
    assert until is not None
    left = datetime.fromisoformat(until) - utcnow()
    assert timedelta(seconds=29) < left <= timedelta(seconds=30)


@pytest.mark.parametrize(
    ("run_type", "params", "replay"),
    [
        ("manual", {}, None),  # `airflow dags test`, a click on Trigger
        ("backfill", {}, None),
        ("scheduled", {"connectors": ["pulse"]}, None),
        ("asset_triggered", {}, Selector(None, None, (1,), ())),
    ],
)
def test_manual_backfill_partial_and_replay_runs_do_not_linger(
    run_type: str, params: dict, replay: Selector | None
) -> None:
    assert linger_until(CONFIG, RunInfo("r", run_type), params, replay) is None


def test_linger_seconds_zero_turns_it_off() -> None:
    assert linger_until(DeliveryConfig(linger_seconds=0), RunInfo("r", "scheduled"), {}, None) is None


def test_reports_of_segments_add_up_and_end_in_the_last_state() -> None:
    first = DeliveryReport("pulse", 1, sent=10, held=0, seconds=1.0, first_id=1, last_id=10)
    failing = DeliveryReport(
        "pulse",
        2,
        DeliveryState.BACKING_OFF,
        sent=2,
        held=3,
        transient=1,
        first_id=11,
        last_id=15,
        error="503",
    )
    closed = DeliveryReport("pulse", 3, DeliveryState.BATCH_CLOSED, first_id=16, last_id=16)
    total = first.absorb(failing).absorb(closed)
    assert (total.sent, total.held, total.transient, total.seconds) == (12, 3, 1, 1.0)
    assert (total.first_id, total.last_id) == (1, 16)
    assert (total.state, total.error) == (
        DeliveryState.BACKING_OFF,
        "503",
    )  # a closed segment changes nothing


def test_table_webhooks_results_of_segments_merge_per_webhook() -> None:
    def result(sent: int, failed: dict[str, str]) -> dict:
        reports = [DeliveryReport(n, 1, sent=sent).to_dict() for n in ("Webhook_1", "Webhook_2")]
        return {"connector": "bugzilla_webhooks", "webhooks": reports, "failed": failed}

    merged = table_webhooks.merge([result(3, {}), result(4, {"Webhook_2": "gone"})])
    assert {r["connector"]: r["sent"] for r in merged["webhooks"]} == {"Webhook_1": 7, "Webhook_2": 7}
    assert merged["failed"] == {"Webhook_2": "gone"}
