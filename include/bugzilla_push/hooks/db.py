"""The `bugzilla_db` connection: Bugzilla's database, where the push tables live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from bugzilla_push.store import Store

BUGZILLA_DB_CONN_ID = "bugzilla_db"

HOW_TO_SET = (
    "Set it with an environment variable, for example "
    "AIRFLOW_CONN_BUGZILLA_DB='postgresql://bugs:secret@db.example.org:5432/bugs' "
    "(or 'mysql://bugs:secret@db.example.org:3306/bugs', or 'sqlite:////var/lib/bugzilla-push/bugs.db' "
    "for the embedded default), "
    "or add it in the Airflow UI under Admin → Connections."
)


class BugzillaDbNotConfigured(RuntimeError):
    """The source database connection is missing or of an unsupported type."""


class BugzillaDbHook(BaseHook):
    """Opens a :class:`~bugzilla_push.store.Store` on the database named by an Airflow connection.

    PostgreSQL goes through the postgres provider's hook (so its TLS and IAM options apply);
    MySQL/MariaDB through PyMySQL with the connection's host, port, login, password, schema (the
    database) and `ssl` extra; SQLite takes the path from the connection's host or schema.

    :param bugzilla_db_conn_id: the connection id (`bugzilla_db`)
    """

    conn_name_attr = "bugzilla_db_conn_id"
    default_conn_name = BUGZILLA_DB_CONN_ID
    conn_type = "postgres"
    hook_name = "Bugzilla push tables"

    def __init__(self, bugzilla_db_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bugzilla_db_conn_id = bugzilla_db_conn_id

    def get_conn(self) -> Store:
        conn_id = self.bugzilla_db_conn_id
        try:
            conn = self.get_connection(conn_id)
        except AirflowNotFoundException:
            raise BugzillaDbNotConfigured(
                f"The Airflow connection {conn_id!r} (Bugzilla's database with the push tables) is not "
                f"defined. {HOW_TO_SET}"
            ) from None
        kind = (conn.conn_type or "").lower()
        if kind in ("postgres", "postgresql"):
            from airflow.providers.postgres.hooks.postgres import PostgresHook

            from bugzilla_push.store.postgres import PostgresDialect

            return Store(PostgresHook(postgres_conn_id=conn_id).get_conn(), PostgresDialect())
        if kind in ("mysql", "mariadb"):
            import pymysql

            from bugzilla_push.store.mysql import MysqlDialect

            database = conn.schema or ""
            return Store(
                pymysql.connect(
                    host=conn.host or "127.0.0.1",
                    port=conn.port or 3306,
                    user=conn.login or "",
                    password=conn.password or "",
                    database=database,
                    charset="utf8mb4",
                    autocommit=True,
                    **_mysql_ssl(conn.extra_dejson),
                ),
                MysqlDialect(database),
            )
        if kind == "sqlite":
            from bugzilla_push.store import sqlite

            path = Path(conn.host or conn.schema or "")
            if not str(path) or str(path) == ".":
                raise BugzillaDbNotConfigured(
                    f"The SQLite connection {conn_id!r} names no file. {HOW_TO_SET}"
                )
            return Store(sqlite.connect(path), sqlite.SqliteDialect(path))
        raise BugzillaDbNotConfigured(
            f"The Airflow connection {conn_id!r} has type {conn.conn_type!r}; bugzilla-push reads "
            f"PostgreSQL, MySQL/MariaDB or SQLite. {HOW_TO_SET}"
        )


def _mysql_ssl(extra: dict[str, Any]) -> dict[str, Any]:
    """PyMySQL's `ssl` argument from the connection's extra, as the mysql provider reads it."""
    ssl = extra.get("ssl")
    if isinstance(ssl, str):
        import json

        ssl = json.loads(ssl)
    return {"ssl": ssl} if ssl else {}
