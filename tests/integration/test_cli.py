"""The operator's command line against a real PostgreSQL database, as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bugzilla_push.ranges import IdRanges
from bugzilla_push.store import Commit, open_store
from tests.support import store_now

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).parent / "bugzilla-push")


def cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_schema_enqueue_status_round_trip(pg_url: str) -> None:
    assert "statements applied" in cli("--db", pg_url, "schema").stdout
    assert "up to date" in cli("--db", pg_url, "schema").stdout
    samples = cli("samples").stdout
    assert cli("--db", pg_url, "enqueue", stdin=samples).stdout.strip() == "enqueued 12 message(s)"
    status = json.loads(cli("--db", pg_url, "status", "--json").stdout)
    assert status["pending"] == 12
    table = cli("--db", pg_url, "status").stdout
    assert "pending: 12 message(s)" in table


def test_the_airflow_connection_is_used_when_no_url_is_given(pg_url: str) -> None:
    result = cli("schema", env={"AIRFLOW_CONN_BUGZILLA_DB": pg_url})
    assert result.returncode == 0, result.stderr
    assert "statements applied" in result.stdout


def test_a_missing_connection_says_how_to_set_it() -> None:
    result = cli("status")
    assert result.returncode == 1
    assert "The Airflow connection 'bugzilla_db'" in result.stderr
    assert "AIRFLOW_CONN_BUGZILLA_DB=" in result.stderr


def test_bad_input_is_refused_whole_and_nothing_is_enqueued(pg_url: str, tmp_path: Path) -> None:
    cli("--db", pg_url, "schema")
    path = tmp_path / "messages.jsonl"
    path.write_text(cli("samples").stdout + "{oops\n")
    result = cli("--db", pg_url, "enqueue", str(path))
    assert result.returncode == 2
    assert "line 13 is not valid JSON" in result.stderr
    assert "nothing was enqueued" in result.stderr
    assert json.loads(cli("--db", pg_url, "status", "--json").stdout)["pending"] == 0


@pytest.mark.parametrize(
    ("backlog", "code", "word"), [(0, 0, "OK"), (500, 1, "WARNING"), (750, 2, "CRITICAL")]
)
def test_check_exit_codes_at_bmos_thresholds(pg_url: str, backlog: int, code: int, word: str) -> None:
    cli("--db", pg_url, "schema")
    with open_store(pg_url) as store:
        if backlog:
            with store.transaction() as cur:
                store.execute(
                    cur,
                    "INSERT INTO push (push_ts, payload, change_set, routing_key) "
                    f"SELECT %(ts)s, '{{}}', '1.1', 'bug.create' FROM generate_series(1, {backlog})",
                    {"ts": store_now()},
                )
            store.record(Commit("pulse", store_now(), hold=IdRanges(((1, backlog),))))
            with store.transaction() as cur:
                store.execute(cur, "DELETE FROM push")
    result = cli("--db", pg_url, "check", "--connector", "pulse")
    assert result.returncode == code, result.stdout + result.stderr
    assert result.stdout.startswith(f"{word} - ")
    assert f"pulse backlog {backlog:,}" in result.stdout


def test_check_is_unknown_when_the_database_is_unreachable() -> None:
    result = cli("--db", "postgresql://nobody@127.0.0.1:1/none", "check")
    assert result.returncode == 3
    assert result.stdout.startswith("UNKNOWN - ")
