"""The push console: a page in the Airflow UI for the `bugzilla_push` DAG's queues and connectors.

A FastAPI app mounted on the API server at /bugzilla-push, and an entry in the UI's navigation
that shows it. Every Airflow process loads plugins (tasks too, for macros and listeners), so the
app is built on its first request: loading this file imports neither FastAPI nor the console.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.plugins_manager import AirflowPlugin

if TYPE_CHECKING:
    from fastapi import FastAPI

URL_PREFIX = "/bugzilla-push"


def create_app() -> FastAPI:
    """Build the console's app: its routes, error pages and security headers; no OpenAPI pages."""
    from fastapi import FastAPI, HTTPException

    from bugzilla_push.console import routes, security

    app = FastAPI(title="Bugzilla push console", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(routes.router)
    app.add_exception_handler(HTTPException, security.http_error)
    app.middleware("http")(security.security_headers)
    return app


class BuiltOnFirstRequest:
    """An ASGI app that builds the real one (with `factory`) when the first request comes.

    :param factory: makes the app
    """

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:
            self.app = self.factory()
        await self.app(scope, receive, send)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.factory.__module__}.{self.factory.__name__})"


class BugzillaPushConsolePlugin(AirflowPlugin):
    """The push console's app and its entry in the UI's navigation ("Bugzilla push")."""

    name = "bugzilla_push_console"
    fastapi_apps = [
        {"app": BuiltOnFirstRequest(create_app), "url_prefix": URL_PREFIX, "name": "Bugzilla push console"}
    ]
    external_views = [
        {
            "name": "Bugzilla push",
            "href": URL_PREFIX.lstrip("/") + "/",  # relative: works under a base_url with a path too
            "destination": "nav",
            "url_route": "bugzilla-push",
        }
    ]
