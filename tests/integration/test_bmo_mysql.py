"""Drop-in for bugzilla.mozilla.org: MariaDB with the push tables exactly as Bugzilla creates them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bugzilla_push.store import open_store
from tests.integration.bmo import BMO_TABLES, create_bugzilla_tables
from tests.support import airflow, delivered_ids, enqueue_samples, pending_ids

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def table_definitions(url: str) -> dict[str, str]:
    """SHOW CREATE TABLE of Bugzilla's tables, without the moving AUTO_INCREMENT counter."""
    with open_store(url) as store:
        return {
            t: re.sub(r" AUTO_INCREMENT=\d+", "", store.query(f"SHOW CREATE TABLE {t}")[0][1])
            for t in BMO_TABLES
        }


@pytest.fixture
def bugzilla_db(mysql_url: str) -> str:
    """A database laid out by Bugzilla, with an old backlog waiting and rows pending."""
    create_bugzilla_tables(mysql_url)
    return mysql_url


def test_bugzillas_tables_are_drained_in_order_and_left_as_they_were(
    airflow_db: None, bugzilla_db: str, tmp_path: Path
) -> None:
    with open_store(bugzilla_db) as store:
        old = enqueue_samples(store, 6)  # delivered by bugzilla-pushd long ago, except to "file"
        with store.transaction() as cur:
            store.execute(
                cur,
                "INSERT INTO push_backlog (message_id, push_ts, payload, change_set, routing_key, "
                "connector, attempt_ts, attempts, last_error) SELECT id, push_ts, payload, change_set, "
                "routing_key, 'file', push_ts, 7, 'Expected HTTP 2xx, got 503' FROM push",
            )
            store.execute(
                cur,
                "INSERT INTO push_backoff (connector, next_attempt_ts, attempts) "
                "VALUES ('file', '2020-01-01 00:00:00', 7)",
            )
            store.execute(
                cur,
                "INSERT INTO push_options (connector, option_name, option_value) "
                "VALUES ('global', 'log_purge', '7')",
            )
            store.execute(cur, "DELETE FROM push")
        pending = enqueue_samples(store, 40, seed=2)
    before = table_definitions(bugzilla_db)

    out = tmp_path / "file.jsonl"
    schema = subprocess.run(
        [str(Path(sys.executable).parent / "bugzilla-push"), "--db", bugzilla_db, "schema"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert schema.returncode == 0, schema.stderr
    result = airflow(
        "dags",
        "test",
        "bugzilla_push",
        env={
            "AIRFLOW_CONN_BUGZILLA_DB": bugzilla_db,
            "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "file",
            "AIRFLOW_CONN_FILE": f"fs://?path={out}",
        },
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]

    assert delivered_ids(out) == old + pending  # the inherited backlog first, then the new rows, one order
    with open_store(bugzilla_db) as store:
        assert pending_ids(store) == []
        assert store.query("SELECT COUNT(*) FROM push_backlog")[0][0] == 0
        assert store.backoff("file").attempts == 0
        assert store.query("SELECT option_value FROM push_options WHERE option_name = 'log_purge'") == [
            ("7",)
        ]
    assert table_definitions(bugzilla_db) == before  # Bugzilla's own tables are exactly as they were


def test_a_dag_run_killed_mid_delivery_on_mariadb_loses_nothing(
    airflow_db: None, mysql_url: str, tmp_path: Path
) -> None:
    chunk = 50
    with open_store(mysql_url) as store:
        store.create_schema()
        ids = enqueue_samples(store, 4000)
    out = tmp_path / "file.jsonl"
    settings = {
        "AIRFLOW_CONN_BUGZILLA_DB": mysql_url,
        "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "file",
        "AIRFLOW_CONN_FILE": f"fs://?path={out}",
        "AIRFLOW_VAR_BUGZILLA_PUSH_CONFIG": json.dumps({"chunk_size": chunk}),
    }
    command = [str(Path(sys.executable).parent / "airflow"), "dags", "test", "bugzilla_push"]
    # The kill point does not depend on speed: with push_log read-locked, the run writes its first
    # chunk to the file and then waits to record it, so it dies between sending and recording,
    # the moment that decides whether anything is lost or sent twice.
    with open_store(mysql_url) as locker, locker.transaction() as cur:
        locker.execute(cur, "LOCK TABLES push_log READ")
        run = subprocess.Popen(
            command,
            env={**os.environ, **settings},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while (
            time.monotonic() < deadline and run.poll() is None and not delivered_ids(out, while_writing=True)
        ):
            time.sleep(0.05)
        time.sleep(1)  # the run is blocked on the lock: nothing more reaches the file
        assert run.poll() is None, "the run finished before it could be killed"
        delivered_before = len(delivered_ids(out, while_writing=True))
        os.killpg(run.pid, signal.SIGKILL)  # the whole run: supervisor and task process
        run.wait()
        locker.execute(cur, "UNLOCK TABLES")
    assert delivered_before == chunk  # one chunk sent, none recorded
    assert len(delivered_ids(out, while_writing=True)) == delivered_before

    result = airflow(
        "dags",
        "test",
        "bugzilla_push",
        env=settings,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    received = delivered_ids(out)
    assert list(dict.fromkeys(received)) == ids  # nothing lost, order held
    assert len(received) - len(ids) <= chunk  # re-sent at most one chunk, recognisable by push id
    with open_store(mysql_url) as store:
        assert pending_ids(store) == []
