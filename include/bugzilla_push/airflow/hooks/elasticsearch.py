"""The `bugzilla_elasticsearch` connection: a cluster's address, credentials and the indices' options."""

from __future__ import annotations

from bugzilla_push.airflow.hooks.connector import ConnectorHook
from bugzilla_push.connectors.elasticsearch.connector import ElasticsearchConnector
from bugzilla_push.connectors.elasticsearch.probe import probe


class ElasticsearchHook(ConnectorHook):
    """Builds the Elasticsearch connector; the UI's Test reaches the cluster and prepares the indices.

    Host, port, login and password are the cluster's (a password without a login is an API key),
    the schema is `http` or `https`; the extra holds
    :class:`~bugzilla_push.connectors.elasticsearch.connector.ElasticsearchOptions`. An
    `elasticsearch` connection (the elasticsearch provider's type) delivers the same way; its form
    and Test button are that provider's, which know nothing of these options.

    :param elasticsearch_conn_id: the connection id (default `elasticsearch`), also the connector's name
    """

    conn_name_attr = "elasticsearch_conn_id"
    default_conn_name = "elasticsearch"
    conn_type = "bugzilla_elasticsearch"
    hook_name = "Elasticsearch (bugzilla-push)"
    connector_class = ElasticsearchConnector
    probe = staticmethod(probe)
