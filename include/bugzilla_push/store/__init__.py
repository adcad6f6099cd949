"""Opening a store from a database URL (the CLI, tests and benchmarks; Airflow goes through hooks)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from bugzilla_push.store.base import LockTimeout, Store
from bugzilla_push.store.records import Batch, Commit, NewMessage

__all__ = ["Batch", "Commit", "LockTimeout", "NewMessage", "Store", "open_store", "sqlite_path"]


def sqlite_path(url: str) -> Path:
    """Return the file of `sqlite:///relative/path` or `sqlite:////absolute/path`."""
    return Path(url.split(":///", 1)[1] if ":///" in url else urlsplit(url).path)


def open_store(url: str) -> Store:
    """Open `postgresql://…`, `mysql://…` or `sqlite:///path` (relative) / `sqlite:////abs/path`."""
    scheme = urlsplit(url).scheme.split("+", 1)[0]
    if scheme in ("postgresql", "postgres"):
        from bugzilla_push.store import postgres

        return Store(
            postgres.connect(url.replace("postgres://", "postgresql://", 1)), postgres.PostgresDialect()
        )
    if scheme in ("mysql", "mariadb"):
        from bugzilla_push.store import mysql

        conn, database = mysql.connect(url)
        return Store(conn, mysql.MysqlDialect(database))
    if scheme == "sqlite":
        from bugzilla_push.store import sqlite

        path = sqlite_path(url)
        return Store(sqlite.connect(path), sqlite.SqliteDialect(path))
    raise ValueError(
        f"unsupported database URL scheme {scheme!r}: use postgresql://…, mysql://… or sqlite:///…"
    )
