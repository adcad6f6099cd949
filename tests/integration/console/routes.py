"""Every route of the console's app, enumerated from the app itself, as requests a test can send.

A route added later is enumerated too, so the access tests cannot forget it; `known_paths` makes
sure the enumeration is not empty and fails when a path parameter has no example value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.console_plugin import console_app

if TYPE_CHECKING:
    from tests.integration.console.day import Day


@dataclass(frozen=True)
class Call:
    """One request: method, path under the console, and a JSON body for POSTs."""

    method: str
    path: str
    body: dict[str, Any] | None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def calls(day: Day) -> list[Call]:
    """A request for every method of every route, with path parameters taken from the seeded day."""
    from fastapi.routing import APIRoute

    examples = {
        "name": "mirror",
        "message_id": str(day.xss_message_id),
        "dead_letter_id": str(day.xss_dead_letter_id),
    }
    out = []
    for route in console_app().routes:
        if not isinstance(route, APIRoute):
            continue
        path = route.path
        if path == "/static/{name}":
            path = "/static/console.js"
        for param in re.findall(r"{(\w+)}", path):
            assert param in examples, f"no example value for {{{param}}} in {route.path}: add one"
            path = path.replace(f"{{{param}}}", examples[param])
        for method in sorted(route.methods):
            body = (
                ({"reason": "testing access"} if path.endswith("/pause") else {})
                if method == "POST"
                else None
            )
            out.append(Call(method, path, body))
    return out


def known_paths() -> set[str]:
    return {
        "/",
        "/static/{name}",
        "/api/me",
        "/api/overview",
        "/api/history",
        "/api/pending",
        "/api/connectors/{name}/backlog",
        "/api/dead-letters",
        "/api/log",
        "/api/messages/{message_id}",
        "/api/audit",
        "/api/replays",
        "/api/connectors/{name}/pause",
        "/api/connectors/{name}/resume",
        "/api/connectors/{name}/reset-backoff",
        "/api/dead-letters/{dead_letter_id}/retry",
        "/api/dead-letters/{dead_letter_id}/drop",
        "/api/connectors/{name}/backlog/{message_id}/drop",
    }
