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


# bugzilla.mozilla.org names every changed field in the key (extensions/Push/Extension.pm); its
# push.routing_key is VARCHAR(64) and Bugzilla turns MySQL's strict mode off (Bugzilla/DB/Mysql.pm),
# so the column keeps the first 64 characters and the payload the whole key.
LONG_KEY = "bug.modify:" + ",".join(f"cf_{k}_firefox{n}" for k in ("status", "tracking") for n in (135, 136))


def test_a_key_the_column_cut_at_64_characters_is_the_payloads_whole_key() -> None:
    assert len(LONG_KEY) > 64
    message = parse_message(row(bug_payload(routing_key=LONG_KEY), LONG_KEY[:64]), LIMIT)
    assert message.routing_key == LONG_KEY
    assert message.row.routing_key == LONG_KEY[:64]  # the row stays as stored
    assert message.changed_fields == (
        "cf_status_firefox135",
        "cf_status_firefox136",
        "cf_tracking_firefox135",
        "cf_tracking_firefox136",
    )


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (LONG_KEY[:63], "differs from the payload's .*only a cut at exactly 64 characters"),
        (LONG_KEY[:40], "differs from the payload's .*only a cut at exactly 64 characters"),
        (LONG_KEY[:63] + "x", "differs from the payload's"),
        ("bug.modify:" + "x" * 53, "differs from the payload's"),
    ],
)
def test_any_other_difference_from_the_payloads_key_is_still_rejected(stored: str, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        parse_message(row(bug_payload(routing_key=LONG_KEY), stored), LIMIT)


def test_a_payload_key_of_another_event_is_rejected_even_when_the_stored_key_is_its_cut() -> None:
    other = "comment.create:" + "x" * 60  # not a key this event can have: the stored key says bug.modify
    with pytest.raises(InvalidMessage, match="does not match the payload's event"):
        parse_message(row(bug_payload(routing_key=other), other[:64]), LIMIT)


def test_the_stored_key_built_from_a_long_event_key_is_the_columns_cut() -> None:
    event = {"target": "bug", "action": "modify", "routing_key": LONG_KEY}
    assert routing_key_for(event) == LONG_KEY[:64]


def test_a_message_keeps_what_is_derived_from_it_once_per_key() -> None:
    message = parse_message(
        PushRow(1, datetime(2026, 1, 1), json.dumps({"event": {"target": "bug", "action": "create"},
                                                      "bug": {"id": 5}}), "cs", "bug.create"),
        1 << 20,
    )  # fmt: skip
    made: list[int] = []

    def make(m: object) -> int:
        made.append(1)
        return len(made)

    assert [message.memo("k", make), message.memo("k", make), message.memo("other", make)] == [1, 1, 2]
