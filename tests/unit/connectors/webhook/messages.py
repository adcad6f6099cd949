"""Hand-made push payloads for the webhook tests, shaped as bugzilla.mozilla.org writes them."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any

from bugzilla_push.model import PushMessage, PushRow, parse_message, routing_key_for

USER = {"id": 40001, "login": "[email protected]", "real_name": "Ada Lovelace [:ada]"}


def bug(
    bug_id: int = 1900001,
    product: Any = "Firefox",
    component: Any = "General",
    is_private: Any = False,
    **more: Any,
) -> dict[str, Any]:
    """A bug as current BMO serialises it (plain product and component names)."""
    return {
        "id": bug_id,
        "alias": "",
        "product": product,
        "component": component,
        "is_private": is_private,
        "summary": "Crash in nsDocShell::LoadURI",
        "status": "NEW",
        "resolution": "",
        "keywords": [],
        **more,
    }


def payload(
    target: str,
    obj: dict[str, Any],
    action: str = "create",
    changes: list[dict[str, Any]] | None = None,
    routing_key: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "action": action,
        "target": target,
        "time": "2026-11-02T09:00:00",
        "user": USER,
        "change_set": "4242.1793610000.12345",
    }
    if action == "modify":
        event["changes"] = changes or []
    event["routing_key"] = routing_key or routing_key_for({**event, "routing_key": None})
    return {target: copy.deepcopy(obj), "event": event}


def comment(the_bug: dict[str, Any], is_private: Any = False, comment_id: int = 16000001) -> dict[str, Any]:
    return {
        "id": comment_id,
        "body": "I can reproduce this on Nightly.",
        "creation_time": "2026-11-02T09:00:00",
        "is_private": is_private,
        "number": 3,
        "bug": the_bug,
    }


def attachment(
    the_bug: dict[str, Any], is_private: Any = False, attachment_id: int = 9300001
) -> dict[str, Any]:
    return {
        "id": attachment_id,
        "content_type": "text/x-phabricator-request",
        "description": "Bug 1900001 - part 1: fix it",
        "file_name": "phabricator-D12345-url.txt",
        "is_obsolete": False,
        "is_patch": False,
        "is_private": is_private,
        "bug": the_bug,
    }


def message(body: dict[str, Any], push_id: int = 1) -> PushMessage:
    """Validate a payload as the engine does, into the message a connector gets."""
    row = PushRow(
        push_id,
        datetime(2026, 11, 2, 9, 0),
        json.dumps(body),
        body["event"]["change_set"],
        body["event"]["routing_key"],
    )
    return parse_message(row, 10**7)
