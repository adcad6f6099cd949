"""The Pulse connections, `amqp` and `amqps` (TLS): RabbitMQ's address, user, virtual host and options."""

from __future__ import annotations

from bugzilla_push.airflow.hooks.connector import ConnectorHook
from bugzilla_push.connectors.pulse.connector import PulseConnector
from bugzilla_push.connectors.pulse.probe import probe


class PulseHook(ConnectorHook):
    """Builds the Pulse connector from an `amqp` connection; the UI's Test logs in and checks the exchange.

    Host, port, login and password are RabbitMQ's; the schema is the virtual host; the extra holds
    :class:`~bugzilla_push.connectors.pulse.connector.PulseOptions`.

    :param pulse_conn_id: the connection id (default `pulse`), which is also the connector's name
    """

    conn_name_attr = "pulse_conn_id"
    default_conn_name = "pulse"
    conn_type = "amqp"
    hook_name = "Pulse (AMQP)"
    connector_class = PulseConnector
    probe = staticmethod(probe)


class PulseTlsHook(PulseHook):
    """The same for an `amqps` connection: TLS, port 5671 by default.

    :param pulse_conn_id: the connection id (default `pulse`), which is also the connector's name
    """

    conn_type = "amqps"
    hook_name = "Pulse (AMQP over TLS)"
