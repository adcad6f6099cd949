"""One DB-API connection and its dialect: where every statement runs and every transaction opens."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from bugzilla_push.store.dialect import Dialect


class Session:
    """Statements and transactions on one connection; the schema and status readers need no more.

    :param conn: an open DB-API connection in autocommit mode; transactions are explicit
    :param dialect: the database's SQL dialect
    """

    def __init__(self, conn: Any, dialect: Dialect) -> None:
        self.conn = dialect.prepare(conn)
        self.dialect = dialect

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.dialect.transaction(self.conn) as cur:
            yield cur

    def execute(self, cur: Any, sql: str, params: dict[str, Any] | Sequence[Any] | None = None) -> Any:
        cur.execute(self.dialect.sql(sql), params or {})
        return cur

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        """Run one read statement on its own (autocommit: no transaction held open)."""
        cur = self.conn.cursor()
        try:
            return list(self.execute(cur, sql, params).fetchall())
        finally:
            cur.close()

    def execute_one(self, sql: str, params: dict[str, Any] | None = None) -> int:
        """Run one write statement in its own transaction; return the rows it touched."""
        with self.transaction() as cur:
            return self.execute(cur, sql, params).rowcount
