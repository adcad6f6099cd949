"""What every fault-free run of the deployed stack must show, whatever the executor."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scripts.chaos.run import Outcome


def assert_everything_delivered_in_order(outcome: Outcome, produced_at_least: int) -> None:
    """Each connector got every message it should, once in push-id order, and the queue drained."""
    assert outcome.report["produced"] >= produced_at_least
    for verdict in outcome.verdicts:
        assert verdict.lost == 0, verdict
        assert verdict.out_of_order == 0, verdict
        assert verdict.delivered == verdict.expected, verdict
    assert outcome.report["drained"]
    assert outcome.passed
