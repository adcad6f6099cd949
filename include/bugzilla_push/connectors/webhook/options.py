"""A webhook's settings: the options in its connection's extra, and its URL from the connection.

No I/O here; the connector (:mod:`bugzilla_push.connectors.webhook.connector`) uses both.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator

from bugzilla_push.connectors.base import ConnectionInfo, ConnectorConfigError, ConnectorOptions
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


def webhook_url(info: ConnectionInfo, endpoint: str = "") -> str:
    """Build the receiver's URL from a connection, as Airflow's HttpHook does, plus one URI-form rule.

    The host is either a whole URL (`https://hooks.example.org/bugzilla`) or a host name, with the
    schema as the scheme (`http` by default) and the port. In a URI connection
    (`http://host:8080/path`) Airflow puts the path into the schema field, so a schema that is not
    `http` or `https` is read as the path.
    """
    host = (info.host or "").strip()
    schema = (info.schema or "").strip()
    if not host:
        raise ConnectorConfigError(
            f"connection {info.conn_id!r} (type http) has no host: set the receiver's URL as its host, "
            f'for example AIRFLOW_CONN_{info.conn_id.upper()}=\'{{"conn_type": "http", '
            f'"host": "https://hooks.example.org/bugzilla"}}\''
        )
    if "://" in host:
        if schema.lower() not in ("", "http", "https"):
            raise ConnectorConfigError(
                f"connection {info.conn_id!r} has a whole URL as host and also the path {schema!r} as "
                "schema: put the whole URL in the host, or a path in the extra 'endpoint'"
            )
        url = host
    elif schema.lower() in ("http", "https"):
        url = f"{schema.lower()}://{host}"
    else:
        url = f"http://{host}/{schema.lstrip('/')}" if schema else f"http://{host}"
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConnectorConfigError(
            f"connection {info.conn_id!r} does not give an http(s) URL with a host name (scheme "
            f"{parts.scheme!r}): set its host to the receiver's URL, such as https://hooks.example.org/bugzilla"
        )
    if parts.username is not None or parts.password is not None:
        raise ConnectorConfigError(
            f"connection {info.conn_id!r} has credentials in its URL: put the API key in the connection's "
            "password (and the header's name in the extra 'api_key_header'), or user and password in login "
            "and password"
        )
    try:
        port = parts.port
    except ValueError:
        raise ConnectorConfigError(f"connection {info.conn_id!r} has an invalid port in its URL") from None
    netloc = parts.netloc
    if info.port:
        if port is not None and port != info.port:
            raise ConnectorConfigError(
                f"connection {info.conn_id!r} has port {port} in its URL and {info.port} in its port field"
            )
        if port is None:
            netloc = f"{netloc}:{info.port}"
    path = parts.path
    query = parts.query
    if endpoint:
        tail, _, extra_query = endpoint.partition("?")
        path = path.rstrip("/") + "/" + tail.lstrip("/")
        query = "&".join(q for q in (query, extra_query) if q)
    return urlunsplit((parts.scheme.lower(), netloc, path or "/", query, ""))
