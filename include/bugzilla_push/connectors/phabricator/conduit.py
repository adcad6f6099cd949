"""A small Conduit client: Phabricator's API, called as BMO's PhabBugz calls it (`Util.pm` `request`).

Each call is `POST <phabricator>/api/<method>` with one form field, `params`, holding the JSON
parameters and the token under `__conduit__`; the answer is `{"result", "error_code", "error_info"}`.
Failures come out as three exceptions, one per thing the caller can do about them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx

from bugzilla_push import __version__
from bugzilla_push.connectors.base import redact
from bugzilla_push.connectors.http_client import LazyHttpClient
from bugzilla_push.errors import BugzillaPushError

if TYPE_CHECKING:
    import ssl

EXCERPT_CHARS = 200
# Codes that say the token itself is refused, or the method is missing on this Phabricator (no
# BMO extension): every call would meet them.
_REFUSED_CODES = frozenset({"ERR-INVALID-AUTH", "ERR-INVALID-SESSION", "ERR-CONDUIT-CALL"})
_RETRY_STATUS = frozenset({408, 425, 429})


class ConduitError(BugzillaPushError):
    """A Conduit call failed; `str()` says why, without the token."""


class ConduitUnavailable(ConduitError):
    """No usable answer (network, timeout, 5xx, 429, not JSON): the same call may work later."""


class ConduitRefused(ConduitError):
    """Phabricator refuses the token or lacks the method: nothing will work until an operator acts."""


class ConduitFailed(ConduitError):
    """Phabricator answered this call with an error (`error_code`), such as an object it cannot edit.

    :param code: the `error_code`, such as `ERR-CONDUIT-CORE`
    """

    def __init__(self, method: str, code: str, info: str) -> None:
        super().__init__(f"{method}: {code}: {info}")
        self.code = code


class ConduitClient:
    """Calls Conduit methods on one Phabricator with one API token, over one HTTP client.

    :param url: Phabricator's base URL (`https://phabricator.services.mozilla.com`)
    :param token: the Conduit API token (`api-…`); never logged
    :param timeout: seconds per connect, read or write
    :param verify: check the server's certificate (or an SSL context with a private CA)
    :param transport: an httpx transport instead of the network (tests)
    """

    def __init__(
        self,
        url: str,
        token: str,
        timeout: float = 60.0,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._verify = verify
        self._transport = transport
        self._http = LazyHttpClient(self._new_client)

    def call(self, method: str, params: dict[str, Any]) -> Any:
        """Call `method` and return its `result`; raise one of the :class:`ConduitError` kinds."""
        body = {"params": json.dumps({**params, "__conduit__": {"token": self._token}})}
        try:
            response = self._client().post(f"{self.url}/api/{method}", data=body)
        except httpx.TimeoutException as exc:
            raise ConduitUnavailable(
                f"{method}: no answer within {self._timeout:g} s ({type(exc).__name__})"
            ) from None
        except httpx.HTTPError as exc:
            raise ConduitUnavailable(self._clean(f"{method}: {type(exc).__name__}: {exc}")) from None
        status = response.status_code
        if status in (401, 403):
            raise ConduitRefused(self._clean(f"{method}: HTTP {status}: {_excerpt(response.text)}"))
        if 300 <= status < 400:
            where = _excerpt(response.headers.get("location", ""))
            raise ConduitRefused(
                f"{method}: HTTP {status} redirect to {where or 'nowhere'}: set the connection's host to "
                "Phabricator's final address (redirects are not followed: the token stays where it was sent)"
            )
        if status >= 500 or status in _RETRY_STATUS:
            raise ConduitUnavailable(self._clean(f"{method}: HTTP {status}: {_excerpt(response.text)}"))
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if status != 200 or not isinstance(answer, dict):
            raise ConduitUnavailable(
                self._clean(f"{method}: not a Conduit answer (HTTP {status}): {_excerpt(response.text)}")
            )
        code = answer.get("error_code")
        if code:
            info = self._clean(str(answer.get("error_info") or ""))
            if code in _REFUSED_CODES:
                raise ConduitRefused(f"{method}: {code}: {info}")
            raise ConduitFailed(method, str(code), info)
        return answer.get("result")

    def search(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Call a `*.search` method and return every page's `data` (following `cursor.after`)."""
        items: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            result = self.call(method, {**params, "after": after} if after else params) or {}
            items.extend(result.get("data") or ())
            after = (result.get("cursor") or {}).get("after")
            if not after:
                return items

    def close(self) -> None:
        self._http.close()

    def _client(self) -> httpx.Client:
        return self._http.get()

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            headers={"User-Agent": f"bugzilla-push/{__version__}", "Accept": "application/json"},
            timeout=self._timeout,
            verify=self._verify,
            follow_redirects=False,  # the token is in the body: it must not follow a redirect elsewhere
            transport=self._transport,
        )

    def _clean(self, text: str) -> str:
        return redact(text, self._token)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
