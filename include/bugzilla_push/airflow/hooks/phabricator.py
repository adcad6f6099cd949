"""The `phabricator` connection: Phabricator's URL, a Conduit API token and the sync's options."""

from __future__ import annotations

from bugzilla_push.airflow.hooks.connector import ConnectorHook
from bugzilla_push.connectors.phabricator.connector import PhabricatorConnector
from bugzilla_push.connectors.phabricator.probe import probe


class PhabricatorHook(ConnectorHook):
    """Builds the Phabricator connector; the UI's Test calls `user.whoami` with the token.

    The host is Phabricator's URL and the password the Conduit API token (`api-…`); the extra holds
    :class:`~bugzilla_push.connectors.phabricator.options.PhabricatorOptions`. An `http` connection
    with id `phabricator` (or the extra `"connector": "phabricator"`) delivers the same way.

    :param phabricator_conn_id: the connection id (default `phabricator`), also the connector's name
    """

    conn_name_attr = "phabricator_conn_id"
    default_conn_name = "phabricator"
    conn_type = "phabricator"
    hook_name = "Phabricator"
    connector_class = PhabricatorConnector
    probe = staticmethod(probe)
