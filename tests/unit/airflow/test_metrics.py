"""Which metrics backends carry tags (read from Airflow's [metrics] settings)."""

from __future__ import annotations

import os
from unittest import mock

import pytest

from bugzilla_push.airflow import metrics


@pytest.mark.parametrize(
    ("settings", "tagged"),
    [
        ({"STATSD_DATADOG_ENABLED": "True"}, True),
        ({"OTEL_ON": "True"}, True),
        ({"STATSD_ON": "True", "STATSD_INFLUXDB_ENABLED": "True"}, True),
        ({"STATSD_ON": "True"}, False),
        ({"STATSD_ON": "True", "OTEL_ON": "True"}, False),  # StatsD wins in Airflow's factory
        ({}, False),
    ],
)
def test_which_backends_carry_tags(settings: dict[str, str], tagged: bool) -> None:
    keys = ("STATSD_DATADOG_ENABLED", "OTEL_ON", "STATSD_ON", "STATSD_INFLUXDB_ENABLED")
    env = {f"AIRFLOW__METRICS__{k}": settings.get(k, "False") for k in keys}
    with mock.patch.dict(os.environ, env):
        assert metrics.tags_supported() is tagged
