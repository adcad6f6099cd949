from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from bugzilla_push.cli import InputError, Thresholds, check_status, parse_enqueue_input
from bugzilla_push.store.records import ConnectorStatus, QueueStatus

PAYLOAD = {
    "bug": {"id": 1},
    "event": {
        "action": "modify",
        "target": "bug",
        "change_set": "77.5",
        "changes": [{"field": "status"}, {"field": "resolution"}],
    },
}


def test_rows_and_bare_payloads_in_json_lines() -> None:
    text = "\n".join(
        [
            json.dumps(
                {"payload": PAYLOAD, "routing_key": "bug.modify:status,resolution", "change_set": "1.2"}
            ),
            "",
            json.dumps(PAYLOAD),
            json.dumps({"payload": "{broken", "routing_key": "bug.modify", "change_set": "3.4"}),
        ]
    )
    first, bare, broken = parse_enqueue_input(text)
    assert (first.routing_key, first.change_set) == ("bug.modify:status,resolution", "1.2")
    assert json.loads(first.payload) == PAYLOAD
    assert (bare.routing_key, bare.change_set) == ("bug.modify:status,resolution", "77.5")
    assert broken.payload == "{broken"  # stored verbatim, as Bugzilla would have: the engine dead-letters it


def test_a_json_array_is_accepted() -> None:
    assert len(parse_enqueue_input(json.dumps([PAYLOAD, PAYLOAD]))) == 2


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"payload": 1}\n{not json', "line 2 is not valid JSON"),
        ("[1, 2", "JSON array is not valid JSON"),
        ("[1]", "message 1 is a JSON int"),
        ('{"payload": "x"}', "no routing_key"),
        (json.dumps({"payload": PAYLOAD, "routing_key": "b." + "x" * 70}), "at most 64"),
    ],
)
def test_bad_input_names_the_line(text: str, error: str) -> None:
    with pytest.raises(InputError, match=error):
        parse_enqueue_input(text)


NOW = datetime(2026, 11, 27, 12, 0, 0)


def _status(pending: int, oldest_age: int = 0, **backlogs: int) -> QueueStatus:
    oldest = NOW - timedelta(seconds=oldest_age) if pending else None
    return QueueStatus(pending, oldest, {n: ConnectorStatus(n, backlog=b) for n, b in backlogs.items()})


@pytest.mark.parametrize(
    ("pending", "backlog", "code"),
    [(0, 0, 0), (10, 499, 0), (10, 500, 1), (10, 749, 1), (10, 750, 2), (800, 0, 2), (600, 0, 1)],
)
def test_check_depth_thresholds_are_bmos(pending: int, backlog: int, code: int) -> None:
    got, text = check_status(_status(pending, pulse=backlog), [], Thresholds(), NOW)
    assert got == code
    assert f"pulse backlog {backlog:,}" in text


@pytest.mark.parametrize(("age", "code"), [(0, 0), (599, 0), (600, 1), (1799, 1), (1800, 2)])
def test_check_age_thresholds(age: int, code: int) -> None:
    got, text = check_status(_status(3, oldest_age=age), [], Thresholds(), NOW)
    assert got == code
    assert ("oldest" in text) == (age > 0)


def test_an_old_backlog_message_counts_too() -> None:
    status = QueueStatus(
        0, None, {"pulse": ConnectorStatus("pulse", backlog=2, oldest_ts=NOW - timedelta(hours=1))}
    )
    code, text = check_status(status, [], Thresholds(), NOW)
    assert code == 2
    assert "pulse backlog 2 (oldest 3,600 s)" in text


def test_check_of_a_named_connector_without_backlog_is_ok() -> None:
    code, text = check_status(_status(0, pulse=900), ["file"], Thresholds(), NOW)
    assert code == 0
    assert "pulse" not in text
    assert "file backlog 0" in text
