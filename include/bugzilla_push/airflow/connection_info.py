"""An Airflow connection as the core's plain :class:`~bugzilla_push.connectors.ConnectionInfo`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bugzilla_push.connectors import ConnectionInfo

if TYPE_CHECKING:
    from airflow.sdk import Connection


def info_of(conn_id: str, conn: Connection) -> ConnectionInfo:
    """Return a connection's fields as plain data.

    The UI's connection form writes every option field into the extra, null (or "") where it was
    left empty: such an option takes its default, as if it were absent.
    """
    return ConnectionInfo(
        conn_id=conn_id,
        conn_type=(conn.conn_type or "").lower(),
        host=conn.host or None,
        port=conn.port,
        login=conn.login or None,
        password=conn.password or None,
        schema=conn.schema or None,
        extra={k: v for k, v in conn.extra_dejson.items() if v is not None and v != ""},
    )
