"""Both payload shapes through every connector, on real destinations: equal results.

One stream of changes is written twice into Bugzilla-shaped MariaDB databases, as Bugzilla writes
rows (`tests/integration/bmo.py`): once in the shape BMO used before 2021, once in today's
(`bugzilla_push.samples.shapes`). The same push ids go to Pulse (RabbitMQ), Elasticsearch (test
double; with and without private indices), two webhooks (receiver double) and a file. What each
connector decides and what the derived outputs hold must be the same for both; Pulse and the file
forward each payload as it was written, with its whole routing key.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors import ConnectionInfo, build_connector
from bugzilla_push.connectors.pulse.routing import amqp_routing_key
from bugzilla_push.engine import Engine
from bugzilla_push.model import Result
from bugzilla_push.payload_shape import current_routing_key
from bugzilla_push.samples import SHAPES, BugzillaSimulator, render
from bugzilla_push.store import open_store
from tests.conftest import create_mysql_database, drop_mysql_database
from tests.doubles.elasticsearch_server import EsTestServer
from tests.elasticsearch_support import Target, snapshot
from tests.integration.bmo import connect, create_bugzilla_tables, insert_as_bugzilla
from tests.integration.connectors.pulse.support import BoundQueue, pulse_info, unique
from tests.support import read_jsonl, run_cycle

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.doubles.webhook_receiver import WebhookReceiver
    from tests.fakes import FakeClock

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("rabbitmq")]

MESSAGES = 800


@pytest.fixture
def bugzillas() -> Iterator[dict[str, str]]:
    """A Bugzilla-shaped MariaDB database for each payload shape, with this project's tables too."""
    urls = {shape: create_mysql_database() for shape in SHAPES}
    try:
        for url in urls.values():
            create_bugzilla_tables(url)
            with open_store(url) as store:
                store.create_schema()
        yield urls
    finally:
        for url in urls.values():
            drop_mysql_database(url)


def connections(
    shape: str, exchange: str, es: dict[str, Target], receiver: WebhookReceiver, out: Path
) -> list:
    return [
        pulse_info("pulse", exchange),
        es["public"].connection("elasticsearch"),
        es["private"].connection("es_private", index_private=True),
        ConnectionInfo("webhook", "http", receiver.url(f"/{shape}/all")),
        ConnectionInfo(
            "webhook_firefox",
            "http",
            receiver.url(f"/{shape}/firefox"),
            extra={"product": "Firefox", "include_private_comments": True, "include_private_bugs": False},
        ),
        ConnectionInfo("file", "fs", extra={"path": str(out / f"{shape}.jsonl")}),
    ]


def test_both_shapes_through_every_connector_give_equal_results(
    bugzillas: dict[str, str], receiver: WebhookReceiver, clock: FakeClock, tmp_path: Path
) -> None:
    changes = list(BugzillaSimulator(seed=29, private_ratio=0.2).changes(MESSAGES))
    queues = {
        shape: BoundQueue(unique("exchange/guest/shapes"), unique("bp-shapes")).declare() for shape in SHAPES
    }
    double = EsTestServer().start()
    stored, logs, received, indices = {}, {}, {}, {}
    try:
        for shape in SHAPES:
            rows = [render(c, shape) for c in changes]
            with connect(bugzillas[shape]) as bugzilla:
                ids = [push_id for push_id, _ in insert_as_bugzilla(bugzilla, rows)]
            assert ids == list(range(1, MESSAGES + 1))
            stored[shape] = {i: r for i, r in zip(ids, rows, strict=True)}
            targets = {"public": Target(double.url), "private": Target(double.url)}
            with open_store(bugzillas[shape]) as store:
                engine = Engine(store, DeliveryConfig(backoff_jitter=0.0), clock=clock, rng=random.Random(1))
                connectors = [
                    build_connector(c)
                    for c in connections(shape, queues[shape].exchange, targets, receiver, tmp_path)
                ]
                try:
                    run_cycle(engine, connectors)
                finally:
                    for connector in connectors:
                        connector.close()
                logs[shape] = store.query(
                    "SELECT connector, message_id, result FROM push_log ORDER BY connector, message_id"
                )
                assert store.query("SELECT COUNT(*) FROM push_dead_letter")[0][0] == 0
                assert store.query("SELECT COUNT(*) FROM push")[0][0] == 0
            received[shape] = queues[shape].drain()
            with targets["public"].client() as es:
                indices[shape] = [
                    snapshot(es, targets["public"]),
                    snapshot(es, targets["private"]),
                    snapshot(es, targets["private"], private=True),
                ]
    finally:
        double.stop()
        for queue in queues.values():
            queue.delete()

    whole = {i: r["payload"]["event"]["routing_key"] for i, r in stored["current"].items()}
    assert sum(len(k) > 64 for k in whole.values()) > 20
    assert {r for _, _, r in logs["current"]} == {Result.OK, Result.IGNORED}

    # The same decisions everywhere: sent or ignored, message by message, connector by connector.
    assert logs["legacy"] == logs["current"]
    assert len(logs["current"]) == 6 * MESSAGES

    # Pulse: the same messages, each payload as written, under its whole key (in its own names).
    assert [m.message_id for m in received["legacy"]] == [m.message_id for m in received["current"]]
    assert len(received["current"]) > MESSAGES / 2
    for shape in SHAPES:
        for m in received[shape]:
            row = stored[shape][m.message_id]
            assert m.body == row["payload"]
            assert m.routing_key == amqp_routing_key(row["payload"]["event"]["routing_key"])
    for a, b in zip(received["legacy"], received["current"], strict=True):
        assert current_routing_key(a.routing_key) == b.routing_key

    # Elasticsearch: the same documents, versions and indices, with and without private indices.
    assert indices["legacy"] == indices["current"]
    public, _, private_index = indices["current"]
    assert {kind for kind, _ in public} == {"bugs", "comments", "attachments"}
    assert private_index
    assert any(
        source["routing_key"] == whole[source["push_id"]] and len(source["routing_key"]) > 64
        for _, source in public.values()
    )

    # Webhooks: equal bodies, in today's shape, in the same order.
    for path in ("all", "firefox"):
        a, b = receiver.accepted(f"/legacy/{path}"), receiver.accepted(f"/current/{path}")
        assert [r.push_id for r in a] == [r.push_id for r in b]
        assert [r.json for r in a] == [r.json for r in b]
        assert b
        assert all(r.json["event"]["routing_key"] == whole[r.push_id] for r in b)
    assert {isinstance(r.json["bug"].get("assigned_to", ""), str) for r in receiver.accepted()} == {True}

    # The file: each payload as written, with its whole key.
    for shape in SHAPES:
        records = read_jsonl(tmp_path / f"{shape}.jsonl")
        assert [r["push_id"] for r in records] == list(stored[shape])
        for record in records:
            row = stored[shape][record["push_id"]]
            assert (record["routing_key"], record["payload"]) == (
                row["payload"]["event"]["routing_key"],
                row["payload"],
            )
            assert record["change_set"] == row["change_set"]
