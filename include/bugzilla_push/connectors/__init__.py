"""Connectors: one module per kind of destination, selected by the Airflow connection's type."""

from __future__ import annotations

from bugzilla_push.connectors.base import (
    ConnectionInfo,
    Connector,
    ConnectorConfigError,
    ConnectorFatal,
    ConnectorOptions,
    Outcome,
    raise_if_fatal,
)
from bugzilla_push.connectors.registry import build_connector, connector_class

__all__ = [
    "ConnectionInfo",
    "Connector",
    "ConnectorConfigError",
    "ConnectorFatal",
    "ConnectorOptions",
    "Outcome",
    "build_connector",
    "connector_class",
    "raise_if_fatal",
]
