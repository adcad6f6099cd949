"""Webhooks: each message POSTed as JSON to a URL, with BMO's event and product filters."""

from __future__ import annotations

from bugzilla_push.connectors.webhook.connector import WebhookConnector

__all__ = ["WebhookConnector"]
