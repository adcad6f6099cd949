"""The `bugzilla_db` connection: Bugzilla's database, where the push tables live."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from bugzilla_push.dburl import DbTarget, kind_of, mysql_params
from bugzilla_push.store import Store, open_target

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from bugzilla_push.dburl import Kind

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
            raise _not_defined(conn_id) from None
        if connection_kind(conn_id, conn) == "postgresql":
            from airflow.providers.postgres.hooks.postgres import PostgresHook

            from bugzilla_push.store.postgres import PostgresDialect

            pg = PostgresHook(postgres_conn_id=conn_id, connection=conn)
            return Store(pg.get_conn(), PostgresDialect())
        return open_target(db_target(conn_id, conn))

    @classmethod
    async def aget_watch_target(cls, conn_id: str = default_conn_name) -> DbTarget:
        """Resolve the connection for :mod:`bugzilla_push.watch` without blocking the event loop."""
        try:
            conn = await cls.aget_connection(conn_id)
        except AirflowNotFoundException:
            raise _not_defined(conn_id) from None
        # In a thread: PostgresHook may fetch an IAM token over the network.
        return await asyncio.to_thread(db_target, conn_id, conn)


def _not_defined(conn_id: str) -> BugzillaDbNotConfigured:
    return BugzillaDbNotConfigured(
        f"The Airflow connection {conn_id!r} (Bugzilla's database with the push tables) is not "
        f"defined. {HOW_TO_SET}"
    )


def connection_kind(conn_id: str, conn: Connection) -> Kind:
    """Return which database the connection names, or say how to fix it."""
    kind = kind_of(conn.conn_type or "")
    if kind is not None:
        return kind
    raise BugzillaDbNotConfigured(
        f"The Airflow connection {conn_id!r} has type {conn.conn_type!r}; bugzilla-push reads "
        f"PostgreSQL, MySQL/MariaDB or SQLite. {HOW_TO_SET}"
    )


def mysql_args(conn: Connection) -> dict[str, Any]:
    """PyMySQL's connect arguments: host, port, login, password, schema (the database), `ssl` extra."""
    return {
        **mysql_params(conn.host, conn.port, conn.login, conn.password, conn.schema),
        **_mysql_ssl(conn.extra_dejson),
    }


def sqlite_file(conn_id: str, conn: Connection) -> Path:
    path = Path(conn.host or conn.schema or "")
    if not str(path) or str(path) == ".":
        raise BugzillaDbNotConfigured(f"The SQLite connection {conn_id!r} names no file. {HOW_TO_SET}")
    return path


def postgres_args(conn_id: str, conn: Connection) -> dict[str, Any]:
    """Return the psycopg connect arguments PostgresHook would use (extras, TLS, IAM as it reads them).

    Built by the provider itself, stopped just before it connects, so the watcher's async connection
    and the tasks' connections can never disagree about a connection's options.
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    class _ArgsOnly(PostgresHook):
        def _create_connection(self, conn_args: dict[str, Any]) -> Any:
            return conn_args

    args = _ArgsOnly(postgres_conn_id=conn_id, connection=conn).get_conn()
    # A cursor factory from the `cursor` extra means nothing to the watcher's one scalar query.
    return {k: v for k, v in args.items() if v is not None and k not in ("row_factory", "cursor_factory")}


def db_target(conn_id: str, conn: Connection) -> DbTarget:
    """Return what the store and :class:`~bugzilla_push.watch.PushWatcher` open their connections from."""
    kind = connection_kind(conn_id, conn)
    if kind == "postgresql":
        return DbTarget(kind, postgres_args(conn_id, conn))
    if kind == "mysql":
        return DbTarget(kind, mysql_args(conn))
    return DbTarget(kind, {"path": str(sqlite_file(conn_id, conn))})


def _mysql_ssl(extra: dict[str, Any]) -> dict[str, Any]:
    """PyMySQL's `ssl` argument from the connection's extra, as the mysql provider reads it."""
    ssl = extra.get("ssl")
    if isinstance(ssl, str):
        import json

        ssl = json.loads(ssl)
    return {"ssl": ssl} if ssl else {}
