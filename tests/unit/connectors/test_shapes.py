"""Both payload shapes through every connector's own logic: equal results for equivalent messages.

Each change of a simulated stream is written in the legacy shape and in today's (see
`bugzilla_push.samples.shapes`) under the same push id. Every connector must decide the same for
both — what to send, where private content goes — and derive the same output from them:
Elasticsearch documents and actions, webhook bodies. Pulse and the file connector forward the
payload as Bugzilla wrote it, so their output is that payload, with the whole routing key.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.connectors import ConnectionInfo, build_connector
from bugzilla_push.connectors.elasticsearch.documents import bug_document, plan_message
from bugzilla_push.connectors.elasticsearch.mappings import IndexNames
from bugzilla_push.connectors.pulse.connector import _publication
from bugzilla_push.connectors.webhook.payload import WebhookFilter, webhook_payload
from bugzilla_push.model import PushRow, parse_message
from bugzilla_push.samples import BugzillaSimulator, render

if TYPE_CHECKING:
    from pathlib import Path

    from bugzilla_push.model import PushMessage

NAMES = IndexNames("b", "c", "a", "-private")
FILTERS = [
    WebhookFilter(),
    WebhookFilter(product="Firefox"),
    WebhookFilter(product="Core", component="Networking", events=frozenset({"change", "comment"})),
    WebhookFilter(component="General", include_private_bugs=False),
    WebhookFilter(events=frozenset({"attachment", "comment"}), include_private_comments=True),
]
CONNECTIONS = [
    ConnectionInfo("pulse", "amqp", "127.0.0.1", 5672, "guest", "guest", "/"),
    ConnectionInfo("elasticsearch", "elasticsearch", "127.0.0.1", 9200),
    ConnectionInfo("es_private", "elasticsearch", "127.0.0.1", 9200, extra={"index_private": True}),
    ConnectionInfo("webhook", "http", "http://127.0.0.1:9/hook", extra={"product": "Firefox"}),
    ConnectionInfo(
        "webhook_private", "http", "http://127.0.0.1:9/hook", extra={"include_private_comments": True}
    ),
    ConnectionInfo("file", "fs", extra={"path": "/nonexistent/never-written.jsonl"}),
]


def as_message(push_id: int, row: dict) -> PushMessage:
    stored = PushRow(
        push_id, datetime(2026, 11, 2, 9), json.dumps(row["payload"]), row["change_set"], row["routing_key"]
    )
    return parse_message(stored, 10**7)


@pytest.fixture(scope="module")
def pairs() -> list[tuple[PushMessage, PushMessage]]:
    """(legacy, current) messages of one stream of changes, push ids from 1."""
    changes = BugzillaSimulator(seed=17, private_ratio=0.3).changes(1200)
    return [
        (as_message(n, render(c, "legacy")), as_message(n, render(c, "current")))
        for n, c in enumerate(changes, start=1)
    ]


def test_the_stream_has_what_differs_between_the_shapes(pairs: list[tuple[PushMessage, PushMessage]]) -> None:
    keys = {current.routing_key for _, current in pairs}
    assert any(len(k) > 64 for k in keys)  # whole keys, the column cut them
    assert "bug.modify:groups" in keys
    assert "bug.modify:bug_group" in {legacy.routing_key for legacy, _ in pairs}
    bugs = [current.bug for _, current in pairs if current.bug]
    assert any(b["qa_contact"] == "" for b in bugs)
    assert any(b["qa_contact"] != "" for b in bugs)
    assert any(current.is_private for _, current in pairs)


@pytest.mark.parametrize("connection", CONNECTIONS, ids=lambda c: c.conn_id)
def test_every_connector_decides_the_same_for_both_shapes(
    connection: ConnectionInfo, pairs: list[tuple[PushMessage, PushMessage]]
) -> None:
    connector = build_connector(connection)
    decisions = [(connector.should_send(legacy), connector.should_send(current)) for legacy, current in pairs]
    assert all(a == b for a, b in decisions)
    if connection.conn_id in ("pulse", "elasticsearch", "webhook"):
        assert {a for a, _ in decisions} == {True, False}  # the stream has what each of these skips


@pytest.mark.parametrize("index_private", [False, True])
def test_elasticsearch_writes_equal_documents_to_the_same_indices(
    index_private: bool, pairs: list[tuple[PushMessage, PushMessage]]
) -> None:
    for legacy, current in pairs:
        a, b = plan_message(legacy, NAMES, index_private), plan_message(current, NAMES, index_private)
        assert a.actions == b.actions, f"push {current.id} ({current.routing_key})"
        assert (a.public, a.transition, a.bug_id) == (b.public, b.transition, b.bug_id)
        assert b.source is not None
        assert b.source["routing_key"] == current.routing_key  # whole, also past 64 characters


def test_todays_empty_values_are_absent_in_the_bug_document(
    pairs: list[tuple[PushMessage, PushMessage]],
) -> None:
    docs = [bug_document(current, False) for _, current in pairs if current.target == "bug"]
    unset_qa = [d for d in docs if d["qa_contact"] is None]
    assert 0 < len(unset_qa) < len(docs)
    assert "" not in {d[f] for d in docs for f in ("qa_contact", "priority", "resolution", "whiteboard")}
    assert {d["target_milestone"] for d in docs} == {None}  # "---": nothing selected
    assert all(d["assigned_to"].endswith(".org") and d["creator"].endswith(".org") for d in docs)
    assert all("" not in d["custom_fields"].values() for d in docs)
    assert any(d["custom_fields"] for d in docs)


def test_webhooks_get_equal_bodies_in_todays_shape_and_the_same_filter_decisions(
    pairs: list[tuple[PushMessage, PushMessage]],
) -> None:
    for legacy, current in pairs:
        body = webhook_payload(current.body, "triage", 7)
        assert webhook_payload(legacy.body, "triage", 7) == body
        if "summary" in body["bug"]:  # public: the bug as BMO's webhooks send it today
            assert isinstance(body["bug"]["assigned_to"], str)
            assert "reporter" not in body["bug"]
            assert body["event"]["routing_key"] == current.routing_key
        for webhook in FILTERS:
            accepted = webhook.accepts(current.routing_key, current.body)
            assert webhook.accepts(legacy.routing_key, legacy.body) == accepted


def test_pulse_publishes_each_payload_verbatim_with_its_whole_key(
    pairs: list[tuple[PushMessage, PushMessage]],
) -> None:
    for pair in pairs:
        for message in pair:
            publication = _publication(message)
            assert publication.body == message.row.payload.encode()
            assert publication.routing_key == message.routing_key  # all under AMQP's 255 bytes here


def test_the_file_connector_records_each_payload_as_written_with_its_whole_key(
    tmp_path: Path, pairs: list[tuple[PushMessage, PushMessage]]
) -> None:
    records = {}
    for n, shape in enumerate(("legacy", "current")):
        connector = build_connector(
            ConnectionInfo("file", "fs", extra={"path": str(tmp_path / f"{shape}.jsonl")})
        )
        connector.send([pair[n] for pair in pairs])
        records[shape] = [json.loads(line) for line in (tmp_path / f"{shape}.jsonl").read_text().splitlines()]
    for (legacy, current), a, b in zip(pairs, records["legacy"], records["current"], strict=True):
        assert (a["push_id"], a["change_set"], a["push_ts"]) == (b["push_id"], b["change_set"], b["push_ts"])
        assert (a["routing_key"], b["routing_key"]) == (legacy.routing_key, current.routing_key)
        assert (a["payload"], b["payload"]) == (legacy.body, current.body)
