"""The Pulse connector inside the `bugzilla_push` DAG: `airflow dags test` on real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from bugzilla_push.store import open_store
from tests.integration.connectors.pulse.support import (
    AMQP_HOST,
    AMQP_PORT,
    BoundQueue,
    public_ids,
    pulse_conn_json,
    rows,
    unique,
)
from tests.support import airflow, backlog_ids, delivered_ids, enqueue_samples, log_rows, pending_ids, run_dag

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.usefixtures("rabbitmq")]


def test_ten_thousand_messages_reach_pulse_in_order_persistent_and_without_private_bugs(
    airflow_db: None, source: str, queue: BoundQueue, tmp_path: Path
) -> None:
    with open_store(source) as store:
        ids = enqueue_samples(store, 10_000, seed=31, private_ratio=0.1)
        expected = public_ids(store)
        transitions = [r.id for r in rows(store) if r.routing_key.endswith(".modify:is_private")]
    # The connection as an operator writes it: a URI with the vhost as its path, options as its query.
    uri = f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/%2F?exchange={quote(queue.exchange, safe='')}"
    result = run_dag(
        source,
        "pulse,file",
        AIRFLOW_CONN_PULSE=uri,
        AIRFLOW_CONN_FILE=f"fs://?path={tmp_path / 'file.jsonl'}",
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]

    received = queue.drain()
    assert [m.message_id for m in received] == expected  # complete, in push-id order, no duplicates
    assert {m.properties.delivery_mode for m in received} == {2}
    assert {m.properties.content_type for m in received} == {"application/json"}
    assert all(str(m.message_id) == m.properties.message_id for m in received)
    skipped = set(ids) - set(expected)
    assert len(skipped) > 500  # private bugs (and private comments) were in the stream, and are not there
    assert transitions
    assert set(transitions) <= {m.message_id for m in received}  # privacy changes themselves are
    assert delivered_ids(tmp_path / "file.jsonl") == ids
    with open_store(source) as store:
        assert pending_ids(store) == []
        assert dict(log_rows(store, "pulse")) == {i: 2 if i in skipped else 1 for i in ids}
    assert "pulse: done; sent" in result.stdout + result.stderr


WRONG_PASSWORD = "wrong-password-for-the-test"  # must never be printed


def test_each_broken_pulse_connection_fails_with_what_to_fix_and_loses_nothing(
    airflow_db: None, source: str, queue: BoundQueue, tmp_path: Path
) -> None:
    with open_store(source) as store:
        ids = enqueue_samples(store, 200, seed=32)
    broken = {
        "pulse_badpw": pulse_conn_json(queue.exchange, password=WRONG_PASSWORD),
        "pulse_novhost": pulse_conn_json(queue.exchange, vhost="no-such-vhost"),
        "pulse_noexch": pulse_conn_json(unique("exchange/guest/missing"), declare=False),
        "pulse_refused": json.loads(pulse_conn_json(queue.exchange)) | {"port": 1},
    }
    env = {
        f"AIRFLOW_CONN_{name.upper()}": conn if isinstance(conn, str) else json.dumps(conn)
        for name, conn in broken.items()
    }
    result = airflow(
        "dags",
        "test",
        "bugzilla_push",
        env={
            **env,
            "AIRFLOW_CONN_BUGZILLA_DB": source,
            "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": ",".join([*broken, "file"]),
            "AIRFLOW_CONN_FILE": f"fs://?path={tmp_path / 'file.jsonl'}",
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0  # the run fails, so the UI shows it
    fatal = "airflow.sdk.exceptions.AirflowFailException: "  # the task fails at once, without retries
    kept = " — its messages are kept in its backlog and are sent once this is fixed"
    expected_lines = [
        f"{fatal}pulse_badpw: RabbitMQ at 127.0.0.1:5672 refused the login of user 'guest': fix the login or "
        f"password of Airflow connection 'pulse_badpw'{kept}",
        f"{fatal}pulse_novhost: virtual host 'no-such-vhost' does not exist on 127.0.0.1:5672",
        f"the extra of Airflow connection 'pulse_noexch'{kept}",
        "pulse_refused: backing_off; sent 0 (backlog 0), ignored 0, dead-lettered 0, held in backlog 200",
        "error: cannot connect to 127.0.0.1:1: connection refused",
    ]
    for line in expected_lines:
        assert line in output, f"no line {line!r} in the task logs"
    assert f"{fatal}pulse_noexch: exchange 'exchange/" in output  # Airflow masks 'guest': it is the password
    assert "does not exist (NOT_FOUND - no exchange" in output
    assert f"{fatal}pulse_refused" not in output  # transient: the task succeeds and the connector backs off
    assert WRONG_PASSWORD not in output
    assert delivered_ids(tmp_path / "file.jsonl") == ids  # the healthy connector delivered everything
    with open_store(source) as store:
        assert pending_ids(store) == []
        for name in broken:
            assert backlog_ids(store, name) == ids, f"{name} lost messages"
    assert queue.drain() == []
