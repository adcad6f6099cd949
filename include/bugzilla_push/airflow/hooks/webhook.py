"""The `webhook` connection: a receiver's URL, its credentials and the webhook's options."""

from __future__ import annotations

from bugzilla_push.airflow.hooks.connector import ConnectorHook
from bugzilla_push.connectors.webhook.connector import WebhookConnector
from bugzilla_push.connectors.webhook.probe import probe


class WebhookHook(ConnectorHook):
    """Builds a webhook connector; the UI's Test sends the receiver a ping (see its probe module).

    The host is the receiver's URL, the password its API key (with the extra `api_key_header`) or,
    with a login, a basic-authentication password; the extra holds
    :class:`~bugzilla_push.connectors.webhook.options.WebhookOptions`. An `http` connection with the
    same fields delivers the same way; this type has the form and the Test button.

    :param webhook_conn_id: the connection id (`webhook_<name>`), which is also the connector's name
    """

    conn_name_attr = "webhook_conn_id"
    default_conn_name = "webhook_default"
    conn_type = "webhook"
    hook_name = "Bugzilla webhook"
    connector_class = WebhookConnector
    probe = staticmethod(probe)
