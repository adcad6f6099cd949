"""Which messages a webhook gets: BMO's event kinds (exact), product/component, moves, privacy."""

from __future__ import annotations

import pytest

from bugzilla_push.connectors.webhook.connector import WebhookConnector
from bugzilla_push.connectors.webhook.options import WebhookOptions
from bugzilla_push.connectors.webhook.payload import EVENT_KINDS, WebhookFilter, event_kind, flag
from tests.unit.connectors.webhook.messages import attachment, bug, comment, message, payload

ONE_OF_EACH = {
    "create": payload("bug", bug(), "create"),
    "change": payload("bug", bug(), "modify", [{"field": "status", "removed": "NEW", "added": "ASSIGNED"}]),
    "comment": payload("comment", comment(bug())),
    "attachment": payload("attachment", attachment(bug())),
    "attachment_change": payload(
        "attachment", attachment(bug()), "modify", [{"field": "is_obsolete", "removed": "0", "added": "1"}]
    ),
}


@pytest.mark.parametrize(
    ("routing_key", "kind"),
    [
        ("bug.create", "create"),
        ("bug.modify", "change"),
        ("bug.modify:resolution,status", "change"),
        ("bug.modify:is_private", "change"),
        ("comment.create", "comment"),
        ("attachment.create", "attachment"),
        ("attachment.modify:flag.review", "attachment_change"),
        ("comment.update", None),
        ("comment.modify:is_private", None),
        ("bug.created", None),
        ("flag.create", None),
    ],
)
def test_routing_keys_map_to_bmo_event_kinds_exactly(routing_key: str, kind: str | None) -> None:
    assert event_kind(routing_key) == kind


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_each_event_kind_selects_only_its_own_messages(kind: str) -> None:
    webhook = WebhookFilter(events=frozenset({kind}))
    accepted = {k for k, body in ONE_OF_EACH.items() if webhook.accepts(body["event"]["routing_key"], body)}
    assert accepted == {kind}


def test_attachment_does_not_also_select_attachment_changes_as_bmo_did() -> None:
    webhook = WebhookFilter(events=frozenset({"attachment"}))
    change = ONE_OF_EACH["attachment_change"]
    assert not webhook.accepts(change["event"]["routing_key"], change)
    assert not webhook.wants_kind("attachment.modify:is_obsolete")


@pytest.mark.parametrize("shape", ["name", "object"])
def test_product_and_component_match_plain_names_and_id_name_objects(shape: str) -> None:
    def named(name: str, ident: int) -> object:
        return name if shape == "name" else {"id": ident, "name": name}

    firefox_general = payload("bug", bug(product=named("Firefox", 2), component=named("General", 7)))
    core_network = payload("bug", bug(product=named("Core", 1), component=named("Networking", 8)))
    key = "bug.create"
    assert WebhookFilter(product="Firefox").accepts(key, firefox_general)
    assert not WebhookFilter(product="Firefox").accepts(key, core_network)
    assert WebhookFilter(product="Firefox", component="General").accepts(key, firefox_general)
    assert not WebhookFilter(product="Firefox", component="Address Bar").accepts(key, firefox_general)
    assert WebhookFilter(component="Networking").accepts(key, core_network)  # product Any
    assert WebhookFilter().accepts(key, core_network)


def test_comments_and_attachments_are_filtered_by_their_bug() -> None:
    on_core = payload("comment", comment(bug(product="Core", component="Networking")))
    on_firefox = payload("attachment", attachment(bug(product="Firefox")))
    webhook = WebhookFilter(product="Firefox")
    assert not webhook.accepts("comment.create", on_core)
    assert webhook.accepts("attachment.create", on_firefox)


def test_a_message_without_bug_data_is_skipped() -> None:
    orphan = payload("comment", {**comment(bug()), "bug": None})
    assert not WebhookFilter().accepts("comment.create", orphan)


def moved(product_change: tuple[str, str] | None, component_change: tuple[str, str] | None) -> dict:
    changes = []
    if component_change:
        changes.append({"field": "component", "removed": component_change[0], "added": component_change[1]})
    if product_change:
        changes.append({"field": "product", "removed": product_change[0], "added": product_change[1]})
    new_product = product_change[1] if product_change else "Firefox"
    new_component = component_change[1] if component_change else "General"
    return payload("bug", bug(product=new_product, component=new_component), "modify", changes)


def test_a_bug_moved_out_of_the_product_is_still_sent_as_a_change() -> None:
    body = moved(("Firefox", "Core"), ("General", "Networking"))
    key = body["event"]["routing_key"]
    assert key == "bug.modify:component,product"
    assert WebhookFilter(product="Firefox").accepts(key, body)
    assert WebhookFilter(product="Firefox", component="General").accepts(key, body)
    assert not WebhookFilter(product="Firefox", component="Address Bar").accepts(key, body)
    assert WebhookFilter(product="Core", component="Networking").accepts(key, body)  # moved in
    assert not WebhookFilter(product="Toolkit").accepts(key, body)


def test_a_bug_moved_out_of_the_component_within_its_product_is_sent() -> None:
    body = moved(None, ("Address Bar", "General"))
    key = body["event"]["routing_key"]
    assert WebhookFilter(product="Firefox", component="Address Bar").accepts(key, body)
    assert WebhookFilter(component="Address Bar").accepts(key, body)
    assert not WebhookFilter(product="Core", component="Address Bar").accepts(key, body)


def test_moves_count_only_for_webhooks_that_want_changes() -> None:
    body = moved(("Firefox", "Core"), None)
    key = body["event"]["routing_key"]
    assert not WebhookFilter(product="Firefox", events=frozenset({"create", "comment"})).accepts(key, body)


def test_changes_to_other_fields_do_not_count_as_moves() -> None:
    body = payload(
        "bug", bug(product="Core"), "modify", [{"field": "summary", "removed": "Firefox", "added": "x"}]
    )
    assert not WebhookFilter(product="Firefox").accepts(body["event"]["routing_key"], body)


def test_private_comments_and_attachments_are_skipped_unless_allowed() -> None:
    private_comment = payload("comment", comment(bug(), is_private=True))
    private_attachment = payload("attachment", attachment(bug(), is_private=1))
    default, insider = WebhookFilter(), WebhookFilter(include_private_comments=True)
    assert not default.accepts("comment.create", private_comment)
    assert not default.accepts("attachment.create", private_attachment)
    assert insider.accepts("comment.create", private_comment)
    assert insider.accepts("attachment.create", private_attachment)


def test_private_bugs_are_sent_by_default_and_can_be_left_out_except_the_transition() -> None:
    secret = payload(
        "bug", bug(is_private=True), "modify", [{"field": "status", "removed": "A", "added": "B"}]
    )
    comment_on_secret = payload("comment", comment(bug(is_private=True)))
    transition_public_side = payload(
        "bug", bug(is_private=False), "modify", [{"field": "is_private", "removed": "0", "added": "1"}]
    )
    transition_private_side = payload(
        "bug", bug(is_private=True), "modify", [{"field": "is_private", "removed": "0", "added": "1"}]
    )
    assert WebhookFilter().accepts("bug.modify:status", secret)
    assert WebhookFilter().accepts("comment.create", comment_on_secret)
    public_only = WebhookFilter(include_private_bugs=False)
    assert not public_only.accepts("bug.modify:status", secret)
    assert not public_only.accepts("comment.create", comment_on_secret)
    assert public_only.accepts("bug.modify:is_private", transition_public_side)
    assert public_only.accepts("bug.modify:is_private", transition_private_side)


@pytest.mark.parametrize(
    ("value", "private"),
    [
        (True, True),
        (1, True),
        ("1", True),
        (False, False),
        (0, False),
        ("0", False),
        ("", False),
        (None, False),
    ],
)
def test_is_private_is_read_as_bugzilla_writes_it(value: object, private: bool) -> None:
    assert flag(value) is private


def test_the_connector_filters_through_the_options_of_its_connection() -> None:
    options = WebhookOptions(product="Firefox", events=("comment",))
    connector = WebhookConnector("webhook_ff", "http://127.0.0.1:9/hook", options)
    assert connector.should_send(message(ONE_OF_EACH["comment"]))
    assert not connector.should_send(message(ONE_OF_EACH["create"]))
    assert not connector.should_send(message(payload("comment", comment(bug(product="Core")))))


def test_kinds_a_webhook_does_not_want_are_skipped_without_decoding_the_payload() -> None:
    connector = WebhookConnector("webhook_c", "http://127.0.0.1:9/hook", WebhookOptions(events=("comment",)))
    msg = message(ONE_OF_EACH["create"])
    assert not connector.should_send(msg)
    assert msg._body is None  # the routing key was enough
