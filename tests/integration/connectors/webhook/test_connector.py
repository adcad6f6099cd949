"""The webhook connector against a real HTTP server on 127.0.0.1, through the real engine and store:
order, filters, privacy and the API key.

Every test runs on SQLite and PostgreSQL (`db_url`). The receiver (`tests/doubles/webhook_receiver.py`)
is a test double that records requests and answers as scripted; what each webhook should get is
worked out here from the queued payloads, independently of the connector's own filter code.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.model import Result
from tests.doubles.webhook_receiver import Reply, Request, WebhookReceiver
from tests.integration.connectors.webhook.support import (
    KEY,
    bug_of,
    engine_for,
    ids,
    name,
    own_private,
    queued,
    run,
    webhook,
)
from tests.support import backlog_ids, enqueue_samples, log_rows, pending_ids

if TYPE_CHECKING:
    from bugzilla_push.store import Store
    from tests.fakes import FakeClock

pytestmark = pytest.mark.integration


def test_every_wanted_message_arrives_once_in_push_id_order_with_the_api_key(
    store: Store, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    enqueue_samples(store, 300, seed=11, private_ratio=0.1)
    messages = queued(store)
    wanted = [i for i, _, body in messages if not own_private(body)]  # the simulator writes every kind

    reports = run(engine_for(store, clock), webhook(receiver.url()))

    assert ids(receiver.accepted()) == wanted
    assert ids(receiver.requests()) == wanted  # one POST each, nothing sent twice
    assert reports["webhook_a"].sent == len(wanted)
    assert all(r.headers["x-api-key"] == KEY for r in receiver.requests())
    assert all(r.headers["content-type"] == "application/json" for r in receiver.requests())
    results = dict(log_rows(store, "webhook_a"))
    assert {i: results[i] for i in wanted} == dict.fromkeys(wanted, Result.OK)
    assert {results[i] for i, _, _ in messages if i not in wanted} == {Result.IGNORED}
    assert pending_ids(store) == []
    assert backlog_ids(store, "webhook_a") == []
    first = receiver.accepted()[0].json
    assert first["webhook_name"] == "a"
    assert first["webhook_id"] is None
    assert "change_set" not in first["event"]


def test_filters_by_product_component_and_event_kind_per_webhook(
    store: Store, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    enqueue_samples(store, 400, seed=12)
    messages = queued(store)
    firefox_comments = [
        i
        for i, key, body in messages
        if key == "comment.create" and name(bug_of(body)["product"]) == "Firefox" and not own_private(body)
    ]
    core_networking_bugs = [
        i
        for i, key, body in messages
        if (key == "bug.create" or key.startswith("bug.modify"))
        and name(bug_of(body)["product"]) == "Core"
        and name(bug_of(body)["component"]) == "Networking"
    ]
    assert firefox_comments
    assert core_networking_bugs

    run(
        engine_for(store, clock),
        webhook(receiver.url("/ff"), "webhook_ff", product="Firefox", events="comment"),
        webhook(
            receiver.url("/net"),
            "webhook_net",
            product="Core",
            component="Networking",
            events=["create", "change"],
        ),
    )

    assert ids(receiver.accepted("/ff")) == firefox_comments
    assert ids(receiver.accepted("/net")) == core_networking_bugs
    for connector, wanted in (("webhook_ff", firefox_comments), ("webhook_net", core_networking_bugs)):
        logged = log_rows(store, connector)
        assert [i for i, result in logged if result == Result.OK] == wanted
        assert len(logged) == len(messages)  # everything else logged IGNORED
    assert {r.json["bug"]["comment"]["id"] > 0 for r in receiver.accepted("/ff")} == {True}


def test_private_bugs_arrive_reduced_to_ids_and_private_comments_only_when_allowed(
    store: Store, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    enqueue_samples(store, 400, seed=13, private_ratio=0.4)
    messages = {i: (key, body) for i, key, body in queued(store)}

    run(
        engine_for(store, clock),
        webhook(receiver.url("/default")),
        webhook(receiver.url("/insider"), "webhook_insider", include_private_comments=True),
    )

    default = {r.push_id: r.json for r in receiver.accepted("/default")}
    insider = {r.push_id: r.json for r in receiver.accepted("/insider")}
    private_bug = [i for i, (_, body) in messages.items() if bug_of(body)["is_private"]]
    private_comments = [i for i, (_, body) in messages.items() if own_private(body)]
    transitions = [i for i, (key, _) in messages.items() if key == "bug.modify:is_private"]
    assert private_bug
    assert private_comments
    assert transitions
    for i in private_bug:
        key, body = messages[i]
        if i in private_comments:
            continue
        target = body["event"]["target"]
        expected = {"id": bug_of(body)["id"], "is_private": True}
        if target != "bug":
            expected[target] = {"id": body[target]["id"], "is_private": True}
        assert default[i]["bug"] == expected
        assert "changes" not in default[i]["event"]
    for i in transitions:  # built from the public side by Bugzilla: sent whole
        assert default[i]["bug"]["summary"] == messages[i][1]["bug"]["summary"]
        assert default[i]["event"]["changes"][0]["field"] == "is_private"
    assert not set(private_comments) & set(default)
    assert set(private_comments) <= set(insider)
    for i in private_comments:
        target = messages[i][1]["event"]["target"]
        assert set(insider[i]["bug"]) == {"id", "is_private", target}
        assert "body" not in insider[i]["bug"][target]
    for i in private_bug:
        if i in default:
            assert default[i]["event"]["user"] == messages[i][1]["event"]["user"]  # BMO keeps the actor


def test_the_api_key_is_sent_but_never_stored_logged_or_shown(
    store: Store, receiver: WebhookReceiver, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ids_ = enqueue_samples(store, 30, seed=14)

    def echoing(request: Request) -> Reply:
        # A receiver that echoes the request's headers in its errors: the key must not come back.
        if request.push_id == ids_[3]:
            return Reply(400, json.dumps({"error": "bad", "headers": request.headers}))
        if request.push_id == ids_[9]:
            return Reply(503, f"upstream down; you sent X-Api-Key: {request.headers['x-api-key']}")
        return Reply(200)

    receiver.script = echoing
    run(engine_for(store, clock), webhook(receiver.url()))
    assert all(r.headers["x-api-key"] == KEY for r in receiver.requests())

    stored = store.query("SELECT data FROM push_log WHERE data IS NOT NULL")
    stored += store.query("SELECT reason FROM push_dead_letter")
    stored += store.query("SELECT last_error FROM push_backlog WHERE last_error IS NOT NULL")
    texts = " ".join(str(v) for row in stored for v in row)
    assert "HTTP 400" in texts
    assert "HTTP 503" in texts
    assert "***" in texts  # the echoed key was there, and was redacted
    assert KEY not in texts
    assert KEY not in repr(store.status(["webhook_a"]))
    assert KEY not in caplog.text
