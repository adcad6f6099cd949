"""The real Airflow stack (scheduler, dag-processor, triggerer, api-server, LocalExecutor) delivering
to Pulse, the Elasticsearch double and a file for a minute, without faults (CI shares the broker,
and `python -m scripts.chaos` is the fault run): nothing lost, nothing out of order, and the runs
are started by the asset watcher on commits, not only by the minute schedule."""

from __future__ import annotations

import pytest

from scripts.chaos.faults import KINDS
from scripts.chaos.run import Options, run
from tests.integration.deployment.outcomes import assert_everything_delivered_in_order

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.timeout(600)
@pytest.mark.usefixtures("rabbitmq")
def test_the_deployed_stack_delivers_everything_in_order_in_runs_started_by_commits() -> None:
    outcome = run(Options(duration=60, rate=5, faults=0, seed=3, linger=5, drain_timeout=240))
    assert_everything_delivered_in_order(outcome, produced_at_least=200)
    assert set(outcome.report["faults"]["injected"]) == set(KINDS)
    # A minute of commits at 5/s, runs lingering 5 s (the default 30 s would make it two runs): the
    # watcher starts run after run; the cron adds at most two.
    run_types = outcome.report["dag_run_types"]
    assert run_types.get("asset_triggered", 0) >= 3, run_types
    assert run_types.get("manual", 0) == 0, run_types  # nothing pumped runs by hand
