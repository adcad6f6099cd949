"""One description of a Bugzilla change, written as either of the payload shapes BMO has used.

bugzilla.mozilla.org's Push extension serialises a change in `extensions/Push/lib/Serialize.pm`
and builds the routing key in `extensions/Push/Extension.pm`. Two shapes are in the wild:

- ``"legacy"``: before Bug 1682600 and Bug 1693908 (early 2021; `git show 4c59560f5^:…/Serialize.pm`
  in mozilla-bteam/bmo): users are `{id, login, real_name}` objects (`reporter`, and null for no QA
  contact), product, component, status and version are `{id, name}` objects, the target milestone
  too (null for `---`), and change fields are Bugzilla's column names (`bug_status`, `bug_group`).
- ``"current"``: since then: users, product, component, status, version and milestone are plain
  strings, each user with a `*_detail` object (`creator` instead of `reporter`), `""` for an unset
  QA contact, and change fields use the REST API's names (`status`, `groups`).

Both shapes share the rest: `""` for empty strings, `""` for an unset priority (`--`) or
single-select custom field (`---`), booleans for `is_private`, and a routing key built from the
change fields in the order of their column names. The stored key is what Bugzilla's VARCHAR(64)
column keeps of it outside MySQL's strict mode: its first 64 characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from bugzilla_push.model import ROUTING_KEY_MAX
from bugzilla_push.payload_shape import current_field

Shape = Literal["legacy", "current"]
SHAPES: tuple[Shape, ...] = get_args(Shape)
Target = Literal["bug", "comment", "attachment"]


@dataclass(frozen=True)
class User:
    """A Bugzilla account."""

    id: int
    login: str
    real_name: str


@dataclass(frozen=True)
class Named:
    """A product, component, status, version or milestone: an object in the legacy shape, a name today."""

    id: int
    name: str


@dataclass(frozen=True)
class Flag:
    """A flag on a bug or attachment (`review?`, `needinfo?(someone)`)."""

    id: int
    name: str
    value: str
    requestee: User | None = None


@dataclass(frozen=True)
class Bug:
    """A bug's state as one message carries it.

    :param groups: the bug's security groups; a bug in any is private
    :param priority: Bugzilla's own value (`--` for none)
    :param custom: custom fields (`cf_*`) with Bugzilla's own values (`---` for none)
    """

    id: int
    summary: str
    product: Named
    component: Named
    reporter: User
    assigned_to: User
    creation_time: str
    last_change_time: str
    qa_contact: User | None = None
    status: Named = Named(1, "NEW")
    resolution: str = ""
    priority: str = "--"
    severity: str = "--"
    version: Named = Named(355, "unspecified")
    target_milestone: Named = Named(1, "---")
    groups: tuple[str, ...] = ()
    alias: str = ""
    keywords: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = ()
    see_also: tuple[str, ...] = ()
    classification: str = "Components"
    operating_system: str = "Unspecified"
    platform: str = "Unspecified"
    type: str = "defect"
    url: str = ""
    whiteboard: str = ""
    custom: dict[str, Any] = field(default_factory=dict)

    @property
    def is_private(self) -> bool:
        return bool(self.groups)


@dataclass(frozen=True)
class Comment:
    """A comment (its bug is the message's)."""

    id: int
    body: str
    creation_time: str
    number: int
    is_private: bool = False


@dataclass(frozen=True)
class Attachment:
    """An attachment's metadata (its bug is the message's)."""

    id: int
    description: str
    file_name: str
    content_type: str
    creation_time: str
    last_change_time: str
    is_private: bool = False
    is_patch: bool = False
    is_obsolete: bool = False
    flags: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class FieldChange:
    """One changed field, named as in Bugzilla's changes hash (`bug_status`, `short_desc`, `bug_group`)."""

    field: str
    removed: str = ""
    added: str = ""


@dataclass(frozen=True)
class BugzillaChange:
    """What happened, once, independent of the payload shape.

    :param bug: the bug as the message shows it (for a bug going private: its public side)
    :param changes: for `modify`, the fields that changed (none for `create`)
    :param comment: the comment of a `comment.*` message
    :param attachment: the attachment of an `attachment.*` message
    """

    target: Target
    action: Literal["create", "modify"]
    bug: Bug
    user: User
    time: str
    change_set: str
    changes: tuple[FieldChange, ...] = ()
    comment: Comment | None = None
    attachment: Attachment | None = None


def render(change: BugzillaChange, shape: Shape = "current") -> dict[str, Any]:
    """Return the row Bugzilla writes: `{"payload": {...}, "routing_key": <stored>, "change_set": ...}`."""
    if shape not in SHAPES:
        raise ValueError(f"unknown payload shape {shape!r}; expected one of {', '.join(SHAPES)}")
    changes = sorted(change.changes, key=lambda c: c.field)  # Extension.pm: sort keys %$changes
    names = [current_field(c.field) if shape == "current" else c.field for c in changes]
    key = f"{change.target}.{change.action}" + (":" + ",".join(names) if names else "")
    event: dict[str, Any] = {"user": _user(change.user), "time": change.time}
    if changes:
        event["changes"] = [
            {"field": name, "removed": _value(c.field, c.removed), "added": _value(c.field, c.added)}
            for name, c in zip(names, changes, strict=True)
        ]
    event |= {
        "action": change.action,
        "target": change.target,
        "change_set": change.change_set,
        "routing_key": key,
    }
    bug = _bug(change.bug, shape)
    if change.target == "bug":
        obj = bug
    elif change.target == "comment" and change.comment is not None:
        obj = {**_comment(change.comment), "bug": bug}
    elif change.target == "attachment" and change.attachment is not None:
        obj = {**_attachment(change.attachment, change.bug), "bug": bug}
    else:
        raise ValueError(f"a {change.target} message needs its {change.target}")
    return {
        "payload": {change.target: obj, "event": event},
        "routing_key": key[:ROUTING_KEY_MAX],
        "change_set": change.change_set,
    }


def _user(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": user.id, "login": user.login, "real_name": user.real_name}


def _select(value: Any) -> Any:
    """Serialize.pm's `_select`: Bugzilla's `---`/`--` ("nothing selected") is written as ``""``."""
    return "" if value in ("---", "--") else value


def _value(name: str, value: Any) -> Any:
    if value is None:
        return ""  # hash_undef_to_empty
    if name in ("priority", "target_milestone") or name.startswith("cf_"):
        return _select(value)
    return value


def _flag(flag: Flag) -> dict[str, Any]:
    out: dict[str, Any] = {"id": flag.id, "name": flag.name, "value": flag.value}
    if flag.requestee is not None:
        out["requestee"] = _user(flag.requestee)
    return out


def _bug(bug: Bug, shape: Shape) -> dict[str, Any]:
    common: dict[str, Any] = {
        "id": bug.id,
        "alias": bug.alias,
        "classification": bug.classification,
        "creation_time": bug.creation_time,
        "flags": [_flag(f) for f in bug.flags],
        "is_private": bug.is_private,
        "keywords": list(bug.keywords),
        "last_change_time": bug.last_change_time,
        "operating_system": bug.operating_system,
        "platform": bug.platform,
        "priority": _select(bug.priority),
        "resolution": bug.resolution,
        "see_also": list(bug.see_also),
        "severity": bug.severity,
        "summary": bug.summary,
        "type": bug.type,
        "url": bug.url,
        "whiteboard": bug.whiteboard,
    }
    if shape == "legacy":
        milestone = bug.target_milestone
        shaped: dict[str, Any] = {
            "assigned_to": _user(bug.assigned_to),
            "component": _named(bug.component),
            "product": _named(bug.product),
            "qa_contact": _user(bug.qa_contact),
            "reporter": _user(bug.reporter),
            "status": _named(bug.status),
            "target_milestone": _named(milestone) if _select(milestone.name) else None,
            "version": _named(bug.version),
        }
    else:
        shaped = {
            "assigned_to": bug.assigned_to.login,
            "assigned_to_detail": _user(bug.assigned_to),
            "component": bug.component.name,
            "creator": bug.reporter.login,
            "creator_detail": _user(bug.reporter),
            "product": bug.product.name,
            "status": bug.status.name,
            "target_milestone": bug.target_milestone.name,
            "version": bug.version.name,
        }
        if bug.qa_contact is not None:
            shaped |= {"qa_contact": bug.qa_contact.login, "qa_contact_detail": _user(bug.qa_contact)}
        else:
            shaped["qa_contact"] = ""
    custom = {k: [*v] if isinstance(v, list | tuple) else _value(k, v) for k, v in bug.custom.items()}
    out = {**common, **shaped, **custom}
    return {k: out[k] for k in sorted(out)}


def _named(named: Named) -> dict[str, Any]:
    return {"id": named.id, "name": named.name}


def _comment(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "body": comment.body,
        "creation_time": comment.creation_time,
        "is_private": comment.is_private,
        "number": comment.number,
    }


def _attachment(attachment: Attachment, bug: Bug) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "content_type": attachment.content_type,
        "creation_time": attachment.creation_time,
        "description": attachment.description,
        "file_name": attachment.file_name,
        "flags": [_flag(f) for f in attachment.flags],
        "is_obsolete": attachment.is_obsolete,
        "is_patch": attachment.is_patch,
        # Serialize.pm writes !is_public($attachment): an attachment of a private bug is private too.
        "is_private": attachment.is_private or bug.is_private,
        "last_change_time": attachment.last_change_time,
    }
