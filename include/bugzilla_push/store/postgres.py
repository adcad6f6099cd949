"""PostgreSQL: the primary source database, through psycopg 3 (what the postgres provider uses)."""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors

from bugzilla_push.store.dialect import Dialect

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

LOCK_NAMESPACE = 0x42_50_55_53  # "BPUS": keeps our advisory locks apart from other applications'

TYPES = {
    "serial": "SERIAL PRIMARY KEY",
    "int3": "INTEGER",
    "int1": "SMALLINT",
    "ts0": "TIMESTAMP(0) WITHOUT TIME ZONE",  # Bugzilla's DATETIME on PostgreSQL
    "ts": "TIMESTAMP WITHOUT TIME ZONE",
    "longtext": "TEXT",
    "mediumtext": "TEXT",
    "if_not_exists": "IF NOT EXISTS",
}


class PostgresDialect(Dialect):
    """PostgreSQL at READ COMMITTED.

    Rows are read by id inside a batch fixed by its ranges, and exclusion between processes comes
    from advisory locks and the unique open-batch slot, so a stricter isolation level would only
    add serialisation failures.
    """

    name = "postgresql"
    types = TYPES

    def prepare(self, conn: Any) -> Any:
        conn.autocommit = True
        return conn

    @contextmanager
    def transaction(self, conn: Any) -> Iterator[Any]:
        with conn.transaction(), conn.cursor() as cur:
            yield cur

    def bulk_insert(self, cur: Any, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        if rows:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def try_lock(self, conn: Any, name: str) -> bool:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, _lock_key(name)))
            return bool(cur.fetchone()[0])

    def unlock(self, conn: Any, name: str) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, _lock_key(name)))

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, errors.UniqueViolation)

    def existing_indexes(self, conn: Any, table: str) -> set[str]:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s",
                (table,),
            )
            return {r[0] for r in cur.fetchall()}

    def existing_tables(self, conn: Any, names: Sequence[str]) -> set[str]:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
                (list(names),),
            )
            return {r[0] for r in cur.fetchall()}


# -- commit notifications (opt-in: `bugzilla-push notify install`) ---------------------------
# A statement-level trigger, so a Bugzilla transaction that inserts many rows sends one
# notification; PostgreSQL delivers it at COMMIT (never for a rolled-back insert) and folds
# identical notifications of one transaction into one. The names are this project's own.
NOTIFY_CHANNEL = "bugzilla_push"
NOTIFY_FUNCTION = "bugzilla_push_notify"
NOTIFY_TRIGGER = "bugzilla_push_notify"
NOTIFY_INSTALL = (
    f"CREATE OR REPLACE FUNCTION {NOTIFY_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$",
    # CREATE OR REPLACE TRIGGER (PostgreSQL 14+) re-installs without a moment with no trigger.
    f"CREATE OR REPLACE TRIGGER {NOTIFY_TRIGGER} AFTER INSERT ON push "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {NOTIFY_FUNCTION}()",
)
NOTIFY_REMOVE = (
    f"DROP TRIGGER IF EXISTS {NOTIFY_TRIGGER} ON push",
    f"DROP FUNCTION IF EXISTS {NOTIFY_FUNCTION}()",
)
# to_regclass: NULL rather than an error when `push` does not exist yet. A disabled trigger
# (ALTER TABLE … DISABLE TRIGGER) sends nothing, so it counts as absent.
NOTIFY_INSTALLED = (
    "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('push') "
    f"AND tgname = '{NOTIFY_TRIGGER}' AND tgenabled <> 'D')"
)


def _lock_key(name: str) -> int:
    key = zlib.crc32(name.encode())
    return key - (1 << 32) if key >= 1 << 31 else key  # advisory lock keys are signed int4


def connect(params: dict[str, Any]) -> Any:
    """Open a connection from psycopg's arguments: a `conninfo` (URL or key=value) and/or keywords."""
    args = {"application_name": "bugzilla-push", **params}
    return psycopg.connect(args.pop("conninfo", ""), autocommit=True, **args)
