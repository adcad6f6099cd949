"""The Elasticsearch connector in the `bugzilla_push` DAG: `airflow dags test` against the test
double (started here), with a real Airflow metadata database and a real source database."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.connectors.base import ConnectionInfo
from bugzilla_push.connectors.elasticsearch.connector import ElasticsearchConnector
from bugzilla_push.connectors.elasticsearch.documents import privacy_transition
from bugzilla_push.model import Result
from bugzilla_push.store import open_store
from tests.doubles.elasticsearch_server import EsTestServer
from tests.elasticsearch_support import (
    Target,
    expected_documents,
    pending_messages,
    send_all,
    snapshot,
    sources,
)
from tests.support import airflow, enqueue_samples, pending_ids

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bugzilla_push.model import PushMessage

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MESSAGES = 10_000


@pytest.fixture
def double() -> Iterator[EsTestServer]:
    with EsTestServer() as server:
        yield server


def connection(double: EsTestServer) -> dict:
    return {"conn_type": "elasticsearch", "host": "127.0.0.1", "port": double.port, "schema": "http"}


def run_dag(source: str, double: EsTestServer) -> None:
    result = airflow(
        "dags",
        "test",
        "bugzilla_push",
        env={
            "AIRFLOW_CONN_BUGZILLA_DB": source,
            "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "elasticsearch",
            "AIRFLOW_CONN_ELASTICSEARCH": json.dumps(connection(double)),
        },
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def reinsert(store_url: str, messages: list[PushMessage]) -> None:
    """Put rows back into `push` with their original ids, as a crash after delivery would leave them."""
    with open_store(store_url) as store, store.transaction() as cur:
        for m in messages:
            store.execute(
                cur,
                "INSERT INTO push (id, push_ts, payload, change_set, routing_key) "
                "VALUES (%(id)s, %(ts)s, %(payload)s, %(cs)s, %(rk)s)",
                {
                    "id": m.id,
                    "ts": m.row.push_ts,
                    "payload": m.row.payload,
                    "cs": m.row.change_set,
                    "rk": m.row.routing_key,
                },
            )


def test_ten_thousand_messages_leave_the_latest_state_and_replays_forward_or_reverse_change_nothing(
    airflow_db: None, pg_url: str, double: EsTestServer
) -> None:
    with open_store(pg_url) as store:
        store.create_schema()
        ids = enqueue_samples(store, MESSAGES, seed=21, private_ratio=0.1)
        messages = pending_messages(store)
    kinds = {m.target for m in messages}
    assert kinds == {"bug", "comment", "attachment"}
    assert any(m.event.action == "modify" for m in messages)
    assert any(m.is_private for m in messages)

    run_dag(pg_url, double)

    target = Target(double.url, prefix="bugzilla")  # the connector's default index names
    with open_store(pg_url) as store:
        assert pending_ids(store) == []
        assert store.query("SELECT COUNT(*) FROM push_backlog")[0][0] == 0
        log = dict(store.query("SELECT message_id, result FROM push_log WHERE connector = 'elasticsearch'"))
    assert sorted(log) == ids
    ignored = {m.id for m in messages if m.event.action == "create" and m.is_private}
    assert ignored, "the sample must create private bugs or comments"
    assert {i for i, r in log.items() if r == Result.IGNORED} == ignored
    assert {r for i, r in log.items() if i not in ignored} == {Result.OK}

    with target.client() as es:
        state = snapshot(es, target)
        expected = expected_documents(messages, index_private=False)["public"]
        assert sources(state) == expected  # exactly the latest state of each public bug, comment, attachment
        assert {k for k, _ in state} == {"bugs", "comments", "attachments"}
        last_bug = {m.object["id"]: m for m in messages if m.target == "bug"}
        private_now = {
            str(b) for b, m in last_bug.items() if m.is_private or privacy_transition(m) == "private"
        }
        assert private_now, "the sample must end with private bugs"
        assert not private_now & {doc_id for kind, doc_id in state if kind == "bugs"}
        assert not [key for key, (_, source) in state.items() if source["is_private"]]

        # Replay 1: the same rows again, through the DAG (what a crash after delivery re-sends).
        reinsert(pg_url, messages)
        requests_before = len(double.bulk_requests())
        run_dag(pg_url, double)
        assert len(double.bulk_requests()) > requests_before
        assert snapshot(es, target) == state

        # Replay 2: the same messages in reverse order (every write stale), straight to the connector.
        info = ConnectionInfo("elasticsearch", **connection(double))
        with ElasticsearchConnector.from_connection(info) as connector:
            stale = [m for m in reversed(messages) if connector.should_send(m)]
            assert {o.result for o in send_all(connector, stale)} == {Result.OK}
            assert connector.stats["already applied"] >= len(stale)
        assert snapshot(es, target) == state
