"""Metrics through Airflow's own StatsD client: the connector a tag where the backend has tags."""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING
from unittest import mock

import pytest

from bugzilla_push.airflow import metrics

if TYPE_CHECKING:
    from tests.doubles.statsd_receiver import StatsdReceiver

pytestmark = pytest.mark.integration

REPORT = {"connector": "pulse", "sent": 3, "dead": 1, "backlog_left": 2, "seconds": 0.25}


@pytest.mark.parametrize(
    ("influx", "names"),
    [
        # Plain StatsD has no tags: today's names, the connector in them.
        (
            False,
            ["bugzilla_push.pulse.sent", "bugzilla_push.pulse.dead_letters", "bugzilla_push.pulse.backlog"],
        ),
        (
            True,
            [
                "bugzilla_push.sent,connector=pulse",
                "bugzilla_push.dead_letters,connector=pulse",
                "bugzilla_push.backlog,connector=pulse",
            ],
        ),
    ],
)
def test_the_connector_is_a_tag_only_where_statsd_carries_tags(
    statsd: StatsdReceiver, influx: bool, names: list[str]
) -> None:
    env = {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": str(influx),
    }
    with mock.patch.dict(os.environ, env), mock.patch.object(metrics, "_initialized", False):
        metrics.emit_delivery(REPORT, None, datetime(2026, 12, 1))
    sent, dead, backlog = (f"airflow.{name}" for name in names)
    assert statsd.wait_for(sent) == ["3|c"]
    assert statsd.wait_for(dead) == ["1|c"]
    assert statsd.wait_for(backlog) == ["2|g"]
    assert not [line for line in statsd.lines if "pulse" not in line]  # every metric names its connector
