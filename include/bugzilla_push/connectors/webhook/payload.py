"""What a webhook gets: BMO's event kinds, its product/component filter and its payload shape.

Pure functions over decoded payloads (no I/O, no Airflow), unit-tested on their own. The rules are
bugzilla.mozilla.org's (`extensions/Push/lib/Connector/Webhook.pm`) with two of its defects fixed:
event kinds are matched exactly (BMO's `/attachment/` also matched `attachment_change`), and a
bug moved *out of* a webhook's product or component is found from the event's changes (BMO read
them from the bug, where they never are).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from bugzilla_push.model import bug_of
from bugzilla_push.payload_shape import current_body

EventKind = Literal["create", "change", "comment", "attachment", "attachment_change"]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)
ANY = "Any"  # BMO's wildcard for a webhook's product or component
IS_PRIVATE_TRANSITION = "bug.modify:is_private"

# The routing key without its fields, for each kind a webhook can ask for; other messages (such as
# comment.update) never go to webhooks, as in BMO.
_KIND_OF_KEY: dict[str, EventKind] = {
    "bug.create": "create",
    "bug.modify": "change",
    "comment.create": "comment",
    "attachment.create": "attachment",
    "attachment.modify": "attachment_change",
}


def event_kind(routing_key: str) -> EventKind | None:
    """Return the webhook event kind of a routing key (`bug.modify:status` → `change`), or None."""
    return _KIND_OF_KEY.get(routing_key.partition(":")[0])


def flag(value: Any) -> bool:
    """Read an `is_private` value as Bugzilla's Perl does: `0`, `"0"`, `""`, null and false are false."""
    if isinstance(value, str):
        return value not in ("", "0")
    return bool(value)


def name_of(value: Any) -> str | None:
    """Return a product's or component's name: current payloads carry a name, older ones `{"id", "name"}`."""
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) else None


def target_is_private(body: dict[str, Any]) -> bool:
    """BMO's rule: the message is private if its object or the object's bug is private."""
    own = body[body["event"]["target"]].get("is_private")
    return flag(own) or flag((bug_of(body) or {}).get("is_private"))


def moved_from(body: dict[str, Any], bug: dict[str, Any]) -> tuple[str | None, str | None] | None:
    """Return the bug's product and component before this change if the change moved it, else None."""
    product, component = name_of(bug.get("product")), name_of(bug.get("component"))
    moved = False
    for change in body.get("event", {}).get("changes") or ():
        if not isinstance(change, dict):
            continue
        if change.get("field") == "product":
            product, moved = name_of(change.get("removed")), True
        elif change.get("field") == "component":
            component, moved = name_of(change.get("removed")), True
    return (product, component) if moved else None


@dataclass(frozen=True)
class WebhookFilter:
    """Which messages a webhook wants (BMO's `should_send`, without its owner-visibility check).

    :param product: a product name, or `Any`
    :param component: a component name, or `Any`
    :param events: the event kinds to send
    :param include_private_comments: send private comments and attachments (reduced to ids)
    :param include_private_bugs: send messages about private bugs (reduced to ids)
    """

    product: str = ANY
    component: str = ANY
    events: frozenset[str] = frozenset(EVENT_KINDS)
    include_private_comments: bool = False
    include_private_bugs: bool = True

    def wants_kind(self, routing_key: str) -> bool:
        """Return whether the routing key is of a kind this webhook asked for (no payload needed)."""
        return event_kind(routing_key) in self.events

    def accepts(self, routing_key: str, body: dict[str, Any]) -> bool:
        """Return whether to send this message."""
        kind = event_kind(routing_key)
        if kind not in self.events:
            return False
        bug = bug_of(body)
        if bug is None:
            return False
        target = body["event"]["target"]
        if target != "bug" and flag(body[target].get("is_private")) and not self.include_private_comments:
            return False
        # The transition tells a receiver the bug went private; BMO sends it even to those who
        # can no longer see the bug, and it is reduced to ids if it is private itself.
        private = flag(bug.get("is_private")) and not self.include_private_bugs
        if private and routing_key != IS_PRIVATE_TRANSITION:
            return False
        if self.matches(name_of(bug.get("product")), name_of(bug.get("component"))):
            return True
        if kind == "change":
            before = moved_from(body, bug)
            return before is not None and self.matches(*before)
        return False

    def matches(self, product: str | None, component: str | None) -> bool:
        """Return whether a product and component fall under this webhook (`Any` matches all)."""
        return self.product in (ANY, product) and self.component in (ANY, component)


def webhook_payload(body: dict[str, Any], webhook_name: str, webhook_id: int | None) -> dict[str, Any]:
    """Build what BMO POSTs for a message: the bug (reduced to ids if private) and the event.

    A public comment or attachment goes inside its bug (`bug.comment`), without its own `bug`; a
    private one, or one on a private bug, becomes `bug = {id, is_private, <target>: {id,
    is_private: true}}`; a private bug becomes `bug = {id, is_private: true}`. Private messages lose
    `event.changes`; every message loses `event.change_set`. A payload of the shape before 2021
    is sent in today's, the one receivers of BMO's webhooks know (:mod:`bugzilla_push.payload_shape`).
    `body` is not modified.
    """
    body = current_body(body)
    event = body["event"]
    target = event["target"]
    obj = body[target]
    private = target_is_private(body)
    bug_in = bug_of(body) or {}
    if private and target != "bug":
        bug: dict[str, Any] = {
            "id": _integer(bug_in.get("id")),
            "is_private": flag(bug_in.get("is_private")),
            target: {"id": _integer(obj.get("id")), "is_private": True},
        }
    elif private:
        bug = {"id": _integer(obj.get("id")), "is_private": True}
    elif target == "bug":
        bug = obj
    else:
        bug = {**bug_in, target: {k: v for k, v in obj.items() if k != "bug"}}
    drop = {"change_set", "changes"} if private else {"change_set"}
    out = {k: v for k, v in body.items() if k not in (target, "event")}
    out["bug"] = bug
    out["event"] = {k: v for k, v in event.items() if k not in drop}
    out["webhook_name"] = webhook_name
    out["webhook_id"] = webhook_id
    return out


def _integer(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
