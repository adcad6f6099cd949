"""Elasticsearch: bug, comment and attachment documents, bulk-indexed with external versions."""

from __future__ import annotations

from bugzilla_push.connectors.elasticsearch.connector import ElasticsearchConnector

__all__ = ["ElasticsearchConnector"]
