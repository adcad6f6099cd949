"""The message model: rows as Bugzilla writes them, validated messages, and result codes.

Bugzilla's Push extension stores each change as a JSON payload plus a routing key and a change
set. A row is turned into a :class:`PushMessage` only if it is well formed; anything else raises
:class:`InvalidMessage` with a reason an operator can act on, and the engine dead-letters it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from datetime import datetime


class Result(IntEnum):
    """Outcome of one delivery attempt; the values are BMO's `push_log.result` codes."""

    OK = 1
    IGNORED = 2  # filtered out by the connector (for example a private bug for Pulse)
    TRANSIENT = 3  # may succeed later: the connector stops and backlogs from here
    ERROR = 4  # permanent for this message: dead-lettered with the reason
    UNKNOWN = 5  # the connector could not tell; handled like TRANSIENT so nothing is lost
    BLOCKED = 6  # the connector refused to run (paused or misconfigured); kept in the backlog


KNOWN_TARGETS = frozenset({"bug", "comment", "attachment"})
ROUTING_KEY_MAX = 64  # BMO's routing_key is varchar(64)
CHANGE_SET_MAX = 32

_ROUTING_KEY = re.compile(r"^(?P<target>[a-z_]+)\.(?P<action>[a-z_]+)(?::(?P<fields>\S.*))?$")


@dataclass(frozen=True, slots=True)
class PushRow:
    """A row of `push` (or of `push_backlog`, then `id` is its `message_id`), as stored.

    :param id: the push id: Bugzilla's auto-increment id, the order of delivery
    :param payload: the JSON text exactly as Bugzilla wrote it
    :param attempts: delivery attempts so far (backlog rows only)
    """

    id: int
    push_ts: datetime
    payload: str
    change_set: str
    routing_key: str
    attempts: int = 0


class Actor(BaseModel):
    """The user who made a change."""

    model_config = ConfigDict(extra="allow")
    id: int
    login: str | None = None
    real_name: str | None = None


class Change(BaseModel):
    """One field change in `event.changes`."""

    model_config = ConfigDict(extra="allow")
    field: str
    removed: Any = None
    added: Any = None


class Event(BaseModel):
    """The `event` hash every Bugzilla push message carries."""

    model_config = ConfigDict(extra="allow")
    action: Literal["create", "modify", "update"]  # BMO sends comment.update for comment privacy
    target: str
    time: str | None = None
    user: Actor | None = None
    changes: list[Change] = []
    routing_key: str | None = None
    change_set: str | None = None


@dataclass(frozen=True, slots=True)
class PushMessage:
    """A validated message: the stored row plus its decoded payload.

    :param row: the row as stored; connectors that forward the payload verbatim use `row.payload`
    :param body: the decoded payload (`{"<target>": {...}, "event": {...}}`)
    :param event: the validated `event` hash
    """

    row: PushRow
    body: dict[str, Any]
    event: Event = field(repr=False)

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def routing_key(self) -> str:
        return self.row.routing_key

    @property
    def target(self) -> str:
        return self.event.target

    @property
    def object(self) -> dict[str, Any]:
        """The changed object (`body[event.target]`)."""
        return self.body[self.event.target]

    @property
    def bug(self) -> dict[str, Any] | None:
        """The bug the message is about: the object itself, or the `bug` of a comment or attachment."""
        if self.target == "bug":
            return self.object
        bug = self.object.get("bug")
        return bug if isinstance(bug, dict) else None

    @property
    def is_private(self) -> bool:
        """Whether not everyone may see it: a private bug, or a private comment or attachment."""
        if self.object.get("is_private"):
            return True
        bug = self.bug
        return bool(bug and bug.get("is_private"))

    @property
    def changed_fields(self) -> tuple[str, ...]:
        """The fields named in the routing key (`bug.modify:resolution,status` → resolution, status)."""
        _, _, fields = self.routing_key.partition(":")
        return tuple(f for f in fields.split(",") if f)


class InvalidMessage(ValueError):
    """A row that can never be delivered; the message says why (stored as the dead letter's reason)."""


def parse_message(row: PushRow, max_payload_bytes: int) -> PushMessage:
    """Validate a stored row and decode its payload, or raise :class:`InvalidMessage`."""
    size = len(row.payload.encode("utf-8", "surrogatepass"))
    if size > max_payload_bytes:
        raise InvalidMessage(f"payload is {size:,} bytes, over the limit of {max_payload_bytes:,}")
    try:
        body = json.loads(row.payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidMessage(f"payload is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidMessage(f"payload is a JSON {type(body).__name__}, not an object")
    raw_event = body.get("event")
    if not isinstance(raw_event, dict):
        raise InvalidMessage("payload has no 'event' object")
    try:
        event = Event.model_validate(raw_event)
    except ValidationError as exc:
        problems = "; ".join(
            f"event.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidMessage(f"payload's event is invalid: {problems}") from None
    _check_routing_key(row, body, event)
    return PushMessage(row=row, body=body, event=event)


def _check_routing_key(row: PushRow, body: dict[str, Any], event: Event) -> None:
    key = row.routing_key
    match = _ROUTING_KEY.match(key or "")
    if match is None or len(key) > ROUTING_KEY_MAX:
        raise InvalidMessage(f"routing key {key!r} is not of the form <target>.<action>[:<fields>]")
    if match["target"] not in KNOWN_TARGETS:
        raise InvalidMessage(f"routing key {key!r} names an unknown target {match['target']!r}")
    if (match["target"], match["action"]) != (event.target, event.action):
        raise InvalidMessage(
            f"routing key {key!r} does not match the payload's event ({event.target}.{event.action})"
        )
    if event.routing_key is not None and event.routing_key != key:
        raise InvalidMessage(f"routing key {key!r} differs from the payload's {event.routing_key!r}")
    target = body.get(event.target)
    if not isinstance(target, dict) or "id" not in target:
        raise InvalidMessage(f"payload has no {event.target!r} object with an 'id'")


def routing_key_for(event: dict[str, Any]) -> str:
    """Build the routing key Bugzilla would give an event: `target.action[:field,field…]`."""
    if event.get("routing_key"):
        return str(event["routing_key"])
    base = f"{event['target']}.{event['action']}"
    fields = list(dict.fromkeys(c["field"] for c in event.get("changes") or [] if c.get("field")))
    key = f"{base}:{','.join(fields)}" if fields else base
    # Keep within the column's 64 characters, cutting at a field boundary.
    while len(key) > ROUTING_KEY_MAX and "," in key:
        key = key.rsplit(",", 1)[0]
    return key
