"""The operator's command line against a real PostgreSQL database, as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bugzilla_push.model import PushRow
from bugzilla_push.ranges import IdRanges
from bugzilla_push.store import Commit, NewMessage, open_store
from tests.bugzilla_tables import BugzillaTables
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


@pytest.mark.parametrize(
    ("options", "code", "setting"),
    [
        ({"global": "Disabled", "File": "Enabled"}, 2, "global.enabled"),
        ({"global": "Enabled", "File": "Disabled", "Webhook_3": "Enabled"}, 1, "File.enabled"),
        ({"global": "Enabled", "File": "Enabled"}, 0, None),
    ],
)
def test_check_warns_when_bugzilla_would_not_write_every_change(
    mysql_url: str, options: dict[str, str], code: int, setting: str | None
) -> None:
    """On a Bugzilla database, `check` reads the Push extension's `push_options` (BMO's File rule)."""
    cli("--db", mysql_url, "schema")
    with open_store(mysql_url) as store:
        tables = BugzillaTables(store).create()
        for connector, value in options.items():
            tables.set_push_option(connector, "enabled", value)
    result = cli("--db", mysql_url, "check")
    assert result.returncode == code, result.stdout + result.stderr
    if setting:
        assert f"push_options {setting}" in result.stdout
    else:
        assert "push_options" not in result.stdout


ENABLED = {"AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "file,pulse"}


def _state_rows(pg_url: str) -> list[tuple]:
    with open_store(pg_url) as store:
        return store.query("SELECT connector, paused FROM push_connector_state ORDER BY connector")


@pytest.mark.parametrize(
    "command",
    [
        ["pause", "nosuch", "--reason", "x"],
        ["resume", "nosuch"],
        ["retry", "nosuch"],
        ["drop", "nosuch", "--all"],
    ],
)
def test_a_mistyped_connector_is_refused_with_the_enabled_ones_listed(
    pg_url: str, command: list[str]
) -> None:
    cli("--db", pg_url, "schema")
    result = cli("--db", pg_url, *command, env=ENABLED)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no connector 'nosuch'" in result.stderr
    assert "Enabled connectors (Variable bugzilla_push_connectors): file, pulse" in result.stderr
    assert "--force" in result.stderr
    assert result.stdout == ""
    assert _state_rows(pg_url) == []
    with open_store(pg_url) as store:
        assert store.query("SELECT COUNT(*) FROM push_audit") == [(0,)]


def test_enabled_known_and_forced_connectors_are_acted_on(pg_url: str) -> None:
    cli("--db", pg_url, "schema")
    with open_store(pg_url) as store:  # "legacy" is no longer enabled, but its backlog still waits
        store.enqueue([NewMessage("{}", "bug.create", "1.1")], store_now())
        store.record(Commit("legacy", store_now(), hold=IdRanges(((1, 1),))))
    assert cli("--db", pg_url, "pause", "pulse", "--reason", "broker upgrade", env=ENABLED).returncode == 0
    assert cli("--db", pg_url, "pause", "legacy", "--reason", "retired", env=ENABLED).returncode == 0
    forced = cli(
        "--db", pg_url, "pause", "webhook_new", "--reason", "before enabling", "--force", env=ENABLED
    )
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith("webhook_new is paused")
    # Once paused (forced), the name is known from the tables: resuming it needs no --force.
    assert cli("--db", pg_url, "resume", "webhook_new", env=ENABLED).returncode == 0
    assert _state_rows(pg_url) == [("legacy", 1), ("pulse", 1), ("webhook_new", 0)]


def test_the_embedded_default_connector_is_enabled_without_the_variable(pg_url: str) -> None:
    cli("--db", pg_url, "schema")
    assert cli("--db", pg_url, "pause", "file", "--reason", "disk swap").returncode == 0
    refused = cli("--db", pg_url, "pause", "pulse", "--reason", "x")
    assert refused.returncode == 2
    assert "Enabled connectors (Variable bugzilla_push_connectors): file" in refused.stderr


def test_retry_and_drop_move_a_connectors_dead_letters(pg_url: str) -> None:
    cli("--db", pg_url, "schema")
    with open_store(pg_url) as store:
        store.enqueue([NewMessage("{}", "bug.create", f"1.{i}") for i in range(4)], store_now())
        rows = [
            PushRow(*r)
            for r in store.query("SELECT id, push_ts, payload, change_set, routing_key FROM push ORDER BY id")
        ]
        store.record(Commit("pulse", store_now(), dead=[(row, "refused by the broker") for row in rows]))
    ids = [row.id for row in rows]
    retried = cli("--db", pg_url, "retry", "pulse", "--message", str(ids[1]), env=ENABLED)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.startswith("1 dead letter(s) of pulse are back in its backlog")
    missing = cli("--db", pg_url, "drop", "pulse", "--message", str(ids[1]), env=ENABLED)
    assert missing.returncode == 2
    assert f"pulse has no dead letter for message(s) {ids[1]}" in missing.stderr
    dropped = cli("--db", pg_url, "drop", "pulse", "--all", env=ENABLED)
    assert dropped.stdout.startswith("3 dead letter(s) of pulse dropped")
    with open_store(pg_url) as store:
        assert store.query("SELECT message_id FROM push_backlog WHERE connector = 'pulse'") == [(ids[1],)]
        assert store.query("SELECT COUNT(*) FROM push_dead_letter") == [(0,)]
        actions = store.query("SELECT action, COUNT(*) FROM push_audit GROUP BY action ORDER BY action")
    assert actions == [("drop_dead_letter", 3), ("retry_dead_letter", 1)]
