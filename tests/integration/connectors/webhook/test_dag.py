"""Two webhooks through the whole DAG: `airflow dags test bugzilla_push`, connections from the environment."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from bugzilla_push.store import open_store
from tests.doubles.webhook_receiver import Reply, Request, WebhookReceiver
from tests.support import airflow, enqueue_samples, pending_ids

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def name(value: Any) -> str:
    return value["name"] if isinstance(value, dict) else value


def test_airflow_dags_test_delivers_to_two_webhooks_with_their_own_filters(
    airflow_db: None, source: str, receiver: WebhookReceiver
) -> None:
    key = "dag-" + secrets.token_hex(12)
    with open_store(source) as store:
        enqueue_samples(store, 150, seed=23, private_ratio=0.2)
        messages = [
            (i, routing_key, json.loads(body))
            for i, routing_key, body in store.query("SELECT id, routing_key, payload FROM push ORDER BY id")
        ]
    firefox_bug_changes = [
        i
        for i, routing_key, body in messages
        if (routing_key == "bug.create" or routing_key.startswith("bug.modify"))
        and name(body["bug"]["product"]) == "Firefox"
    ]
    comments = [i for i, routing_key, _ in messages if routing_key == "comment.create"]
    assert len(firefox_bug_changes) > 3
    assert comments
    rejected = firefox_bug_changes[2]

    def answer(request: Request) -> Reply:
        if request.push_id == rejected:  # a receiver that echoes the key it got in its error
            return Reply(400, f'{{"error": "bad request with X-Api-Key {request.headers.get("x-api-key")}"}}')
        return Reply(200)

    receiver.script = answer

    result = airflow(
        "dags",
        "test",
        "bugzilla_push",
        env={
            "AIRFLOW_CONN_BUGZILLA_DB": source,
            "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "webhook_a,webhook_b",
            # URI form: the path lands in Airflow's schema field; the API key is the password.
            "AIRFLOW_CONN_WEBHOOK_A": (
                f"http://:{key}@127.0.0.1:{receiver.port}/a"
                "?api_key_header=X-Api-Key&product=Firefox&events=create,change&timeout=10"
            ),
            # JSON form: the whole URL as host, options as a JSON extra.
            "AIRFLOW_CONN_WEBHOOK_B": json.dumps(
                {
                    "conn_type": "http",
                    "host": receiver.url("/b"),
                    "extra": {"events": ["comment"], "include_private_comments": True, "webhook_id": 7},
                }
            ),
            "AIRFLOW_VAR_BUGZILLA_PUSH_CONFIG": json.dumps({"chunk_size": 40}),
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]

    a, b = receiver.accepted("/a"), receiver.accepted("/b")
    assert [r.push_id for r in a] == [i for i in firefox_bug_changes if i != rejected]
    assert [r.push_id for r in b] == comments
    assert {r.headers.get("x-api-key") for r in a} == {key}
    assert {r.headers.get("x-api-key") for r in b} == {None}
    assert {r.json["webhook_name"] for r in a} == {"a"}
    assert {r.json["webhook_id"] for r in b} == {7}
    with open_store(source) as store:
        assert pending_ids(store) == []
        dead = store.query("SELECT message_id, reason FROM push_dead_letter WHERE connector = 'webhook_a'")
        for connector in ("webhook_a", "webhook_b"):
            logged = store.query(
                "SELECT COUNT(DISTINCT message_id) FROM push_log WHERE connector = %(c)s", {"c": connector}
            )
            assert logged == [(len(messages),)]  # each message delivered or logged IGNORED
    assert [i for i, _ in dead] == [rejected]
    assert "HTTP 400 Bad Request" in dead[0][1]
    assert key not in dead[0][1]
    assert "webhook_a: done; sent" in output
    assert "webhook_b: done; sent" in output
    assert key not in output  # the task logs: `airflow dags test` writes them to its output
