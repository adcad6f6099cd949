"""Connectors from Airflow: names from a Variable, settings from connections of the same id."""

from __future__ import annotations

from airflow.sdk import BaseHook, Variable
from airflow.sdk.exceptions import AirflowNotFoundException

from bugzilla_push.airflow.connection_info import info_of
from bugzilla_push.airflow.hooks.bugzilla_db import BUGZILLA_DB_CONN_ID, BugzillaDbHook
from bugzilla_push.bugzilla import BugzillaReader, ReadsBugzilla
from bugzilla_push.connectors import ConnectionInfo, Connector, ConnectorConfigError, build_connector
from bugzilla_push.connectors.file import FileConnector, default_path
from bugzilla_push.model import CONNECTOR_NAME_RULE, is_connector_name

CONNECTORS_VARIABLE = "bugzilla_push_connectors"
DEFAULT_CONNECTORS = "file"  # the embedded default: works with no service and no connection


def parse_connector_names(text: str) -> list[str]:
    """`"pulse, file"` → `["pulse", "file"]` (order kept, duplicates dropped, names checked)."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    bad = [n for n in names if not is_connector_name(n)]
    if bad:
        raise ConnectorConfigError(
            f"invalid connector name(s) in {CONNECTORS_VARIABLE}: {', '.join(map(repr, bad))}; a name is "
            f"{CONNECTOR_NAME_RULE}"
        )
    return names


def enabled_connectors() -> list[str]:
    """Return the connectors to deliver to: the `bugzilla_push_connectors` Variable (default: file)."""
    return parse_connector_names(Variable.get(CONNECTORS_VARIABLE, default=DEFAULT_CONNECTORS))


def connection_info(name: str) -> ConnectionInfo | None:
    """Return the connector's Airflow connection as plain data, or None if there is none."""
    try:
        conn = BaseHook.get_connection(name)
    except AirflowNotFoundException:
        return None
    return info_of(name, conn)


def load_connector(name: str, bugzilla_db: str = BUGZILLA_DB_CONN_ID) -> Connector:
    """Build the named connector from its connection; `file` works without one.

    A connector that reads Bugzilla's own tables (Phabricator) gets a reader on the `bugzilla_db`
    connection, which opens its own database connection when first used.
    """
    info = connection_info(name)
    if info is None:
        if name == "file":
            return FileConnector(name, default_path(name))
        raise ConnectorConfigError(
            f"connector {name!r} has no Airflow connection: add one with connection id {name!r} whose type "
            f"selects the connector (fs, amqp, elasticsearch, http), for example "
            f"AIRFLOW_CONN_{name.upper().replace('-', '_').replace('.', '_')}='amqp://user:password@host:5672/vhost"
            f"?exchange=exchange/user/bugzilla', or in the Airflow UI under Admin → Connections with type "
            "Pulse (AMQP), Bugzilla webhook, Elasticsearch (bugzilla-push) or Phabricator (its Test button "
            "checks it)"
        )
    connector = build_connector(info)
    if isinstance(connector, ReadsBugzilla):
        connector.use_bugzilla(BugzillaReader(lambda: BugzillaDbHook(bugzilla_db).get_conn()))
    return connector
