"""Which messages one of Bugzilla's own webhooks gets: `Webhook.pm`'s rules, ported as they are.

`extensions/Push/lib/Connector/Webhook.pm` (bugzilla.mozilla.org), `should_send` and
`_owner_can_see`. Unlike the connection-defined webhooks (:mod:`.payload`, which fixes two of its
defects), these keep BMO's behaviour exactly, because their owners set them up against it:

- the event setting is a comma-separated string matched with regexes, so `attachment_change` also
  matches `change` (every `bug.modify`) and `attachment` (`attachment.create`);
- product and component are compared by name with the bug's, `Any` matching all;
- a bug moved out of the webhook's product (or component) is still sent, for `change` webhooks,
  from the event's `changes`; a product change alone matches only a component of `Any`;
- the owner must be able to see the bug and its product, except for the `bug.modify:is_private`
  message that tells the bug went private; a private comment or attachment needs an insider owner.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from bugzilla_push.connectors.webhook.payload import flag, name_of
from bugzilla_push.model import bug_of

if TYPE_CHECKING:
    from bugzilla_push.bugzilla.visibility import Visibility
    from bugzilla_push.model import PushMessage

ANY = "Any"
IS_PRIVATE_TRANSITION = "bug.modify:is_private"
# (event regex, routing key test) in Webhook.pm's order; any pair that holds sends the message.
_EVENT_RULES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile("create"), re.compile(r"\Abug\.create\Z")),
    (re.compile("change"), re.compile(r"\Abug\.modify")),
    (re.compile("comment"), re.compile(r"\Acomment\.create\Z")),
    (re.compile("attachment_change"), re.compile(r"\Aattachment[.]modify")),
    (re.compile("attachment"), re.compile(r"\Aattachment\.create\Z")),
)
_CHANGE = re.compile("change")
_BUG_MODIFY = re.compile(r"bug\.modify")


class Facts(NamedTuple):
    """What BMO's rules look at in a message, found once however many webhooks look.

    :param moved_from: `(product, component)` a `bug.modify` moved the bug out of (None: not moved)
    """

    routing_key: str
    product: str | None
    component: str | None
    moved_from: tuple[str, str] | None


def facts(routing_key: str, body: dict[str, Any]) -> Facts | None:
    """Return the facts of a message, or None if it is about no bug (no webhook gets it)."""
    bug = bug_of(body)
    if not bug:
        return None
    bug_product, bug_component = name_of(bug.get("product")), name_of(bug.get("component"))
    moved_from = None
    if _BUG_MODIFY.search(routing_key):
        removed_product = removed_component = ""
        for change in body.get("event", {}).get("changes") or ():
            if not isinstance(change, dict):
                continue
            if change.get("field") == "product":
                removed_product = name_of(change.get("removed")) or ""
            if change.get("field") == "component":
                removed_component = name_of(change.get("removed")) or ""
        if removed_product or removed_component:
            moved_from = (removed_product or bug_product or "", removed_component)
    return Facts(routing_key, bug_product, bug_component, moved_from)


def message_facts(message: PushMessage) -> Facts | None:
    """:func:`facts` of a message, kept on it for the next webhook."""
    return message.memo("bmo_rules.facts", lambda m: facts(m.routing_key, m.body))


def wants(event: str, product: str, component: str, routing_key: str, body: dict[str, Any]) -> bool:
    """BMO's `should_send` without the owner's visibility (:func:`owner_can_see`, which reads Bugzilla).

    :param event: the webhook's `event` column
    :param product: the webhook's product name, or `Any`
    :param component: the webhook's component name, or `Any`
    """
    return wants_facts(event, product, component, facts(routing_key, body))


def wants_facts(event: str, product: str, component: str, found: Facts | None) -> bool:
    """:func:`wants` on a message's :class:`Facts`."""
    if found is None:
        return False
    if (
        product in (ANY, found.product)
        and component in (ANY, found.component)
        and _event_matches(event, found.routing_key)
    ):
        return True
    if found.moved_from is not None and _CHANGE.search(event):
        moved_product, moved_component = found.moved_from
        if product == moved_product and component in (moved_component, ANY):
            return True
    return False


@lru_cache(maxsize=8192)  # a few webhook event settings × a few hundred routing keys
def _event_matches(event: str, routing_key: str) -> bool:
    return any(e.search(event) and k.search(routing_key) for e, k in _EVENT_RULES)


def owner_can_see(visibility: Visibility, owner: int, routing_key: str, body: dict[str, Any]) -> bool:
    """Return whether the webhook's owner may see what the message is about (BMO's `_owner_can_see`)."""
    target = body["event"]["target"]
    bug = bug_of(body) or {}
    bug_id = _integer(bug.get("id"))
    if routing_key != IS_PRIVATE_TRANSITION and (
        bug_id is None
        or not visibility.can_see_bug(owner, bug_id)
        or not visibility.can_see_product(owner, name_of(bug.get("product")))
    ):
        return False
    if target in ("comment", "attachment") and flag(body[target].get("is_private")):
        return visibility.is_insider(owner)
    return True


def _integer(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
