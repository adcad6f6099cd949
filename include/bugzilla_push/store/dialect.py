"""What differs between databases, and SQL pieces every dialect shares.

SQL common to every database is written in pyformat (`%(name)s`); a dialect adapts it to its
driver and supplies what differs: DDL types, upserts, bulk inserts, locks, transactions, timestamps.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from bugzilla_push.ranges import IdRanges

MAX_RANGES_PER_STATEMENT = 200  # keeps range predicates (and their parameters) small
ROW_COLUMNS = "id, push_ts, payload, change_set, routing_key"
BACKLOG_COLUMNS = "message_id, push_ts, payload, change_set, routing_key, connector, attempts"
ARCHIVE_COLUMNS = "message_id, push_ts, payload, change_set, routing_key, archived_ts"
LOG_COLUMNS = (
    "message_id",
    "change_set",
    "routing_key",
    "connector",
    "push_ts",
    "processed_ts",
    "result",
    "data",
)
DEAD_COLUMNS = (
    "message_id",
    "connector",
    "push_ts",
    "payload",
    "change_set",
    "routing_key",
    "reason",
    "failed_ts",
)


class Dialect(ABC):
    """What differs between databases. Subclasses say which isolation level they use and why."""

    name: ClassVar[str]
    types: ClassVar[dict[str, str]]  # placeholders in schema.py → this database's column types
    for_update: ClassVar[str] = " FOR UPDATE"
    upsert_conflict: ClassVar[str] = "ON CONFLICT ({keys}) DO UPDATE SET {sets}"

    def sql(self, text: str) -> str:
        """Adapt pyformat SQL to the driver's paramstyle."""
        return text

    def prepare(self, conn: Any) -> Any:
        """Set the connection up (autocommit, session settings) and return it."""
        return conn

    def render(self, statement: str) -> str:
        """Render a schema statement (schema.py) in this database's types."""
        return statement.format(**self.types)

    def execute_ddl(self, cur: Any, sql: str) -> None:
        cur.execute(sql)

    @abstractmethod
    def existing_tables(self, conn: Any, names: Sequence[str]) -> set[str]:
        """Which of the named tables exist."""

    @abstractmethod
    def existing_indexes(self, conn: Any, table: str) -> set[str]:
        """Return the names of the table's indexes."""

    @abstractmethod
    @contextmanager
    def transaction(self, conn: Any) -> Iterator[Any]:
        """Run the block in one transaction and yield a cursor."""

    @abstractmethod
    def try_lock(self, conn: Any, name: str) -> bool:
        """Take the named session lock without waiting; False if someone else holds it."""

    @abstractmethod
    def unlock(self, conn: Any, name: str) -> None:
        """Release a lock taken by :meth:`try_lock`."""

    def insert_ignore(self, table: str, columns: str, source: str) -> str:
        """`INSERT … VALUES/SELECT` that skips rows already present (by a unique index).

        A SELECT source must have a WHERE clause (SQLite's parser needs it before ON CONFLICT).
        """
        return f"INSERT INTO {table} ({columns}) {source} ON CONFLICT DO NOTHING"

    @abstractmethod
    def is_unique_violation(self, exc: BaseException) -> bool:
        """Whether `exc` is the driver's duplicate-key error."""

    def upsert(self, table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
        values = ", ".join(f"%({c})s" for c in columns)
        sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        conflict = self.upsert_conflict.format(keys=", ".join(keys), sets=sets)
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}) {conflict}"

    def insert_returning_id(self, cur: Any, sql: str, params: dict[str, Any]) -> int:
        """Run an INSERT of one row and return its new id."""
        return int(cur.execute(self.sql(sql + " RETURNING id"), params).fetchone()[0])

    def delete_some(self, table: str, id_column: str, where: str, limit: int) -> str:
        """Delete at most `limit` rows matching `where`, lowest ids first (one bounded statement)."""
        return (
            f"DELETE FROM {table} WHERE {id_column} IN "
            f"(SELECT {id_column} FROM {table} WHERE {where} ORDER BY {id_column} LIMIT {int(limit)})"
        )

    def bulk_insert(self, cur: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Insert many rows in as few round trips as the driver allows."""
        if rows:
            placeholders = ", ".join(["%s"] * len(columns))
            cur.executemany(
                self.sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"), rows
            )

    def to_db(self, value: datetime | None) -> Any:
        """Convert a naive UTC datetime for the driver."""
        return value

    def from_db(self, value: Any) -> datetime | None:
        """Convert a nullable timestamp column's value to a naive UTC datetime."""
        return None if value is None else self.from_db_required(value)

    def from_db_required(self, value: Any) -> datetime:
        """Convert a NOT NULL timestamp column's value to a naive UTC datetime."""
        if not isinstance(value, datetime):
            raise TypeError(f"expected a timestamp from the database, got {value!r}")
        return value


def index_table(statement: str) -> str:
    return statement.split(" ON ", 1)[1].split()[0]


def range_predicate(ranges: IdRanges, column: str = "id") -> tuple[str, dict[str, int]]:
    """`(col BETWEEN lo AND hi OR …)` with its parameters; an empty set matches nothing."""
    if not ranges:
        return "1 = 0", {}
    parts, params = [], {}
    for n, (lo, hi) in enumerate(ranges.spans):
        parts.append(f"{column} BETWEEN %(lo{n})s AND %(hi{n})s")
        params[f"lo{n}"], params[f"hi{n}"] = lo, hi
    return "(" + " OR ".join(parts) + ")", params
