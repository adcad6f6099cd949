"""Opening a store from a database URL or a :class:`~bugzilla_push.dburl.DbTarget`."""

from __future__ import annotations

from bugzilla_push.dburl import DbTarget
from bugzilla_push.store.base import LockTimeout, Store
from bugzilla_push.store.records import Batch, Commit, NewMessage

__all__ = ["Batch", "Commit", "LockTimeout", "NewMessage", "Store", "open_store", "open_target"]


def open_store(url: str) -> Store:
    """Open `postgresql://…`, `mysql://…` or `sqlite:///path` (relative) / `sqlite:////abs/path`."""
    return open_target(DbTarget.from_url(url))


def open_target(target: DbTarget) -> Store:
    """Open the store on a target, with the driver of its kind (imported only when used)."""
    if target.kind == "postgresql":
        from bugzilla_push.store import postgres

        return Store(postgres.connect(target.params), postgres.PostgresDialect())
    if target.kind == "mysql":
        from bugzilla_push.store import mysql

        return Store(mysql.connect(target.params), mysql.MysqlDialect(target.params["database"]))
    from pathlib import Path

    from bugzilla_push.store import sqlite

    path = Path(target.params["path"])
    return Store(sqlite.connect(path), sqlite.SqliteDialect(path))
