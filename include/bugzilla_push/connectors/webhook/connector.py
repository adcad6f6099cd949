"""The webhook connector: POSTs each message as JSON to a receiver, as bugzilla.mozilla.org's webhooks do.

One connector per webhook: an Airflow connection of type `http` named `webhook_<name>`. Its URL
is built as Airflow's HttpHook builds one (host with or without a scheme, schema, port), the API
key is the connection's password, and the options are in its extra (see
:mod:`bugzilla_push.connectors.webhook.options`). What is sent, and to which webhook, is in
:mod:`bugzilla_push.connectors.webhook.payload`.

Failure classes: 2xx is delivered; a timeout, a lost connection, 408, 425, 429 and 5xx are
transient (the engine's backoff decides when to retry; Retry-After is only reported); 401, 403,
407, 410 and any redirect are connector-fatal (every message would meet the same answer); any
other 4xx dead-letters that message. After `pause_after_failures` consecutive failed deliveries
(10 by default for a webhook) the engine pauses the webhook.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import httpx
import msgspec

from bugzilla_push import __version__
from bugzilla_push.connectors.base import Connector, ConnectorConfigError, Outcome, redact
from bugzilla_push.connectors.http_client import LazyHttpClient
from bugzilla_push.connectors.http_url import http_url
from bugzilla_push.connectors.tls import client_context
from bugzilla_push.connectors.webhook.options import PUSH_ID_HEADER, WebhookOptions
from bugzilla_push.connectors.webhook.payload import WebhookFilter, webhook_payload
from bugzilla_push.model import Result

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.connectors.base import ConnectionInfo
    from bugzilla_push.model import PushMessage

EXCERPT_CHARS = 200  # of a rejecting receiver's body, in push_log and dead-letter reasons
READ_LIMIT = 64 * 1024  # bytes of a response body read (a longer body is cut and its connection dropped)
_TRANSIENT_4XX = {408, 425, 429}  # request timeout, too early, too many requests
_CREDENTIALS_REJECTED = {401, 403, 407}
_encode = msgspec.json.Encoder().encode


class WebhookConnector(Connector):
    """POSTs each message to one receiver, in push-id order, one request per message.

    :param url: the receiver's URL
    :param options: filters, timeout, TLS and pause settings
    :param api_key: sent in the `api_key_header` header (never logged or stored)
    :param basic_auth: `(login, password)` for HTTP basic authentication instead of an API key
    :param transport: an httpx transport to use instead of the network (tests)
    """

    kind = "http"
    title = "webhook"
    Options = WebhookOptions

    def __init__(
        self,
        name: str,
        url: str,
        options: WebhookOptions | None = None,
        api_key: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(name)
        self.url = url
        self.options = options = options or WebhookOptions()
        if (api_key is None) != (options.api_key_header is None):
            raise ConnectorConfigError(
                f"connection {name!r}: an API key needs both the extra 'api_key_header' (the header's name) "
                "and the connection's password (the key)"
            )
        if api_key is not None and not api_key.isprintable():
            raise ConnectorConfigError(f"connection {name!r}: the API key (password) cannot go in a header")
        self.filter = WebhookFilter(
            options.product,
            options.component,
            frozenset(options.events),
            options.include_private_comments,
            options.include_private_bugs,
        )
        self.webhook_name = options.webhook_name or name.removeprefix("webhook_")
        self._api_key = api_key
        self._auth = basic_auth
        self._transport = transport
        self._http = LazyHttpClient(self._new_client)
        self._verify: ssl.SSLContext | bool = False
        if options.verify:
            try:
                self._verify = client_context(options.ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                raise ConnectorConfigError(
                    f"connection {name!r}: cannot read the CA bundle {options.ca_bundle!r}: {exc}"
                ) from None
        split = urlsplit(url)
        self._secrets = tuple(
            s for s in (api_key, basic_auth[1] if basic_auth else None, url, split.query) if s
        )

    @classmethod
    def from_options(cls, info: ConnectionInfo, options: WebhookOptions) -> Self:
        url = http_url(info, options.endpoint)
        if options.api_key_header:
            if not info.password:
                raise ConnectorConfigError(
                    f"connection {info.conn_id!r} names the API key header {options.api_key_header!r} "
                    "but has no password: set the API key as the connection's password"
                )
            if info.login:
                raise ConnectorConfigError(
                    f"connection {info.conn_id!r} has a login and an API key header: the password is the API "
                    "key, so leave the login empty (or drop api_key_header for basic authentication)"
                )
            return cls(info.conn_id, url, options, api_key=info.password)
        if info.login:
            return cls(info.conn_id, url, options, basic_auth=(info.login, info.password or ""))
        if info.password:
            raise ConnectorConfigError(
                f"connection {info.conn_id!r} has a password but neither a login nor the extra "
                "'api_key_header': name the header that carries the API key"
            )
        return cls(info.conn_id, url, options)

    # -- the contract ------------------------------------------------------------------------

    def should_send(self, message: PushMessage) -> bool:
        return self.filter.wants_kind(message.routing_key) and self.filter.accepts(
            message.routing_key, message.body
        )

    def send(self, batch: Sequence[PushMessage]) -> list[Outcome]:
        """POST the messages one by one; stop after the first transient or connector-fatal answer.

        A connector-fatal answer (credentials rejected, gone, redirected) ends the list, after the
        outcomes of the messages delivered before it in the call.
        """
        outcomes: list[Outcome] = []
        for message in batch:
            answer = self._post(message)
            outcomes.append(answer)
            if answer.result is Result.TRANSIENT:  # or connector-fatal
                break
        return outcomes

    def close(self) -> None:
        self._http.close()

    # -- HTTP --------------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        return self._http.get()

    def _new_client(self) -> httpx.Client:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"bugzilla-push/{__version__}",
        }
        if self.options.api_key_header and self._api_key:
            headers[self.options.api_key_header] = self._api_key
        return httpx.Client(
            headers=headers,
            auth=self._auth,
            timeout=self.options.timeout,
            verify=self._verify,
            follow_redirects=False,  # a redirect could carry the API key to another host
            transport=self._transport,
        )

    def _post(self, message: PushMessage) -> Outcome:
        """Send one message; return its outcome (connector-fatal if nothing will get through)."""
        body = _encode(self._payload(message))
        try:
            with self._client().stream(
                "POST", self.url, content=body, headers={PUSH_ID_HEADER: str(message.id)}
            ) as response:
                excerpt = _read_some(response)
        except httpx.TimeoutException as exc:
            return Outcome.transient(
                f"no answer within {self.options.timeout:g} s ({type(exc).__name__}); it is sent again "
                f"with the same {PUSH_ID_HEADER}",
            )
        except httpx.HTTPError as exc:
            return Outcome.transient(self._redact(f"{type(exc).__name__}: {exc}"))
        answer = classify(response, excerpt)
        return answer._replace(detail=self._redact(answer.detail)) if answer.detail else answer

    def _payload(self, message: PushMessage) -> dict[str, Any]:
        """Return the JSON body for a message: BMO's webhook payload."""
        return webhook_payload(message.body, self.webhook_name, self.options.webhook_id)

    def _redact(self, text: str) -> str:
        return redact(text, *self._secrets)


def classify(response: httpx.Response, excerpt: str) -> Outcome:
    """Map a receiver's answer to an outcome; a connector-fatal one means every message would fail."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome.sent()
    text = f"HTTP {status} {response.reason_phrase}".rstrip() + (f": {excerpt}" if excerpt else "")
    if status in _CREDENTIALS_REJECTED:
        return Outcome.fatal(
            f"the receiver rejects our credentials ({text}): check the API key (the connection's password) "
            "and the extra 'api_key_header'",
        )
    if status == 410:
        return Outcome.fatal(f"the endpoint says it is gone ({text}): remove or fix the webhook")
    if 300 <= status < 400:
        where = _clip(response.headers.get("location", ""), 120)
        return Outcome.fatal(
            f"the receiver redirects ({text}; Location: {where or 'none'}): set the webhook's URL to the "
            "final address (redirects are not followed, so the API key stays with the configured host)",
        )
    if status in _TRANSIENT_4XX or status >= 500 or status < 200:
        retry_after = response.headers.get("retry-after")
        if retry_after:
            text += f" (Retry-After: {_clip(retry_after, 40)}; the backoff decides when to retry)"
        return Outcome.transient(text)
    return Outcome.rejected(f"the receiver rejected this message: {text}")


def _read_some(response: httpx.Response) -> str:
    """Read up to READ_LIMIT bytes of the body (so the connection can be reused) as a short excerpt."""
    data = bytearray()
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= READ_LIMIT:
                break
    except httpx.HTTPError:
        pass  # the status line decides; a broken body only shortens the excerpt
    if 200 <= response.status_code < 300:
        return ""
    return _clip(" ".join(bytes(data).decode("utf-8", "replace").split()), EXCERPT_CHARS)


def _clip(text: str, limit: int) -> str:
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
