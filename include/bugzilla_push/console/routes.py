"""The console's endpoints: the page, reads through `Operations`, and audited actions.

Routes stay thin: they check access (`security`), open the push tables for the request, call
`Operations`, and answer with a model (`models`). Reads answer GET; actions are POSTs.
"""

from __future__ import annotations

import importlib
import json
import logging
import sqlite3
from contextlib import suppress
from datetime import datetime  # noqa: TC003 - FastAPI reads the annotations at run time
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

from airflow.api_fastapi.core_api.security import GetUserDep  # noqa: TC002 - FastAPI reads it at run time
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import Response

from bugzilla_push.airflow.connectors import enabled_connectors
from bugzilla_push.airflow.hooks.bugzilla_db import BugzillaDbHook, BugzillaDbNotConfigured
from bugzilla_push.clock import naive_utc, utcnow
from bugzilla_push.connectors.base import redact
from bugzilla_push.console import models
from bugzilla_push.console.security import can_act, can_read, can_read_payloads, same_origin
from bugzilla_push.model import CONNECTOR_NAME_PATTERN
from bugzilla_push.store.known import UnknownConnector
from bugzilla_push.store.operations import NotFound, Operations
from bugzilla_push.store.replays import Replays

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

STATIC = {"console.js": "text/javascript", "charts.js": "text/javascript", "console.css": "text/css"}

Reader = [Depends(can_read)]
Actor = [Depends(can_act), Depends(same_origin)]  # in this order: 401/403 before any other check
router = APIRouter()


# -- the store, per request -----------------------------------------------------------------------


def _database_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.Error]
    for driver in ("psycopg", "pymysql"):
        with suppress(ImportError):
            errors.append(importlib.import_module(driver).Error)
    return tuple(errors)


def operations() -> Iterator[Operations]:
    """Open the push tables (connection `bugzilla_db`) for one request; say clearly what is wrong."""
    try:
        store = BugzillaDbHook().get_conn()
    except BugzillaDbNotConfigured as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    except _database_errors() as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"cannot connect to Bugzilla's database (connection bugzilla_db): {_first_line(exc)}",
        ) from None
    try:
        yield Operations(store, utcnow, _enabled()[0])
    except (NotFound, UnknownConnector) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except _database_errors() as exc:
        log.warning("push console: database error: %s", exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"could not read the push tables: {_first_line(exc)} (if they are missing, run "
            "`bugzilla-push schema`)",
        ) from None
    finally:
        store.close()


def _first_line(exc: BaseException) -> str:
    return redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)[:300]


Ops = Annotated[Operations, Depends(operations)]
ConnectorName = Annotated[
    str, Path(pattern=CONNECTOR_NAME_PATTERN, description="the connector's connection id")
]


def _enabled() -> tuple[list[str], str | None]:
    """Read the Variable `bugzilla_push_connectors` (in the API server: environment, then the database)."""
    try:
        return enabled_connectors(), None
    except Exception as exc:  # noqa: BLE001 - shown on the page instead of failing it
        return [], f"Variable bugzilla_push_connectors: {_first_line(exc)}"


# -- the page -------------------------------------------------------------------------------------


@router.get("/", include_in_schema=False, dependencies=Reader)
def page() -> Response:
    """Serve the console page (HTML; its script and style come from /static)."""
    return _asset("index.html", "text/html; charset=utf-8")


@router.get("/static/{name}", include_in_schema=False, dependencies=Reader)
def static(name: str) -> Response:
    """Serve the page's scripts and style sheet (nothing else is served from the package)."""
    if name not in STATIC:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no such file: {name[:64]}")
    return _asset(name, f"{STATIC[name]}; charset=utf-8")


def _asset(name: str, media_type: str) -> Response:
    body = (resources.files("bugzilla_push.console") / "static" / name).read_bytes()
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})


# -- reads ----------------------------------------------------------------------------------------


@router.get("/api/me", dependencies=Reader)
def me(request: Request, user: GetUserDep) -> models.Me:
    """Say who is signed in, and whether the page should offer actions and payloads."""

    def allowed(check: Callable[[Request, Any], None]) -> bool:
        try:
            check(request, user)
        except HTTPException:
            return False
        return True

    return models.Me(
        user=user.get_name(), can_act=allowed(can_act), can_read_payloads=allowed(can_read_payloads)
    )


@router.get("/api/overview", dependencies=Reader)
def overview(ops: Ops) -> models.Overview:
    """Show the pending queue, and each connector: state, backlog, backoff, errors, last success."""
    enabled, error = _enabled()
    data = ops.overview(enabled)
    return models.Overview.model_validate(
        {
            **data,
            "enabled": enabled,
            "config_error": error,
            "connectors": [{**c, "enabled": c["connector"] in enabled} for c in data["connectors"]],
        }
    )


@router.get("/api/history", dependencies=Reader)
def history(
    ops: Ops,
    hours: Annotated[int, Query(ge=1, le=168)] = 24,
    bucket_minutes: Annotated[int, Query(ge=1, le=1440)] = 10,
) -> models.History:
    """Count delivered messages and backlog depth per time bucket and connector (the charts)."""
    if hours * 60 // bucket_minutes > 2000:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "at most 2,000 buckets: use larger buckets"
        )
    return models.History.model_validate({**ops.history(hours, bucket_minutes), "hours": hours})


@router.get("/api/pending", dependencies=Reader)
def pending(
    ops: Ops,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    after_id: Annotated[int | None, Query(ge=0)] = None,
) -> models.QueuePage:
    """List the messages not yet handed to the connectors, oldest first."""
    page = ops.pending(limit, after_id)
    return _queue_page(None, page.rows, page.has_more)


@router.get("/api/connectors/{name}/backlog", dependencies=Reader)
def backlog(
    ops: Ops,
    name: ConnectorName,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    after_id: Annotated[int | None, Query(ge=0)] = None,
) -> models.QueuePage:
    """List a connector's backlog in the order it will be sent."""
    page = ops.backlog(name, limit, after_id)
    return _queue_page(name, page.rows, page.has_more)


def _queue_page(connector: str | None, rows: list[dict[str, Any]], has_more: bool) -> models.QueuePage:
    return models.QueuePage(
        connector=connector,
        rows=[models.QueuedMessage.model_validate(r) for r in rows],
        next_after_id=rows[-1]["message_id"] if has_more and rows else None,
    )


@router.get("/api/dead-letters", dependencies=Reader)
def dead_letters(
    ops: Ops,
    connector: Annotated[str | None, Query(pattern=CONNECTOR_NAME_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> models.DeadLetterPage:
    """List the messages the connectors gave up on, newest first, with the reason."""
    page = ops.dead_letters(connector, limit, offset)
    return models.DeadLetterPage(
        rows=[models.DeadLetter.model_validate(r) for r in page.rows], offset=offset, has_more=page.has_more
    )


@router.get("/api/log", dependencies=Reader)
def delivery_log(
    ops: Ops,
    connector: Annotated[str | None, Query(pattern=CONNECTOR_NAME_PATTERN)] = None,
    result: Annotated[int | None, Query(ge=1, le=6, description="1 OK … 6 BLOCKED")] = None,
    routing_key: Annotated[str | None, Query(max_length=64, description="prefix, e.g. bug.modify")] = None,
    since: Annotated[
        datetime | None, Query(description="processed at or after (ISO 8601; UTC if no zone)")
    ] = None,
    until: Annotated[datetime | None, Query(description="processed before")] = None,
    bug_id: Annotated[int | None, Query(ge=1)] = None,
    before_id: Annotated[int | None, Query(ge=1, description="the last row's id: the next page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> models.LogPage:
    """List delivery attempts (`push_log`), newest first, filtered, a page at a time."""
    page = ops.log(
        connector=connector,
        result=result,
        routing_key=routing_key or None,
        since=naive_utc(since),
        until=naive_utc(until),
        bug_id=bug_id,
        before_id=before_id,
        limit=limit,
    )
    rows = [models.LogRow.model_validate(r) for r in page.rows]
    return models.LogPage(rows=rows, next_before_id=rows[-1].id if page.has_more and rows else None)


@router.get("/api/messages/{message_id}", dependencies=[Depends(can_read_payloads)])
def message(ops: Ops, message_id: Annotated[int, Path(ge=1)]) -> models.Message:
    """Show one message wherever it is stored: the payload, its places and its delivery log."""
    data = ops.message(message_id)
    try:
        pretty, is_json = json.dumps(json.loads(data["payload"]), indent=2, ensure_ascii=False), True
    except ValueError:
        pretty, is_json = data["payload"], False
    return models.Message.model_validate({**data, "payload_pretty": pretty, "payload_is_json": is_json})


@router.get("/api/audit", dependencies=Reader)
def audit(
    ops: Ops,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> models.AuditPage:
    """List operator actions (console, command line and replays), newest first."""
    page = ops.audit_log(limit, offset)
    return models.AuditPage(
        rows=[models.AuditRow.model_validate(r) for r in page.rows], offset=offset, has_more=page.has_more
    )


@router.get("/api/replays", dependencies=Reader)
def replays(ops: Ops, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> models.Replays:
    """List the latest replays and how far each connector got."""
    return models.Replays(rows=[models.Replay.model_validate(r) for r in Replays(ops.store).recent(limit)])


# -- actions --------------------------------------------------------------------------------------


@router.post("/api/connectors/{name}/pause", dependencies=Actor)
def pause(ops: Ops, user: GetUserDep, name: ConnectorName, body: models.PauseRequest) -> models.ActionResult:
    """Pause a connector: its messages wait in its backlog until it is resumed."""
    ops.pause(name, user.get_name(), body.reason)
    return models.ActionResult(message=f"{name} is paused: {body.reason}", connector=name)


@router.post("/api/connectors/{name}/resume", dependencies=Actor)
def resume(ops: Ops, user: GetUserDep, name: ConnectorName, body: models.NoArguments) -> models.ActionResult:
    """Resume a paused connector (its backoff is cleared too): it sends its backlog on the next run."""
    ops.resume(name, user.get_name())
    return models.ActionResult(
        message=f"{name} is resumed; it sends its backlog on the next run", connector=name
    )


@router.post("/api/connectors/{name}/reset-backoff", dependencies=Actor)
def reset_backoff(
    ops: Ops, user: GetUserDep, name: ConnectorName, body: models.NoArguments
) -> models.ActionResult:
    """Let a backing-off connector try again on the next run."""
    ops.reset_backoff(name, user.get_name())
    return models.ActionResult(
        message=f"{name}'s backoff is reset; it tries again on the next run", connector=name
    )


@router.post("/api/dead-letters/{dead_letter_id}/retry", dependencies=Actor)
def retry_dead_letter(
    ops: Ops, user: GetUserDep, dead_letter_id: Annotated[int, Path(ge=1)], body: models.NoArguments
) -> models.ActionResult:
    """Move a dead letter back to its connector's backlog, to be sent (in order) on the next run."""
    moved = ops.retry_dead_letter(dead_letter_id, user.get_name())
    return models.ActionResult(
        message=f"message {moved['message_id']} is back in {moved['connector']}'s backlog; "
        "it is sent on the next run",
        **moved,
    )


@router.post("/api/dead-letters/{dead_letter_id}/drop", dependencies=Actor)
def drop_dead_letter(
    ops: Ops, user: GetUserDep, dead_letter_id: Annotated[int, Path(ge=1)], body: models.NoArguments
) -> models.ActionResult:
    """Forget a dead letter (the audit trail keeps its reason)."""
    dropped = ops.drop_dead_letter(dead_letter_id, user.get_name())
    return models.ActionResult(
        message=f"dead letter of message {dropped['message_id']} for {dropped['connector']} is dropped",
        **dropped,
    )


@router.post("/api/connectors/{name}/backlog/{message_id}/drop", dependencies=Actor)
def drop_backlog_message(
    ops: Ops,
    user: GetUserDep,
    name: ConnectorName,
    message_id: Annotated[int, Path(ge=1)],
    body: models.NoArguments,
) -> models.ActionResult:
    """Give up on one waiting message: it is logged IGNORED, with who dropped it, and never sent."""
    ops.drop_backlog_message(name, message_id, user.get_name())
    return models.ActionResult(
        message=f"message {message_id} is dropped from {name}'s backlog",
        connector=name,
        message_id=message_id,
    )
