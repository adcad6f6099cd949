"""Which connector class serves which Airflow connection type.

Classes are imported only when used, so a deployment without pika or elasticsearch installed can
still deliver to a file.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from bugzilla_push.connectors.base import Connector, ConnectorConfigError

if TYPE_CHECKING:
    from bugzilla_push.connectors.base import ConnectionInfo

KINDS: dict[str, str] = {
    "fs": "bugzilla_push.connectors.file:FileConnector",
    "elasticsearch": "bugzilla_push.connectors.elasticsearch.connector:ElasticsearchConnector",
    "http": "bugzilla_push.connectors.webhook.connector:WebhookConnector",
    "amqp": "bugzilla_push.connectors.pulse.connector:PulseConnector",
    "amqps": "bugzilla_push.connectors.pulse.connector:PulseConnector",
    "phabricator": "bugzilla_push.connectors.phabricator.connector:PhabricatorConnector",
    # This package's own types in Airflow's UI for destinations whose usual types belong to other
    # providers (elasticsearch, http): they bring the forms and Test buttons; the usual types work too.
    "bugzilla_elasticsearch": "bugzilla_push.connectors.elasticsearch.connector:ElasticsearchConnector",
    "webhook": "bugzilla_push.connectors.webhook.connector:WebhookConnector",
}
# Connectors reached through another one's connection type: the connection's id, or the extra's
# "connector", picks them (an `http` connection is a webhook unless it is `phabricator`).
SHARED_TYPES: dict[str, str] = {"phabricator": "http"}


def connector_class(conn_type: str) -> type[Connector]:
    try:
        module, _, cls = KINDS[conn_type].partition(":")
    except KeyError:
        raise ConnectorConfigError(
            f"no connector for connection type {conn_type!r}; use one of: {', '.join(sorted(KINDS))}"
        ) from None
    found = getattr(import_module(module), cls)
    if not (isinstance(found, type) and issubclass(found, Connector)):
        raise TypeError(f"{KINDS[conn_type]} is not a Connector class")
    return found


def connector_kind(info: ConnectionInfo) -> str:
    """Return the `KINDS` key that serves a connection: its extra's "connector", its id, or its type."""
    named = (info.extra or {}).get("connector")
    if named is not None:
        if not isinstance(named, str) or SHARED_TYPES.get(named) != info.conn_type:
            choices = [k for k, t in SHARED_TYPES.items() if t == info.conn_type]
            raise ConnectorConfigError(
                f"connection {info.conn_id!r}: the extra 'connector' is {named!r}, but a connection of type "
                f"{info.conn_type!r} can only name {', '.join(map(repr, choices)) or 'none'} there"
            )
        return named
    if SHARED_TYPES.get(info.conn_id) == info.conn_type:
        return info.conn_id
    return info.conn_type


def build_connector(info: ConnectionInfo) -> Connector:
    """Build the connector named by an Airflow connection (its id is the connector's name)."""
    return connector_class(connector_kind(info)).from_connection(info)
