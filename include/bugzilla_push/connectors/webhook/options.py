"""A webhook's settings: the options in its connection's extra.

No I/O here; the connector (:mod:`bugzilla_push.connectors.webhook.connector`) uses them, and
builds its URL with :func:`bugzilla_push.connectors.http_url.http_url`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from bugzilla_push.connectors.base import ConnectorOptions
from bugzilla_push.connectors.webhook.payload import ANY, EVENT_KINDS, EventKind

PUSH_ID_HEADER = "X-Bugzilla-Push-Id"  # the same on every retry: receivers drop duplicates by it
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)
_RESERVED_HEADERS = {"accept", "content-type", "content-length", "host", "user-agent", PUSH_ID_HEADER.lower()}


class WebhookOptions(ConnectorOptions):
    """Options in a webhook connection's extra (in a URI connection, its query parameters)."""

    # "": a path (and query) put after the connection's URL, like HttpHook's endpoint.
    endpoint: str = ""
    # Any: one product's name, or Any (BMO's webhook setting).
    product: str = ANY
    # Any: one component's name, or Any; with product Any it matches that component in every product.
    component: str = ANY
    # All five: which of BMO's event kinds to send; in a URI, a comma-separated list.
    events: tuple[EventKind, ...] = EVENT_KINDS
    # None: the header that carries the API key; the key itself is the connection's password, never here.
    api_key_header: str | None = None
    # 30 s (BMO's) per connect, read or write: shorter frees the task sooner, makes slow receivers retries.
    timeout: float = Field(30.0, gt=0, le=300)
    # 10: the engine pauses the webhook after this many failed deliveries in a row (0 never); lower
    # spares a dead receiver sooner, higher rides out longer outages without an operator.
    pause_after_failures: int = Field(10, ge=0)
    # False: send private comments and attachments too, reduced to ids (what BMO's insiders get).
    include_private_comments: bool = False
    # True: messages about private bugs are sent reduced to ids (BMO); False sends nothing about them.
    include_private_bugs: bool = True
    # True: check the receiver's TLS certificate; off lets anyone on the path read and change messages.
    verify: bool = True
    # None: a PEM file of CA certificates, for a receiver with a private CA (better than verify off).
    ca_bundle: str | None = None
    # None: `webhook_name` in every payload; by default the connection id without "webhook_".
    webhook_name: str | None = None
    # None: `webhook_id` in every payload; set it to the webhook's id in BMO for receivers that check it.
    webhook_id: int | None = None

    @field_validator("events", mode="before")
    @classmethod
    def _split_events(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list | tuple):
            value = tuple(dict.fromkeys(value))
            if not value:
                raise ValueError(f"name at least one event kind of: {', '.join(EVENT_KINDS)}")
        return value

    @field_validator("api_key_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not _TOKEN.match(value):
            raise ValueError(f"{value!r} is not an HTTP header name")
        if value.lower() in _RESERVED_HEADERS:
            raise ValueError(f"{value!r} is a header the connector sets itself")
        return value
