"""Which connector names an operator may act on: enabled ones, and those the push tables know.

A mistyped name (`pause pulze`) would otherwise pause nothing real while the operator believes the
connector is held; the operator's actions refuse it unless forced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bugzilla_push.errors import BugzillaPushError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.store.base import Store

# Tables whose rows name a connector that has existed: its state, backoff, options, messages, history.
# Each lookup is one indexed probe (or a small table), never a scan of push_log.
KNOWN_FROM = (
    "push_connector_state",
    "push_backoff",
    "push_options",
    "push_backlog",
    "push_dead_letter",
    "push_log",
)


class UnknownConnector(BugzillaPushError, LookupError):
    """A connector name that is neither enabled nor known from the push tables: most likely a typo.

    :param connector: the name asked for
    :param enabled: the enabled connectors (the Variable `bugzilla_push_connectors`)
    """

    def __init__(self, connector: str, enabled: Sequence[str]) -> None:
        self.connector = connector
        self.enabled = list(enabled)
        listed = ", ".join(self.enabled) if self.enabled else "none"
        super().__init__(
            f"no connector {connector!r}: it is not enabled and the push tables do not know it. "
            f"Enabled connectors (Variable bugzilla_push_connectors): {listed}"
        )


def is_known(store: Store, connector: str) -> bool:
    """Return whether any of the push tables has a row for the connector."""
    return any(
        store.query(f"SELECT 1 FROM {table} WHERE connector = %(c)s LIMIT 1", {"c": connector})
        for table in KNOWN_FROM
    )


def require_connector(store: Store, connector: str, enabled: Sequence[str], force: bool = False) -> None:
    """Raise `UnknownConnector` unless the name is enabled, known from the tables, or forced."""
    if force or connector in enabled or is_known(store, connector):
        return
    raise UnknownConnector(connector, enabled)
