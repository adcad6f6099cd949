"""The Elasticsearch connection's check for Airflow's **Test** button: what the first delivery needs.

It asks the cluster who it is (address, TLS, credentials), then, with `manage_indices` on, does
what the first delivery does before writing: installs the index templates (or finds them current)
and creates missing indices. Both are idempotent, and a refusal (403 without
manage_index_templates or create_index) is the answer a delivery would get. With
`manage_indices` off it only checks that the indices exist. No document is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bugzilla_push.connectors.elasticsearch.connector import ElasticsearchConnector


def probe(connector: ElasticsearchConnector) -> tuple[bool, str]:
    """Return whether delivery would get through to the indices, and what was found, in words."""
    from elasticsearch import ApiError, TransportError

    opts = connector.options
    indices = ", ".join(connector.names.all(opts.index_private))
    try:
        version = connector.client.info()["version"]["number"]
        where = f"Elasticsearch {version} at {connector.url}"
        if opts.manage_indices:
            failed = connector._prepare()  # the connector's own first step, as a delivery runs it
            if failed is not None:
                return False, failed.detail or "the index templates or indices could not be set up"
            return (
                True,
                f"{where}: index templates {opts.template_name}-* are current; indices {indices} exist",
            )
        missing = [
            i for i in connector.names.all(opts.index_private) if not connector.client.indices.exists(index=i)
        ]
    except (ApiError, TransportError) as exc:
        return False, connector._failure(exc, "reaching the cluster", fatal_4xx=True).detail or str(exc)
    if missing:
        return False, (
            f"{where}: index {', '.join(missing)} does not exist and manage_indices is false: create it, or "
            "set manage_indices to true"
        )
    return True, f"{where}: indices {indices} exist (manage_indices is false: templates are not checked)"
