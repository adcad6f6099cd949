"""The message model: rows as Bugzilla writes them, validated messages, and result codes.

Bugzilla's Push extension stores each change as a JSON payload plus a routing key and a change
set. A row is turned into a :class:`PushMessage` only if it is well formed; anything else raises
:class:`InvalidMessage` with a reason an operator can act on, and the engine dead-letters it.
"""

from __future__ import annotations

import re
from enum import IntEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

import msgspec

from bugzilla_push.errors import BugzillaPushError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

T = TypeVar("T")


class Result(IntEnum):
    """Outcome of one delivery attempt; the values are BMO's `push_log.result` codes."""

    OK = 1
    IGNORED = 2  # filtered out by the connector (for example a private bug for Pulse)
    TRANSIENT = 3  # may succeed later: the connector stops and backlogs from here
    ERROR = 4  # permanent for this message: dead-lettered with the reason
    UNKNOWN = 5  # the connector could not tell; handled like TRANSIENT so nothing is lost
    BLOCKED = 6  # held unsent because the connector is paused; kept in its backlog


KNOWN_TARGETS = frozenset({"bug", "comment", "attachment"})
# BMO's routing_key is varchar(64), and Bugzilla runs MySQL outside strict mode (Bugzilla/DB/Mysql.pm):
# a longer key is stored cut at 64 characters, while the payload's event keeps it whole.
ROUTING_KEY_MAX = 64
CHANGE_SET_MAX = 32
# A connector's name is its Airflow connection id, and fits BMO's `connector` columns (varchar(32)).
CONNECTOR_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,32}$"
CONNECTOR_NAME_RULE = "an Airflow connection id of at most 32 letters, digits, '_', '-' or '.'"

# msgspec: several times faster than json + pydantic on the hot path, with errors as clear. Every
# payload is checked through its envelope; the whole payload is decoded only for connectors that read it.
_decode = msgspec.json.Decoder().decode
_CONNECTOR_NAME = re.compile(CONNECTOR_NAME_PATTERN)
_ROUTING_KEY = re.compile(r"^(?P<target>[a-z_]+)\.(?P<action>[a-z_]+)(?::(?P<fields>\S.*))?$")


class PushRow(NamedTuple):
    """A row of `push` (or of `push_backlog`, then `id` is its `message_id`), as stored.

    A named tuple: immutable, and built by the thousand per second without dataclass overhead.

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


class Actor(msgspec.Struct):
    """The user who made a change."""

    id: int
    login: str | None = None
    real_name: str | None = None


class Change(msgspec.Struct):
    """One field change in `event.changes`."""

    field: str
    removed: Any = None
    added: Any = None


class Event(msgspec.Struct):
    """The `event` hash every Bugzilla push message carries (unknown keys are allowed and kept in `body`)."""

    action: Literal["create", "modify", "update"]  # BMO sends comment.update for comment privacy
    target: str
    time: str | None = None
    user: Actor | None = None
    changes: list[Change] = []
    routing_key: str | None = None
    change_set: str | None = None


class BugRef(msgspec.Struct):
    """What the checks need of a comment's or attachment's bug."""

    id: int
    is_private: bool | int | None = None  # old Bugzilla versions wrote 0/1


class ObjectRef(msgspec.Struct):
    """What the checks need of the changed object; the rest of it stays in the payload."""

    id: int
    is_private: bool | int | None = None
    bug: BugRef | None = None


class Envelope(msgspec.Struct):
    """The parts of a payload every message must have, checked without building the whole payload."""

    event: Event
    bug: ObjectRef | None = None
    comment: ObjectRef | None = None
    attachment: ObjectRef | None = None


class PushMessage:
    """A validated message: the stored row, its checked envelope, and the payload decoded on demand.

    :param row: the row as stored; connectors that forward the payload verbatim use `row.payload`
    :param envelope: the checked `event` and the changed object's id and privacy
    """

    __slots__ = ("_body", "_memo", "envelope", "row")

    def __init__(self, row: PushRow, envelope: Envelope) -> None:
        self.row = row
        self.envelope = envelope
        self._body: dict[str, Any] | None = None
        self._memo: dict[str, Any] | None = None

    def memo(self, key: str, make: Callable[[PushMessage], T]) -> T:
        """Return `make(self)`, made once per message and key (a message shared by many connectors).

        `make` must depend on the message alone; two threads may both make it, and either result is kept.
        """
        memo = self._memo
        if memo is None:
            memo = self._memo = {}
        if key not in memo:
            memo[key] = make(self)
        value: T = memo[key]
        return value

    def __repr__(self) -> str:
        return f"PushMessage(id={self.row.id}, routing_key={self.row.routing_key!r})"

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def routing_key(self) -> str:
        """The whole routing key: the payload's when the stored one is its 64-character cut."""
        return self.envelope.event.routing_key or self.row.routing_key

    @property
    def event(self) -> Event:
        return self.envelope.event

    @property
    def target(self) -> str:
        return self.envelope.event.target

    @property
    def body(self) -> dict[str, Any]:
        """The whole payload (`{"<target>": {...}, "event": {...}}`), decoded when first asked for."""
        if self._body is None:
            self._body = _decode(self.row.payload)
        return self._body

    @property
    def object(self) -> dict[str, Any]:
        """The changed object (`body[event.target]`)."""
        obj = self.body[self.target]
        if not isinstance(obj, dict):  # the envelope's check makes it one
            raise InvalidMessage(f"payload's {self.target!r} is not an object")
        return obj

    @property
    def bug(self) -> dict[str, Any] | None:
        """The bug the message is about: the object itself, or the `bug` of a comment or attachment."""
        return bug_of(self.body)

    @property
    def bug_id(self) -> int | None:
        """The id of the bug the message is about: its own, its `bug` object's, or its `bug_id`."""
        ref = self._ref
        if self.target == "bug":
            return ref.id
        if ref.bug is not None:
            return ref.bug.id
        bug_id = self.object.get("bug_id")
        return bug_id if isinstance(bug_id, int) else None

    @property
    def is_private(self) -> bool:
        """Whether not everyone may see it: a private bug, or a private comment or attachment."""
        ref = self._ref
        return bool(ref.is_private or (ref.bug is not None and ref.bug.is_private))

    @property
    def _ref(self) -> ObjectRef:
        """The envelope's changed object (`parse_message` checked that the payload has it)."""
        ref: ObjectRef | None = getattr(self.envelope, self.target, None)
        if ref is None:
            raise InvalidMessage(f"payload has no {self.target!r} object with an 'id'")
        return ref

    @property
    def changed_fields(self) -> tuple[str, ...]:
        """The fields named in the routing key (`bug.modify:resolution,status` → resolution, status)."""
        _, _, fields = self.routing_key.partition(":")
        return tuple(f for f in fields.split(",") if f)


def is_connector_name(name: str) -> bool:
    """Return whether `name` can name a connector (see :data:`CONNECTOR_NAME_PATTERN`)."""
    return _CONNECTOR_NAME.match(name) is not None


def bug_of(body: dict[str, Any]) -> dict[str, Any] | None:
    """Return the bug a decoded payload is about: the target itself, or a comment's or attachment's `bug`."""
    target = body.get("event", {}).get("target")
    obj = body.get(target) if isinstance(target, str) else None
    if not isinstance(obj, dict):
        return None
    bug = obj if target == "bug" else obj.get("bug")
    return bug if isinstance(bug, dict) else None


def bug_id_of_row(row: PushRow) -> int | None:
    """Return the bug id of a stored row, whatever its size (None: not a valid message)."""
    try:
        return parse_message(row, 1 << 40).bug_id
    except InvalidMessage:
        return None


class InvalidMessage(BugzillaPushError, ValueError):
    """A row that can never be delivered; the message says why (stored as the dead letter's reason)."""


def parse_message(row: PushRow, max_payload_bytes: int) -> PushMessage:
    """Validate a stored row, or raise :class:`InvalidMessage` saying what is wrong with it."""
    if len(row.payload) * 4 > max_payload_bytes:  # UTF-8 takes at most 4 bytes a character: measure long ones
        size = len(row.payload.encode("utf-8", "surrogatepass"))
        if size > max_payload_bytes:
            raise InvalidMessage(f"payload is {size:,} bytes, over the limit of {max_payload_bytes:,}")
    try:
        envelope = _decode_envelope(row.payload)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: valid JSON, wrong shape
        raise InvalidMessage(_explain(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise InvalidMessage(f"payload is not valid JSON: {exc}") from None
    _check_routing_key(row, envelope)
    return PushMessage(row, envelope)


def _explain(error: str) -> str:
    if error.startswith("Expected `object`") and "- at" not in error:
        return f"payload is not a JSON object ({error})"
    if error == "Object missing required field `event`":
        return "payload has no 'event' object"
    if "`$.event" in error:
        return f"payload's event is invalid: {error.replace('`$.', '`')}"
    if error.startswith("Object missing required field"):
        return f"payload's event is invalid: {error}"
    return f"payload is invalid: {error.replace('`$.', '`')}"


def _check_routing_key(row: PushRow, envelope: Envelope) -> None:
    key, event = row.routing_key, envelope.event
    parts = _routing_key_parts(key or "")
    if isinstance(parts, str):
        raise InvalidMessage(parts)
    if parts != (event.target, event.action):
        raise InvalidMessage(
            f"routing key {key!r} does not match the payload's event ({event.target}.{event.action})"
        )
    full = event.routing_key
    if full is not None and full != key and not _cut_by_column(key, full):
        hint = " (only a cut at exactly 64 characters is Bugzilla's)" if full.startswith(key) else ""
        raise InvalidMessage(f"routing key {key!r} differs from the payload's {full!r}{hint}")
    if getattr(envelope, event.target) is None:
        raise InvalidMessage(f"payload has no {event.target!r} object with an 'id'")


def _cut_by_column(stored: str, full: str) -> bool:
    """Whether `stored` is `full` as the VARCHAR(64) column keeps it: its first 64 characters."""
    return len(stored) == ROUTING_KEY_MAX and full.startswith(stored) and _ROUTING_KEY.match(full) is not None


@lru_cache(maxsize=4096)  # a few hundred distinct keys cover a Bugzilla's stream
def _routing_key_parts(key: str) -> tuple[str, str] | str:
    """`(target, action)` of a routing key, or the reason it is not one."""
    match = _ROUTING_KEY.match(key)
    if match is None or len(key) > ROUTING_KEY_MAX:
        return f"routing key {key!r} is not of the form <target>.<action>[:<fields>]"
    if match["target"] not in KNOWN_TARGETS:
        return f"routing key {key!r} names an unknown target {match['target']!r}"
    return match["target"], match["action"]


def routing_key_for(event: dict[str, Any]) -> str:
    """Build the routing key Bugzilla's column would hold for an event: `target.action[:field,field…]`.

    The event's own key is cut at 64 characters as MySQL stores it (the message keeps the whole key
    from the payload); a key built from the changes, which has no whole copy, is cut at a field boundary.
    """
    if event.get("routing_key"):
        return str(event["routing_key"])[:ROUTING_KEY_MAX]
    base = f"{event['target']}.{event['action']}"
    fields = list(dict.fromkeys(c["field"] for c in event.get("changes") or [] if c.get("field")))
    key = f"{base}:{','.join(fields)}" if fields else base
    # Keep within the column's 64 characters, cutting at a field boundary.
    while len(key) > ROUTING_KEY_MAX and "," in key:
        key = key.rsplit(",", 1)[0]
    return key


_decode_envelope = msgspec.json.Decoder(Envelope).decode
