"""Which connector class serves which Airflow connection type.

Classes are imported only when used, so a deployment without pika or elasticsearch installed can
still deliver to a file.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from bugzilla_push.connectors.base import ConnectorConfigError

if TYPE_CHECKING:
    from bugzilla_push.connectors.base import ConnectionInfo, Connector

KINDS: dict[str, str] = {
    "fs": "bugzilla_push.connectors.file:FileConnector",
    "elasticsearch": "bugzilla_push.connectors.elasticsearch.connector:ElasticsearchConnector",
    "http": "bugzilla_push.connectors.webhook.connector:WebhookConnector",
    "amqp": "bugzilla_push.connectors.pulse.connector:PulseConnector",
    "amqps": "bugzilla_push.connectors.pulse.connector:PulseConnector",
}


def connector_class(conn_type: str) -> type[Connector]:
    try:
        module, _, cls = KINDS[conn_type].partition(":")
    except KeyError:
        raise ConnectorConfigError(
            f"no connector for connection type {conn_type!r}; use one of: {', '.join(sorted(KINDS))}"
        ) from None
    return getattr(import_module(module), cls)


def build_connector(info: ConnectionInfo) -> Connector:
    """Build the connector named by an Airflow connection (its id is the connector's name)."""
    return connector_class(info.conn_type).from_connection(info)
