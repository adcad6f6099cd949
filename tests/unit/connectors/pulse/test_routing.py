"""Bugzilla's whole routing key on Pulse, cut at a field boundary only past AMQP's 255 bytes."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bugzilla_push.connectors.base import OK
from bugzilla_push.connectors.pulse.confirms import PublishReport
from bugzilla_push.connectors.pulse.connector import PulseConnector
from bugzilla_push.connectors.pulse.routing import AMQP_KEY_MAX_BYTES, amqp_routing_key
from bugzilla_push.model import PushRow, Result, parse_message

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pytest

    from bugzilla_push.connectors.pulse.confirms import Publication

FIELDS = [f"cf_{kind}_firefox{n}" for n in range(130, 140) for kind in ("status", "tracking")]
HUGE = "bug.modify:" + ",".join(FIELDS)  # 20 fields, 431 characters


def test_a_key_that_fits_is_published_whole() -> None:
    key = "bug.modify:" + ",".join(FIELDS[:4])
    assert amqp_routing_key(key) is key
    exactly = "bug.modify:" + "x" * (AMQP_KEY_MAX_BYTES - 11)
    assert amqp_routing_key(exactly) == exactly


def test_a_longer_key_keeps_the_whole_fields_that_fit() -> None:
    cut = amqp_routing_key(HUGE)
    assert len(cut.encode()) <= AMQP_KEY_MAX_BYTES
    assert HUGE.startswith(cut)
    assert HUGE[len(cut)] == ","  # ends at a field boundary
    assert len(cut) + len("," + FIELDS[len(cut.split(","))]) > AMQP_KEY_MAX_BYTES  # and keeps all that fit


def test_bytes_count_not_characters_and_a_single_huge_field_leaves_target_and_action() -> None:
    wide = "bug.modify:" + ",".join(["cf_ünïcödé_" + "é" * 40] * 4)
    assert len(wide) <= AMQP_KEY_MAX_BYTES < len(wide.encode())
    cut = amqp_routing_key(wide)
    assert len(cut.encode()) <= AMQP_KEY_MAX_BYTES
    assert cut.count(",") == 1  # two whole fields
    assert amqp_routing_key("bug.modify:" + "x" * 300) == "bug.modify"


class RecordingPublisher:
    """A test double of the confirming publisher: confirms everything and keeps what it got."""

    def __init__(self) -> None:
        self.published: list[Publication] = []

    def publish(self, items: Sequence[Publication]) -> PublishReport:
        self.published += items
        return PublishReport([OK] * len(items))

    def close(self) -> None:
        pass


def test_a_cut_key_is_logged_with_the_push_id_and_said_in_the_messages_log_row(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def message(push_id: int, key: str):  # noqa: ANN202
        payload = {
            "bug": {"id": 1, "is_private": False},
            "event": {"action": "modify", "target": "bug", "routing_key": key},
        }
        return parse_message(
            PushRow(push_id, datetime(2026, 11, 2), json.dumps(payload), "1.1", key[:64]), 10**6
        )

    publisher = RecordingPublisher()
    pulse = PulseConnector("pulse", publisher)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="bugzilla_push.connectors.pulse.connector"):
        outcomes = pulse.send([message(41, "bug.modify:status"), message(42, HUGE)])
    assert [p.routing_key for p in publisher.published] == ["bug.modify:status", amqp_routing_key(HUGE)]
    assert outcomes[0] == OK
    assert outcomes[1].result is Result.OK
    assert outcomes[1].detail is not None
    assert f"routing key of {len(HUGE)} bytes published as its first" in outcomes[1].detail
    assert outcomes[1].detail.endswith("cf_tracking_firefox139")  # names what it left out
    assert [r.getMessage()[:14] for r in caplog.records] == ["pulse: push 42"]
