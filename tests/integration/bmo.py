"""Bugzilla's side of a bugzilla.mozilla.org database on MariaDB: its push tables, and rows written
into them as Bugzilla writes them (its session sql_mode, its INSERT)."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pymysql

from bugzilla_push.store import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

# What Bugzilla::DB::Schema::Mysql makes of the Push extension's abstract schema: MEDIUMSERIAL is a
# mediumint auto_increment, LONGTEXT becomes mediumtext, DATETIME a timestamp with explicit defaults,
# InnoDB in utf8mb4.
TABLE_OPTIONS = "ENGINE = InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci ROW_FORMAT=DYNAMIC"
ID = "id mediumint auto_increment NOT NULL PRIMARY KEY"
BUGZILLA_DDL = [
    f"CREATE TABLE push ({ID}, "
    "push_ts timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, payload mediumtext NOT NULL, "
    f"change_set varchar(32) NOT NULL, routing_key varchar(64) NOT NULL) {TABLE_OPTIONS}",
    f"CREATE TABLE push_backlog ({ID}, message_id mediumint NOT NULL, "
    "push_ts timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, payload mediumtext NOT NULL, "
    "change_set varchar(32) NOT NULL, routing_key varchar(64) NOT NULL, connector varchar(32) NOT NULL, "
    "attempt_ts timestamp NULL DEFAULT NULL, attempts smallint NOT NULL, last_error mediumtext) "
    f"{TABLE_OPTIONS}",
    "CREATE UNIQUE INDEX push_backlog_idx ON push_backlog (message_id, connector)",
    f"CREATE TABLE push_backoff ({ID}, connector varchar(32) NOT NULL, "
    f"next_attempt_ts timestamp NULL DEFAULT NULL, attempts smallint NOT NULL) {TABLE_OPTIONS}",
    "CREATE UNIQUE INDEX push_backoff_idx ON push_backoff (connector)",
    f"CREATE TABLE push_options ({ID}, connector varchar(32) NOT NULL, "
    f"option_name varchar(32) NOT NULL, option_value varchar(255) NOT NULL) {TABLE_OPTIONS}",
    "CREATE UNIQUE INDEX push_options_idx ON push_options (connector, option_name)",
    f"CREATE TABLE push_log ({ID}, message_id mediumint NOT NULL, "
    "change_set varchar(32) NOT NULL, routing_key varchar(64) NOT NULL, connector varchar(32) NOT NULL, "
    "push_ts timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, processed_ts timestamp NOT NULL DEFAULT "
    f"CURRENT_TIMESTAMP, result tinyint NOT NULL, data mediumtext) {TABLE_OPTIONS}",
]
BMO_TABLES = ("push", "push_backlog", "push_backoff", "push_options", "push_log")
# Bugzilla::DB::Mysql::on_dbi_connected drops these from the session's sql_mode (Bug 321645), Perl's
# pattern as written: /^STRICT_(?:TRANS|ALL)_TABLES|TRADITIONAL|ONLY_FULL_GROUP_BY$/.
NOT_IN_BUGZILLAS_MODE = re.compile(r"^STRICT_(?:TRANS|ALL)_TABLES|TRADITIONAL|ONLY_FULL_GROUP_BY$")
DATA_TRUNCATED = 1265  # MariaDB's warning for a value cut to fit its column


def create_bugzilla_tables(url: str) -> None:
    """Lay out the push tables as Bugzilla's installer does."""
    with open_store(url) as store, store.transaction() as cur:
        for statement in BUGZILLA_DDL:
            store.execute(cur, statement)


@contextmanager
def connect(url: str, as_bugzilla: bool = True) -> Iterator[Any]:
    """A connection to the database; `as_bugzilla`: with the session Bugzilla sets up on connecting."""
    parts = urlsplit(url)
    conn = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username,
        password=parts.password or "",
        database=parts.path.lstrip("/"),
        charset="utf8mb4",
        autocommit=True,
    )
    try:
        if as_bugzilla:
            with conn.cursor() as cur:
                cur.execute("SHOW VARIABLES LIKE 'sql\\_mode'")
                mode = cur.fetchone()[1]
                kept = ",".join(m for m in mode.split(",") if not NOT_IN_BUGZILLAS_MODE.search(m))
                if kept != mode:
                    cur.execute("SET SESSION sql_mode = %s", (kept,))
        yield conn
    finally:
        conn.close()


def insert_as_bugzilla(conn: Any, rows: Sequence[dict[str, Any]]) -> list[tuple[int, list[Any]]]:
    """Insert rows as Bugzilla::Extension::Push::Message->create_from_transient does, one at a time.

    Each row's payload goes in as Push::Util::to_json writes it (ASCII JSON), with the event's whole
    routing key: the column keeps what fits. Returns each row's push id and the warnings it raised.
    """
    out = []
    with conn.cursor() as cur:
        for row in rows:
            payload = row["payload"]
            key = payload["event"]["routing_key"] if isinstance(payload, dict) else row["routing_key"]
            text = json.dumps(payload, separators=(",", ":")) if isinstance(payload, dict) else payload
            cur.execute("SELECT NOW()")  # _check_push_ts
            (now,) = cur.fetchone()
            cur.execute(
                "INSERT INTO push (push_ts, payload, change_set, routing_key) VALUES (%s, %s, %s, %s)",
                (now, text, row["change_set"], key),
            )
            push_id = cur.lastrowid
            cur.execute("SHOW WARNINGS")
            out.append((push_id, [w[1] for w in cur.fetchall()]))
    return out
