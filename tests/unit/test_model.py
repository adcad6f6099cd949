from __future__ import annotations

import json
from datetime import datetime

import pytest

from bugzilla_push.model import InvalidMessage, PushRow, parse_message, routing_key_for

LIMIT = 1024 * 1024


def row(payload: object, routing_key: str = "bug.modify:status", push_id: int = 1) -> PushRow:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return PushRow(push_id, datetime(2026, 11, 27, 12), text, "4242.1", routing_key)


def bug_payload(**event: object) -> dict:
    base = {
        "action": "modify",
        "target": "bug",
        "time": "2026-11-27T12:00:00",
        "user": {"id": 1},
        "changes": [{"field": "status", "removed": "NEW", "added": "ASSIGNED"}],
    }
    return {"bug": {"id": 648667, "summary": "test", "is_private": False}, "event": {**base, **event}}


def test_valid_message_is_decoded_with_its_target_and_fields() -> None:
    message = parse_message(row(bug_payload()), LIMIT)
    assert message.target == "bug"
    assert message.object["id"] == 648667
    assert message.bug == message.object
    assert message.changed_fields == ("status",)


def test_comment_message_exposes_its_bug() -> None:
    payload = {
        "comment": {"id": 5, "body": "hi", "bug": {"id": 9, "is_private": True}},
        "event": {"action": "create", "target": "comment", "user": {"id": 1}},
    }
    message = parse_message(row(payload, "comment.create"), LIMIT)
    assert message.bug == {"id": 9, "is_private": True}


@pytest.mark.parametrize(
    ("payload", "routing_key", "reason"),
    [
        ('{"bug": {"id": 1}, "event": ', "bug.modify:status", "not valid JSON"),
        ("[1, 2]", "bug.modify:status", "not a JSON object"),
        ({"bug": {"id": 1}}, "bug.modify:status", "no 'event' object"),
        ({"bug": {"id": 1}, "event": {"target": "bug"}}, "bug.modify", "event is invalid: .*field `action`"),
        (bug_payload(action="explode"), "bug.explode", "'explode' - at `event.action`"),
        (bug_payload(), "comment.create", "does not match the payload's event"),
        (bug_payload(), "bug.create", "does not match the payload's event"),
        (bug_payload(routing_key="bug.modify:priority"), "bug.modify:status", "differs from the payload's"),
        (bug_payload(), "flag.modify", "unknown target"),
        (bug_payload(), "not a key", "not of the form"),
        ({"event": bug_payload()["event"]}, "bug.modify:status", "no 'bug' object with an 'id'"),
    ],
)
def test_bad_rows_are_rejected_with_a_reason(payload: object, routing_key: str, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        parse_message(row(payload, routing_key), LIMIT)


def test_oversize_payload_is_rejected_before_parsing() -> None:
    big = bug_payload()
    big["bug"]["summary"] = "x" * 5000
    with pytest.raises(InvalidMessage, match="over the limit of 4,096"):
        parse_message(row(big), 4096)


def test_routing_key_is_built_like_bugzillas() -> None:
    event = {
        "target": "bug",
        "action": "modify",
        "changes": [{"field": "resolution"}, {"field": "status"}, {"field": "resolution"}],
    }
    assert routing_key_for(event) == "bug.modify:resolution,status"
    assert routing_key_for({"target": "comment", "action": "create"}) == "comment.create"
    long = {
        "target": "bug",
        "action": "modify",
        "changes": [{"field": f"cf_status_firefox{n}"} for n in range(10)],
    }
    key = routing_key_for(long)
    assert len(key) <= 64
    assert key.startswith("bug.modify:cf_status_firefox0,")
    assert not key.endswith(",")
