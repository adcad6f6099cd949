from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from bugzilla_push.model import InvalidMessage, PushRow, parse_message
from bugzilla_push.samples import BugzillaSimulator, first_run_samples


def _parse(message: dict) -> object:
    payload = message["payload"]
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return parse_message(
        PushRow(1, datetime(2026, 1, 1), text, message["change_set"], message["routing_key"]), 10**7
    )


def test_generated_stream_is_valid_varied_and_repeatable() -> None:
    stream = list(BugzillaSimulator(seed=5, private_ratio=0.2).messages(2000))
    assert stream == list(BugzillaSimulator(seed=5, private_ratio=0.2).messages(2000))
    kinds = Counter(m["routing_key"].split(":")[0] for m in stream)
    assert {"bug.create", "bug.modify", "comment.create", "attachment.create"} <= set(kinds)
    parsed = [_parse(m) for m in stream]
    assert any(p.bug and p.bug.get("is_private") for p in parsed)
    assert any(p.routing_key == "bug.modify:is_private" for p in parsed)
    assert all(len(m["change_set"]) <= 32 and len(m["routing_key"]) <= 64 for m in stream)


def test_first_run_set_has_every_kind_a_private_bug_and_one_bad_row() -> None:
    samples = first_run_samples()
    keys = [m["routing_key"] for m in samples]
    assert "bug.create" in keys
    assert "comment.create" in keys
    assert "bug.modify:is_private" in keys
    assert any(k.startswith("bug.modify:") and k != "bug.modify:is_private" for k in keys)
    bad = 0
    for message in samples:
        try:
            _parse(message)
        except InvalidMessage:
            bad += 1
    assert bad == 1
    private = [
        m for m in samples if isinstance(m["payload"], dict) and m["payload"].get("bug", {}).get("is_private")
    ]
    assert private
