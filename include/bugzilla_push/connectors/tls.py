"""TLS client contexts for the HTTP connectors, made once per process and shared.

Loading CA certificates costs about 30 ms of CPU a context: once per webhook, that was most of
what hundreds of Bugzilla webhooks cost a run. A context is only read when connections are made
(httpx sets the same ALPN protocols on it each time), so every client can share one.
"""

from __future__ import annotations

import ssl
from functools import lru_cache

import httpx


def client_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """Return the context that checks servers against `ca_bundle`, or against httpx's default CAs.

    Raises `OSError` or `ssl.SSLError` when the bundle cannot be read (not cached: the next call
    tries again).
    """
    return _context(ca_bundle or None)


@lru_cache(maxsize=16)
def _context(ca_bundle: str | None) -> ssl.SSLContext:
    if ca_bundle is None:
        return httpx.create_ssl_context()  # certifi's CAs, or SSL_CERT_FILE / SSL_CERT_DIR if set
    return ssl.create_default_context(cafile=ca_bundle)
