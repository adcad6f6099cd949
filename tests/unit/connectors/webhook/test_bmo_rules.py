"""BMO's matching for its own webhooks (`extensions/Push/lib/Connector/Webhook.pm`, `should_send`).

Unlike the connection-defined webhooks (test_filters.py), these keep BMO's regex matching of the
event setting and its removed-from-product rule exactly.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from bugzilla_push.connectors.webhook.bmo_rules import message_facts, wants, wants_facts
from bugzilla_push.model import PushRow, parse_message
from bugzilla_push.samples import BugzillaSimulator
from tests.unit.connectors.webhook.messages import attachment, bug, comment, payload

BUG = bug()
KEYS = {
    "bug.create": payload("bug", BUG),
    "bug.modify:status": payload(
        "bug", BUG, "modify", [{"field": "status", "removed": "NEW", "added": "ASSIGNED"}]
    ),
    "comment.create": payload("comment", comment(BUG)),
    "attachment.create": payload("attachment", attachment(BUG)),
    "attachment.modify:is_obsolete": payload(
        "attachment", attachment(BUG), "modify", [{"field": "is_obsolete", "removed": "0", "added": "1"}]
    ),
    "comment.update": payload("comment", comment(BUG), "update"),
}


def sent(event: str, product: str = "Any", component: str = "Any") -> list[str]:
    return [
        k for k, body in KEYS.items() if wants(event, product, component, body["event"]["routing_key"], body)
    ]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("create", ["bug.create"]),
        ("change", ["bug.modify:status"]),
        ("comment", ["comment.create"]),
        ("attachment", ["attachment.create"]),
        # BMO's regexes: `attachment_change` contains `change` and `attachment` too.
        ("attachment_change", ["bug.modify:status", "attachment.create", "attachment.modify:is_obsolete"]),
        (
            "create,change,comment,attachment,attachment_change",
            [
                "bug.create",
                "bug.modify:status",
                "comment.create",
                "attachment.create",
                "attachment.modify:is_obsolete",
            ],
        ),
    ],
)
def test_event_settings_match_as_bmos_regexes_do(event: str, expected: list[str]) -> None:
    assert sent(event) == expected


def test_product_and_component_by_name_any_matching_all() -> None:
    assert sent("create", "Firefox", "General") == ["bug.create"]
    assert sent("create", "Firefox") == ["bug.create"]
    assert sent("create", "Any", "General") == ["bug.create"]
    assert sent("create", "Core") == []
    assert sent("create", "Firefox", "Toolbars") == []


def moved(changes: list[dict[str, str]], product: str = "Core", component: str = "Networking") -> dict:
    body = payload("bug", bug(product=product, component=component), "modify", changes)
    body["event"]["routing_key"] = "bug.modify:" + ",".join(c["field"] for c in changes)
    return body


@pytest.mark.parametrize(
    ("changes", "webhook", "expected"),
    [
        # Moved out of Firefox/General into Core/Networking: the Firefox webhooks hear of it.
        (
            [{"field": "product", "removed": "Firefox"}, {"field": "component", "removed": "General"}],
            ("Firefox", "General"),
            True,
        ),
        (
            [{"field": "product", "removed": "Firefox"}, {"field": "component", "removed": "General"}],
            ("Firefox", "Any"),
            True,
        ),
        # A product change alone names no removed component: only a component of Any matches (BMO).
        ([{"field": "product", "removed": "Firefox"}], ("Firefox", "General"), False),
        ([{"field": "product", "removed": "Firefox"}], ("Firefox", "Any"), True),
        # A component change: the removed product is the bug's own.
        ([{"field": "component", "removed": "DNS"}], ("Core", "DNS"), True),
        ([{"field": "component", "removed": "DNS"}], ("Core", "Cache"), False),
        ([{"field": "status", "removed": "NEW"}], ("Firefox", "Any"), False),
    ],
)
def test_a_bug_moved_out_of_the_webhooks_product_is_sent_to_change_webhooks(
    changes: list[dict[str, str]], webhook: tuple[str, str], expected: bool
) -> None:
    body = moved(changes)
    key = body["event"]["routing_key"]
    assert wants("change", *webhook, key, body) is expected
    assert wants("create,comment", *webhook, key, body) is False


def test_the_facts_of_a_message_are_found_once_and_judge_as_its_body_does() -> None:
    settings = [
        ("create,change,comment,attachment", "Any", "Any"),
        ("change", "Core", "Any"),
        ("comment,attachment_change", "Firefox", "General"),
        ("create", "bugzilla.mozilla.org", "Extensions: Push"),
    ]
    for raw in BugzillaSimulator(seed=8, private_ratio=0.1).messages(400):
        m = parse_message(
            PushRow(1, datetime(2026, 1, 1), json.dumps(raw["payload"]), "cs", raw["routing_key"]), 1 << 24
        )
        assert message_facts(m) is message_facts(m)
        for event, product, component in settings:
            assert wants_facts(event, product, component, message_facts(m)) == wants(
                event, product, component, m.routing_key, m.body
            )
