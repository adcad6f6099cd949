"""SQLite: the embedded default, so a first run needs no database server."""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bugzilla_push.store.dialect import Dialect

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

_NAMED = re.compile(r"%\((\w+)\)s")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")

TYPES = {
    # AUTOINCREMENT: ids are never reused after the newest row is deleted, so push ids stay
    # increasing, which ordering and duplicate detection rely on.
    "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "int3": "INTEGER",
    "int1": "INTEGER",
    "ts0": "TEXT",
    "ts": "TEXT",
    "longtext": "TEXT",
    "mediumtext": "TEXT",
    "if_not_exists": "IF NOT EXISTS",
}


class SqliteDialect(Dialect):
    """SQLite in WAL mode; writes take the database lock up front (`BEGIN IMMEDIATE`).

    SQLite serialises writers anyway; taking the lock at BEGIN turns a would-be deadlock between
    two read-then-write transactions into a wait. Connector locks are file locks next to the
    database, released by the kernel when their process dies.

    :param path: the database file
    """

    name = "sqlite"
    for_update = ""
    types = TYPES

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_files: dict[str, int] = {}

    def sql(self, text: str) -> str:
        return _NAMED.sub(r":\1", text).replace("%s", "?")

    def prepare(self, conn: Any) -> Any:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA busy_timeout = 60000")
        return conn

    @contextmanager
    def transaction(self, conn: Any) -> Iterator[Any]:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    def try_lock(self, conn: Any, name: str) -> bool:
        lock_path = f"{self.path}.lock-{_SAFE.sub('_', name)}"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_files[name] = fd
        return True

    def unlock(self, conn: Any, name: str) -> None:
        fd = self._lock_files.pop(name, None)
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc).upper()

    def to_db(self, value: datetime | None) -> Any:
        return None if value is None else value.isoformat(" ")

    def from_db_required(self, value: Any) -> datetime:
        # The drivers' converters are off: timestamps are stored as ISO text (see to_db).
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)

    def existing_indexes(self, conn: Any, table: str) -> set[str]:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,))
        return {r[0] for r in rows.fetchall()}

    def existing_tables(self, conn: Any, names: Sequence[str]) -> set[str]:
        marks = ", ".join("?" for _ in names)
        rows = conn.execute(
            f"SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ({marks})", names
        )
        return {r[0] for r in rows.fetchall()}


def connect(path: str | Path) -> sqlite3.Connection:
    """Open the database file (creating its directory), in autocommit mode."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return sqlite3.connect(str(path), timeout=60, isolation_level=None, check_same_thread=False)
