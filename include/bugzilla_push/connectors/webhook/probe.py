"""The webhook connection's check for Airflow's **Test** button: one ping to the receiver.

The ping is a POST, as deliveries are, to the same URL, with the same credentials, TLS settings
and timeout, so it meets what a delivery would meet; a HEAD or OPTIONS request is answered 405
by many receivers and often skips their authentication. It carries the header
`X-Bugzilla-Push-Test: ping`, no `X-Bugzilla-Push-Id`, and a body shaped like a delivery's
without a bug: `{"webhook_name", "webhook_id", "event": {"action": "ping", "target": "ping",
"routing_key": "ping", "time"}}`. A receiver should answer it with a 2xx and change nothing.
"""

from __future__ import annotations

import datetime
import json
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from bugzilla_push.connectors.webhook.connector import classify
from bugzilla_push.model import Result

if TYPE_CHECKING:
    from bugzilla_push.connectors.webhook.connector import WebhookConnector

TEST_HEADER = "X-Bugzilla-Push-Test"
EXCERPT_BYTES = 4096


def ping_body(connector: WebhookConnector) -> bytes:
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    event = {"action": "ping", "target": "ping", "routing_key": "ping", "time": now}
    return json.dumps(
        {"webhook_name": connector.webhook_name, "webhook_id": connector.options.webhook_id, "event": event}
    ).encode()


def probe(connector: WebhookConnector) -> tuple[bool, str]:
    """POST a ping; return whether the receiver took it with a 2xx, and what happened, in words."""
    # Host and port only: a webhook's path or query may itself be the secret (the connector redacts it).
    where = f"the receiver at {urlsplit(connector.url).netloc}"
    timeout = connector.options.timeout
    try:
        # The connector's own client: its headers, credentials, TLS settings and timeout.
        with connector._client().stream(
            "POST", connector.url, content=ping_body(connector), headers={TEST_HEADER: "ping"}
        ) as response:
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= EXCERPT_BYTES:
                    break
    except httpx.TimeoutException as exc:
        return (
            False,
            f"{where} did not answer within {timeout:g} s (the extra 'timeout'; {type(exc).__name__})",
        )
    except httpx.ConnectError as exc:
        return False, connector._redact(f"cannot connect to {where}: {_reason(exc)}")
    except httpx.HTTPError as exc:
        return False, connector._redact(f"the ping to {where} failed: {type(exc).__name__}: {_reason(exc)}")
    excerpt = " ".join(body[:EXCERPT_BYTES].decode("utf-8", "replace").split())[:200]
    answer = classify(response, excerpt)
    if answer.result is Result.OK:
        return (
            True,
            f"{where} answered HTTP {response.status_code} to a test ping (POST, {TEST_HEADER}: ping)",
        )
    return False, connector._redact(
        f"{where} answered the test ping (POST, {TEST_HEADER}: ping): {answer.detail}"
    )


def _reason(exc: httpx.HTTPError) -> str:
    """Return the innermost cause's text (`[Errno 111] Connection refused`, not httpx's wrapper)."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    return str(cause) or str(exc) or type(exc).__name__
