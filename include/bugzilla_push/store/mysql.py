"""MySQL and MariaDB: what bugzilla.mozilla.org runs, through PyMySQL.

PyMySQL is pure Python and needs no client library at build time; the mysql provider's own
driver (mysqlclient) needs MySQL headers to compile, which a fresh machine does not have.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pymysql

from bugzilla_push.store.dialect import Dialect
from bugzilla_push.store.schema import BMO_TABLES

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

DUPLICATE_KEY = 1062
DUPLICATE_INDEX = 1061

# Bugzilla's own MySQL types (Bugzilla::DB::Schema::Mysql): MEDIUMSERIAL is a mediumint
# auto_increment, LONGTEXT is stored as mediumtext, DATETIME is a timestamp.
TYPES = {
    "serial": "MEDIUMINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
    "int3": "MEDIUMINT",
    "int1": "TINYINT",
    "ts0": "TIMESTAMP",
    "ts": "DATETIME(6)",
    "longtext": "MEDIUMTEXT",
    "mediumtext": "MEDIUMTEXT",
    "if_not_exists": "",
}
OWN_TYPES = {**TYPES, "int3": "INTEGER", "serial": "INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY"}
_LOCK_PREFIX_MAX = 64  # GET_LOCK names are at most 64 characters


class MysqlDialect(Dialect):
    """MySQL/MariaDB (InnoDB) at READ COMMITTED, sessions in UTC.

    READ COMMITTED because REPEATABLE READ's gap locks would make the read of `push` block
    Bugzilla's inserts; exclusion between deliverers comes from `GET_LOCK` (a session lock, freed
    when the connection drops) and the unique open-batch slot. Bugzilla's TIMESTAMP columns are
    converted by the session time zone, so it is fixed to UTC.

    :param database: the schema name, part of every lock name (GET_LOCK names are server-wide)
    """

    name = "mysql"
    types = TYPES

    def __init__(self, database: str) -> None:
        self.database = database

    def render(self, statement: str) -> str:
        table = re.match(r"\s*CREATE TABLE IF NOT EXISTS (\w+)", statement)
        own = table is not None and table.group(1) not in BMO_TABLES
        sql = statement.format(**(OWN_TYPES if own else TYPES))
        # As Bugzilla does: explicit defaults, so no TIMESTAMP column updates itself on UPDATE.
        sql = re.sub(r"TIMESTAMP NOT NULL", "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP", sql)
        sql = re.sub(r"TIMESTAMP NULL(?! DEFAULT)", "TIMESTAMP NULL DEFAULT NULL", sql)
        if table:
            sql += " ENGINE = InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"
        return sql

    def execute_ddl(self, cur: Any, sql: str) -> None:
        try:
            cur.execute(sql)
        except pymysql.err.OperationalError as exc:
            if exc.args[0] != DUPLICATE_INDEX:  # MySQL has no CREATE INDEX IF NOT EXISTS
                raise

    def prepare(self, conn: Any) -> Any:
        conn.autocommit(True)
        with conn.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cur.execute("SET time_zone = '+00:00'")
        return conn

    @contextmanager
    def transaction(self, conn: Any) -> Iterator[Any]:
        conn.begin()
        cur = conn.cursor()
        try:
            yield cur
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            cur.close()

    def insert_ignore(self, table: str, columns: str, source: str) -> str:
        # Not INSERT IGNORE: that would also turn real errors (a NULL in a NOT NULL column) into warnings.
        first = columns.split(",", 1)[0].strip()
        keep = f"{table}.{first} = {table}.{first}"
        return f"INSERT INTO {table} ({columns}) {source} ON DUPLICATE KEY UPDATE {keep}"

    def insert_returning_id(self, cur: Any, sql: str, params: dict[str, Any]) -> int:
        cur.execute(sql, params)  # MySQL has no RETURNING on INSERT
        return cur.lastrowid

    def delete_some(self, table: str, id_column: str, where: str, limit: int) -> str:
        # MySQL has no LIMIT in an IN (subquery), but a single-table DELETE takes ORDER BY and LIMIT.
        return f"DELETE FROM {table} WHERE {where} ORDER BY {id_column} LIMIT {int(limit)}"

    def upsert(self, table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
        values = ", ".join(f"%({c})s" for c in columns)
        sets = ", ".join(f"{c} = VALUES({c})" for c in columns if c not in keys)
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}) ON DUPLICATE KEY UPDATE {sets}"

    def _lock_name(self, name: str) -> str:
        return f"bugzilla_push:{self.database}:{name}"[:_LOCK_PREFIX_MAX]

    def try_lock(self, conn: Any, name: str) -> bool:
        with conn.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 0)", (self._lock_name(name),))
            return cur.fetchone()[0] == 1

    def unlock(self, conn: Any, name: str) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT RELEASE_LOCK(%s)", (self._lock_name(name),))

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, pymysql.err.IntegrityError) and exc.args[0] == DUPLICATE_KEY

    def existing_indexes(self, conn: Any, table: str) -> set[str]:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT DISTINCT index_name FROM information_schema.statistics "
                "WHERE table_schema = DATABASE() AND table_name = %s",
                (table,),
            )
            return {r[0] for r in cur.fetchall()}

    def existing_tables(self, conn: Any, names: Sequence[str]) -> set[str]:
        marks = ", ".join(["%s"] * len(names))
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
                f"AND table_name IN ({marks})",
                list(names),
            )
            return {r[0] for r in cur.fetchall()}


def connect(params: dict[str, Any]) -> Any:
    """Open a connection with PyMySQL's connect arguments (:func:`bugzilla_push.dburl.mysql_params`)."""
    return pymysql.connect(**params)
