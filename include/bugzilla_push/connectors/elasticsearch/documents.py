"""What the Elasticsearch connector writes: documents and versioned bulk actions (pure, no I/O).

One document per bug (id = bug id), per comment and per attachment (id = their own id, with their
bug id), each written with ``version_type=external`` and ``version`` = the push id of the message
that wrote it, so a replayed or stale write is refused (409) instead of overwriting newer data.

Visibility decides the index: a public object goes to the public index and, where private indexing
is on, is deleted from the private one; a private object the other way round. Deletes carry the
push id as their version too, so a stale replay cannot bring a removed document back.

The bug document is written only from ``bug.*`` messages. A comment or attachment carries a bug
object as well, but Bugzilla may serialise it before the change made in the same transaction, so it
is never used to write the bug document (it could be older than what a ``bug.modify`` wrote).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bugzilla_push.connectors.elasticsearch.mappings import CHILD_KINDS, KIND_OF_TARGET, IndexNames, Kind
from bugzilla_push.payload_shape import current_bug, current_routing_key

if TYPE_CHECKING:
    from collections.abc import Iterable

    from bugzilla_push.model import PushMessage

TRUE_VALUES = frozenset({"1", "true", True})  # True == 1, so 1 is in too
# Names and logins of a bug, each indexed as one keyword (absent when unset).
KEYWORD_FIELDS = (
    "resolution",
    "product",
    "component",
    "classification",
    "type",
    "severity",
    "version",
    "operating_system",
    "platform",
    "assigned_to",
    "creator",
    "qa_contact",
)
CLOSED_STATUSES = frozenset({"RESOLVED", "VERIFIED", "CLOSED"})


@dataclass(frozen=True, slots=True)
class Action:
    """One bulk action: index or delete a document, versioned by a push id."""

    op: Literal["index", "delete"]
    index: str
    doc_id: str
    version: int
    source: dict[str, Any] | None = None

    def ndjson(self) -> bytes:
        """Return the action's lines for the bulk API: metadata, then the document of an index."""
        doc_id = self.doc_id if self.doc_id.isdigit() else json.dumps(self.doc_id)[1:-1]
        # Index names are checked (lowercase letters, digits, . _ + -), so they need no escaping.
        meta = (
            f'{{"{self.op}":{{"_index":"{self.index}","_id":"{doc_id}",'
            f'"version":{int(self.version)},"version_type":"external"}}}}'
        )
        if self.source is None:
            return (meta + "\n").encode()
        return (
            meta + "\n" + json.dumps(self.source, ensure_ascii=False, separators=(",", ":")) + "\n"
        ).encode()


@dataclass(frozen=True, slots=True)
class Child:
    """A comment or attachment document found in (or planned for) one of the indices."""

    kind: Kind
    doc_id: str
    source: dict[str, Any]


@dataclass
class MessagePlan:
    """The actions one message turns into, and why.

    :param public: whether the object is visible to everyone after this message
    :param transition: "private" or "public" for a bug's `is_private` change, else None
    """

    actions: list[Action] = field(default_factory=list)
    kind: Kind | None = None
    doc_id: str | None = None
    source: dict[str, Any] | None = None
    bug_id: int | None = None
    public: bool = True
    transition: Literal["private", "public"] | None = None


# -- documents -----------------------------------------------------------------------------------


def _name(value: Any) -> Any:
    """`{"id": 1, "name": "Core"}` → "Core"; plain values as they are."""
    return value.get("name") if isinstance(value, dict) else value


def _login(value: Any) -> Any:
    """Return a user object's login (a login as it is)."""
    return (value.get("login") or value.get("name")) if isinstance(value, dict) else value


def _creator(message: PushMessage, key: str, older_key: str) -> Any:
    """Return who wrote a comment or attachment: its user under either key, else the creating event's."""
    login = _login(message.object.get(key) or message.object.get(older_key))
    if login is None and message.event.action == "create" and message.event.user:
        return message.event.user.login
    return login


def _flags(flags: Any) -> list[str]:
    """`[{"name": "review", "value": "?"}]` → `["review?"]`: searchable as one keyword each."""
    out = []
    for flag in flags or []:
        if isinstance(flag, dict):
            out.append(f"{flag.get('name', '')}{flag.get('value') or flag.get('status') or ''}")
        else:
            out.append(str(flag))
    return out


def _list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _blank(value: Any) -> Any:
    """Bugzilla writes unset text fields as ""; index them as absent."""
    return None if value == "" else value


def _keyword(value: Any) -> Any:
    """Return a name or login (an object's, if a payload still has one); "" as absent."""
    return _blank(_login(value) if isinstance(value, dict) else value)


def _selected(value: Any) -> Any:
    """Return a single-select value; "", "--" and "---" all mean none is selected (Serialize.pm `_select`)."""
    return None if value in ("", "--", "---") else value


def _push_fields(message: PushMessage) -> dict[str, Any]:
    user = message.event.user
    return {
        "push_id": message.id,
        "change_set": message.row.change_set,
        "routing_key": current_routing_key(message.routing_key),
        "changed_by": user.login if user else None,
        "event_time": message.event.time,
    }


def bug_document(message: PushMessage, private: bool) -> dict[str, Any]:
    """Build a bug's search document: its state at this message, in today's shape, "" indexed as absent.

    Either payload shape gives the same document (see :mod:`bugzilla_push.payload_shape`).
    """
    bug = current_bug(message.object)
    status = _keyword(bug.get("status"))
    return {
        "bug_id": bug["id"],
        "alias": _list(bug.get("alias")),
        "summary": bug.get("summary"),
        "status": status,
        "is_open": status not in CLOSED_STATUSES if status is not None else None,
        **{name: _keyword(bug.get(name)) for name in KEYWORD_FIELDS},
        "priority": _selected(bug.get("priority")),
        "target_milestone": _selected(bug.get("target_milestone")),
        "keywords": [_name(k) for k in _list(bug.get("keywords"))],
        "whiteboard": _blank(bug.get("whiteboard")),
        "url": _blank(bug.get("url")),
        "see_also": _list(bug.get("see_also")),
        "flags": _flags(bug.get("flags")),
        "creation_time": bug.get("creation_time"),
        "last_change_time": bug.get("last_change_time"),
        "is_private": private,
        "custom_fields": {
            k: v for k, v in bug.items() if k[:3] == "cf_" and v != "" and v is not None and v != []
        },
        **_push_fields(message),
    }


def comment_document(message: PushMessage) -> dict[str, Any]:
    """Build a comment's document: its text and who wrote it (the event's user on `create`)."""
    comment = message.object
    return {
        "comment_id": comment["id"],
        "bug_id": message.bug_id,
        "number": comment.get("number"),
        "body": comment.get("body") if comment.get("body") is not None else comment.get("text"),
        "author": _creator(message, "creator", "author"),
        "tags": _list(comment.get("tags")),
        "creation_time": comment.get("creation_time"),
        "is_private": bool(comment.get("is_private")),
        **_push_fields(message),
    }


def attachment_document(message: PushMessage) -> dict[str, Any]:
    """Build an attachment's document from its metadata (push messages never carry its contents)."""
    att = message.object
    return {
        "attachment_id": att["id"],
        "bug_id": message.bug_id,
        "description": att.get("description") if att.get("description") is not None else att.get("summary"),
        "file_name": att.get("file_name"),
        "content_type": att.get("content_type"),
        "creator": _creator(message, "creator", "attacher"),
        "flags": _flags(att.get("flags")),
        "is_obsolete": bool(att.get("is_obsolete")),
        "is_patch": bool(att.get("is_patch")),
        "is_private": bool(att.get("is_private")),
        "creation_time": att.get("creation_time"),
        "last_change_time": att.get("last_change_time"),
        **_push_fields(message),
    }


# -- visibility ------------------------------------------------------------------------------------


def privacy_transition(message: PushMessage) -> Literal["private", "public"] | None:
    """Return the direction of a bug's `is_private` change in this message, if it has one."""
    if message.target != "bug":
        return None
    for change in message.event.changes:
        if change.field == "is_private":
            return "private" if change.added in TRUE_VALUES else "public"
    return None


def is_public(message: PushMessage, transition: str | None = None) -> bool:
    """Whether everyone may see the object after this message.

    BMO's going-private message is built from the bug's public side; it already means "private".
    """
    if (transition or privacy_transition(message)) == "private":
        return False
    return not message.is_private


def plan_message(message: PushMessage, names: IndexNames, index_private: bool) -> MessagePlan:
    """Turn one message into its actions (a transition's sweep comes from :class:`ChildIndex`)."""
    kind = KIND_OF_TARGET[message.target]
    transition = privacy_transition(message)
    public = is_public(message, transition)
    if kind == "bugs":
        doc = bug_document(message, private=not public)
    elif kind == "comments":
        doc = comment_document(message)
    else:
        doc = attachment_document(message)
    doc_id = str(message.object["id"])
    plan = MessagePlan(
        kind=kind,
        doc_id=doc_id,
        source=doc,
        bug_id=message.bug_id,
        public=public,
        transition=transition,
    )
    version = message.id
    if public:
        plan.actions.append(Action("index", names.public(kind), doc_id, version, doc))
        if index_private:
            plan.actions.append(Action("delete", names.private(kind), doc_id, version))
    else:
        plan.actions.append(Action("delete", names.public(kind), doc_id, version))
        if index_private:
            plan.actions.append(Action("index", names.private(kind), doc_id, version, doc))
    return plan


class ChildIndex:
    """Where the comments and attachments of bugs changing privacy are, kept current while planning.

    When a bug goes private its public comments and attachments are deleted from the public
    indices (and copied to the private ones where private indexing is on); when it goes public
    again, the ones in the private indices that are not private themselves are moved back (without
    private indexing there is no copy to move back: they return as they are next changed). What
    was in the indices before the batch comes from a search (:meth:`add`); what the batch itself
    writes is followed by :meth:`follow`.

    :param bug_ids: the bugs whose privacy changes in the batch
    """

    def __init__(self, bug_ids: Iterable[int]) -> None:
        self._where: dict[int, dict[tuple[Kind, str], tuple[bool, Child]]] = {b: {} for b in bug_ids}

    def add(self, bug_id: int, public: bool, child: Child) -> None:
        """Record a document found in a public (or private) index before the batch."""
        if bug_id in self._where:
            self._where[bug_id][(child.kind, child.doc_id)] = (public, child)

    def follow(self, plan: MessagePlan) -> None:
        """Keep track of a comment or attachment the batch writes."""
        if plan.kind in CHILD_KINDS and plan.bug_id in self._where and plan.source is not None:
            child = Child(plan.kind, str(plan.doc_id), plan.source)
            self._where[plan.bug_id][(plan.kind, child.doc_id)] = (plan.public, child)

    def sweep(self, plan: MessagePlan, names: IndexNames, index_private: bool, version: int) -> list[Action]:
        """Return the actions that move a bug's children for its privacy transition at `version`."""
        if plan.transition is None or plan.bug_id not in self._where:
            return []
        actions: list[Action] = []
        children = self._where[plan.bug_id]
        for key, (public, child) in sorted(children.items()):
            if plan.transition == "private" and public:
                actions.append(Action("delete", names.public(child.kind), child.doc_id, version))
                if index_private:
                    actions.append(
                        Action("index", names.private(child.kind), child.doc_id, version, child.source)
                    )
                children[key] = (False, child)
            elif (
                plan.transition == "public"
                and index_private
                and not public
                and not child.source.get("is_private")
            ):
                actions.append(Action("index", names.public(child.kind), child.doc_id, version, child.source))
                actions.append(Action("delete", names.private(child.kind), child.doc_id, version))
                children[key] = (True, child)
        return actions
