"""Who may use the console, and the defences of its answers and actions.

Authentication and authorisation are Airflow's own: a JWT (the UI's `_token` cookie or a Bearer
token), checked by whichever auth manager is configured (`is_authorized_dag` on the `bugzilla_push`
DAG, as Airflow's REST API checks it; tested under SimpleAuthManager and FAB). Reading needs GET on the DAG,
reading payloads GET on its task logs (payloads may hold private bugs), acting PUT on the DAG —
what pausing the DAG itself needs. Actions must also pass :func:`same_origin`, and every answer
carries headers that keep it from being sniffed, cached or framed by another site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from fastapi.responses import Response

DAG_ID = "bugzilla_push"
CSRF_HEADER = "X-Bugzilla-Push-Console"  # a header that a cross-site form cannot send at all
# The page loads only its own script and style, talks only to its own server, and may be framed
# only by the Airflow UI (same origin). Inline script, inline handlers and plugins never run.
CONTENT_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)

can_read = requires_access_dag("GET", param_dag_id=DAG_ID)
can_read_payloads = requires_access_dag("GET", DagAccessEntity.TASK_LOGS, DAG_ID)
can_act = requires_access_dag("PUT", param_dag_id=DAG_ID)


def same_origin(request: Request) -> None:
    """Refuse a POST that another site's page could have made the browser send with the user's cookie.

    A form can post neither JSON nor a custom header, and a script of another origin can send them
    only after a CORS preflight, which this app never grants. The `Origin` (or else the `Referer`)
    must also be this server's own. A client that sends neither must authenticate with a Bearer
    token, which a browser never attaches on its own, not with the session cookie.
    """
    if request.headers.get(CSRF_HEADER) != "1":
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"actions need the header {CSRF_HEADER}: 1")
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "actions need a JSON body (application/json)")
    source = request.headers.get("origin")
    if source is None and (referer := request.headers.get("referer")):
        parts = urlsplit(referer)
        source = f"{parts.scheme}://{parts.netloc}"
    if source is None:
        if request.headers.get("authorization", "").lower().startswith("bearer "):
            return
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "an action from a browser must say where it comes from"
        )
    if source.lower() not in own_origins(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"cross-site action refused (from {source[:100]})")


def own_origins(request: Request) -> set[str]:
    """Return this server's origins: the request's own, and `[api] base_url`'s if that has one."""
    from airflow.configuration import conf

    own = {f"{request.url.scheme}://{request.url.netloc}".lower()}
    base_url = conf.get("api", "base_url", fallback="") or ""
    if base_url.startswith(("http://", "https://")):
        parts = urlsplit(base_url)
        own.add(f"{parts.scheme}://{parts.netloc}".lower())
    return own


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Keep every answer from being sniffed as another type, cached, or framed by another site."""
    response = await call_next(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = CONTENT_POLICY
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def http_error(request: Request, exc: Exception) -> Response:
    """Answer errors as JSON, except on the page itself: a person gets a sentence and a way to log in."""
    if not isinstance(exc, HTTPException):
        raise exc
    on_page = request.url.path.rstrip("/") == str(request.scope.get("root_path", "")).rstrip("/")
    if on_page and exc.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
        return HTMLResponse(_error_page(exc.status_code), exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)


def _error_page(code: int) -> str:
    text = (
        "Your Airflow session has ended, or you have not logged in yet."
        if code == status.HTTP_401_UNAUTHORIZED
        else "Your Airflow account may not read the bugzilla_push DAG, which the push console needs."
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bugzilla push</title></head>'
        f"<body><h1>Bugzilla push</h1><p>{text}</p>"
        '<p><a href="../" target="_top">Open Airflow and log in</a></p></body></html>'
    )
