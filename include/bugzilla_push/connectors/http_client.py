"""An httpx client made on first use: the HTTP connectors (webhooks, Phabricator's Conduit) hold one."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx


class LazyHttpClient:
    """Makes its client when first asked, so nothing opens before the first message is sent.

    `close()` releases the connection pool; the next `get()` makes a new client.

    :param make: builds the client (headers, credentials, TLS, timeout)
    """

    def __init__(self, make: Callable[[], httpx.Client]) -> None:
        self._make = make
        self._client: httpx.Client | None = None

    def get(self) -> httpx.Client:
        """Return the client, made now if there is none."""
        if self._client is None:
            self._client = self._make()
        return self._client

    def close(self) -> None:
        """Close the client, if one was made."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
