"""Delivery settings from Airflow: the `bugzilla_push_config` Variable, then what a run's params give."""

from __future__ import annotations

import os
from unittest import mock

from bugzilla_push.airflow.tasks import CONFIG_VARIABLE, delivery_config

VARIABLE = {f"AIRFLOW_VAR_{CONFIG_VARIABLE.upper()}": '{"batch_size": 20000, "chunk_size": 250}'}


def test_the_variables_settings_hold_when_a_run_gives_none() -> None:
    with mock.patch.dict(os.environ, VARIABLE):
        config = delivery_config(batch_size=None)
    assert (config.batch_size, config.chunk_size) == (20_000, 250)


def test_a_runs_batch_size_takes_precedence_over_the_variable() -> None:
    with mock.patch.dict(os.environ, VARIABLE):
        assert delivery_config(batch_size=500).batch_size == 500
