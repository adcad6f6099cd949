"""What a bulk response says about each message: the Elasticsearch connector's failure classes (pure).

- 2xx, 409 ``version_conflict_engine_exception`` (a newer or the same version is there), a delete
  that found nothing: OK;
- 408, 429, 5xx: TRANSIENT, delivery stops at that message;
- 400 and other 4xx (a mapping or parse error): ERROR, that message alone is dead-lettered;
- 401/403, or a missing index the cluster will not create: connector-fatal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bugzilla_push.connectors.base import Outcome, redact
from bugzilla_push.model import Result

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.connectors.elasticsearch.documents import Action

# The detail of an OK item answered 409: that version, or a newer one, is there already.
ALREADY_APPLIED = "already applied"


def classify_item(action: Action, item: dict[str, Any]) -> Outcome:
    """Classify one item of a bulk response (`{"index": {...}}`) for the action that produced it."""
    result: dict[str, Any] = item.get(action.op) or next(iter(item.values()), {})
    status = int(result.get("status") or 0)
    error = result.get("error") or {}
    etype = error.get("type", "") if isinstance(error, dict) else str(error)
    reason = error.get("reason", "") if isinstance(error, dict) else ""
    where = f"{action.op} {action.index}/{action.doc_id} v{action.version}"
    if 200 <= status < 300:
        return Outcome.sent()
    if status == 409 and etype == "version_conflict_engine_exception":
        return Outcome.sent(ALREADY_APPLIED)
    if status == 404 and action.op == "delete" and result.get("result") == "not_found":
        return Outcome.sent()
    if status == 404 and etype == "index_not_found_exception":
        if action.op == "delete":
            return Outcome.sent()  # no index, so nothing to delete
        return Outcome.fatal(
            f"index {action.index!r} does not exist and the cluster does not create it "
            "(action.auto_create_index): create it, or set manage_indices to true",
        )
    if status in (401, 403):
        return Outcome.fatal(f"{where}: {status} {etype}: {reason}"[:500])
    if status in (408, 429) or status >= 500:
        return Outcome.transient(f"{where}: {status} {etype}: {reason}"[:500])
    if 400 <= status < 500:
        return Outcome.rejected(f"{where}: {status} {etype}: {reason}"[:1000])
    return Outcome.transient(f"{where}: unexpected item result {result!r}"[:500])


def _severity(outcome: Outcome) -> int:
    if outcome.connector_fatal:
        return 3
    return {Result.OK: 0, Result.ERROR: 1}.get(outcome.result, 2)


def combine(outcomes: Sequence[Outcome]) -> Outcome:
    """Return a message's outcome from those of its items: the worst one wins (fatal, transient, error)."""
    return max(outcomes, key=_severity, default=Outcome.sent())


def error_reason(exc: Any) -> str:
    """Return `type: reason` of an Elasticsearch error response, or the exception's message."""
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('type', '')}: {error.get('reason', '')}"[:500]
    return str(getattr(exc, "message", exc))[:500]


def request_failure(
    exc: Exception,
    doing: str,
    name: str,
    url: str,
    timeout: float,
    secret: str | None,
    fatal_4xx: bool = False,
) -> Outcome:
    """Turn a client exception about a whole request into a transient or fatal outcome (no secrets).

    :param fatal_4xx: whether another 4xx is fatal too (installing a template: a conflict with
        another template will not go away by itself); for a bulk request it is transient, since
        it says nothing about a single message
    """
    from elastic_transport import ConnectionError as LostConnection
    from elastic_transport import ConnectionTimeout
    from elasticsearch import ApiError

    who = f"connection {name!r} ({url})"
    if isinstance(exc, ConnectionTimeout):
        return Outcome.transient(f"{doing}: no answer from {url} within {timeout:g} s")
    if isinstance(exc, LostConnection):
        return Outcome.transient(redact(f"{doing}: cannot reach {url}: {exc}", secret))
    if isinstance(exc, ApiError):
        status = exc.meta.status
        reason = redact(error_reason(exc), secret)
        if status == 401:
            return Outcome.fatal(
                f"Elasticsearch refused the credentials of {who} (401 {reason}): check its login and "
                "password (a password without a login is sent as an API key)",
            )
        if status == 403:
            return Outcome.fatal(
                f"{doing}: the user of {who} lacks a privilege (403 {reason}); it needs write, read and "
                "maintenance on the indices, and manage_index_templates and create_index unless "
                "manage_indices is false",
            )
        if status in (408, 429) or status >= 500 or not fatal_4xx:
            return Outcome.transient(f"{doing}: {status} {reason}")
        return Outcome.fatal(f"{doing}: {status} {reason}")
    return Outcome.transient(redact(f"{doing}: {type(exc).__name__}: {exc}", secret))
