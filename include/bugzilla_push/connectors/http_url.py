"""The receiver's URL of an Airflow `http` connection: webhooks and Phabricator's Conduit use it."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from bugzilla_push.connectors.base import ConnectorConfigError

if TYPE_CHECKING:
    from bugzilla_push.connectors.base import ConnectionInfo


def http_url(info: ConnectionInfo, endpoint: str = "") -> str:
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
