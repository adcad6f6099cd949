"""The real Airflow stack (scheduler, dag-processor, triggerer, api-server, LocalExecutor) delivering
to Pulse, the Elasticsearch double and a file for a minute, without faults (CI shares the broker,
and `python -m scripts.chaos` is the fault run): nothing lost, nothing out of order."""

from __future__ import annotations

import pytest

from scripts.chaos.faults import KINDS
from scripts.chaos.run import Options, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.timeout(600)
@pytest.mark.usefixtures("rabbitmq")
def test_stack_delivers_everything_in_order_with_a_few_faults() -> None:
    outcome = run(Options(duration=60, rate=5, faults=0, seed=3, drain_timeout=240))
    assert outcome.report["produced"] > 200
    for verdict in outcome.verdicts:
        assert verdict.lost == 0, verdict
        assert verdict.out_of_order == 0, verdict
        assert verdict.delivered == verdict.expected, verdict
    assert outcome.report["drained"]
    assert outcome.passed
    assert set(outcome.report["faults"]["injected"]) == set(KINDS)
