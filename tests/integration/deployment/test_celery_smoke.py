"""The real stack on the CeleryExecutor: two `airflow celery worker` processes take the `deliver`
tasks from this machine's RabbitMQ (a vhost of its own; PostgreSQL as result backend). Whichever
worker runs a connector's task, each connector receives every message once, in push-id order —
the checker's verdict, the same one the LocalExecutor smoke test must meet.
`python -m scripts.chaos.compare` is the longer side-by-side run behind the README's figures."""

from __future__ import annotations

import pytest

from scripts.airflow_stack import CELERY_WORKERS
from scripts.chaos.run import Options, run
from tests.integration.deployment.outcomes import assert_everything_delivered_in_order

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.timeout(600)
@pytest.mark.usefixtures("rabbitmq")
def test_two_celery_workers_share_the_deliveries_and_every_connector_gets_everything_in_order() -> None:
    outcome = run(
        Options(duration=45, rate=5, faults=0, seed=3, linger=5, executor="celery", drain_timeout=240)
    )
    # Runs linger 5 s, not 30: 45 s of commits make several runs to share between the workers.
    assert_everything_delivered_in_order(outcome, produced_at_least=150)
    workers = outcome.report["workers"]
    assert set(workers["deliver_tasks_by_host"]) == set(CELERY_WORKERS), workers
    assert workers["runs_across_hosts"] >= 1, workers
