"""Self-pause, an engine policy any connector can use: stop after N failed deliveries in a row.

A connector's extra sets N as `pause_after_failures` (see
:class:`~bugzilla_push.connectors.base.ConnectorOptions`; 0, the default, never pauses; a webhook's
default is 10). The count starts at the connector's consecutive transient failures of earlier runs
(`push_backoff.attempts`) and goes on over this delivery's outcomes: a delivered message resets it,
a transient failure or a dead letter adds one.

- Reaching N during a delivery holds the rest back: the next message is reported TRANSIENT, unsent,
  and the engine backs off (one more failure), instead of dead-lettering every message a broken
  receiver rejects.
- Starting a delivery at N pauses the connector before anything is sent (:class:`ConnectorPaused`),
  until an operator resumes it, which also clears the backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bugzilla_push.connectors.base import ConnectorFatal, Outcome
from bugzilla_push.model import Result

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.connectors.base import Connector

SELF = "bugzilla-push"  # the actor recorded when the engine pauses a connector


class ConnectorPaused(ConnectorFatal):
    """The engine paused the connector after too many failed deliveries in a row.

    Besides what :class:`ConnectorFatal` does, the engine pauses the connector with this message as
    the reason: later runs keep its messages in its backlog without trying it, until an operator
    resumes it.
    """


@dataclass
class FailureStreak:
    """One connector's failed deliveries in a row, during one delivery.

    :param limit: the connector's `pause_after_failures` (0: never pause)
    :param count: failures in a row so far; starts at the backoff's attempts
    :param last_error: the detail of the latest failure in this delivery
    :param sent: whether this delivery sent anything yet
    """

    limit: int
    count: int = 0
    last_error: str | None = None
    sent: bool = False

    @property
    def pause_due(self) -> bool:
        """Whether the connector must pause instead of sending: earlier runs reached the limit."""
        return bool(self.limit) and not self.sent and self.count >= self.limit

    @property
    def room(self) -> int:
        """How many messages may be sent before the count could reach the limit."""
        return self.limit - self.count

    def add(self, outcomes: Sequence[Outcome]) -> None:
        """Count the outcomes of messages the connector was given."""
        self.sent = True
        for outcome in outcomes:
            if outcome.result is Result.OK:
                self.count, self.last_error = 0, None
            elif outcome.result is not Result.IGNORED:
                self.count += 1
                self.last_error = outcome.detail

    def hold_back(self) -> Outcome:
        """Return the outcome of the message after `limit` failures in a row: unsent, wait for the backoff."""
        return Outcome.transient(
            f"{self.count} deliveries in a row failed (last: {self.last_error}): holding the rest back for "
            "the backoff instead of dead-lettering them all"
        )

    def pause_reason(self, connector: Connector, last_error: str | None) -> str:
        """Say why the engine pauses the connector, and how to resume it (stored as the pause's reason)."""
        last = f"; last: {last_error}" if last_error else "; the failures are in push_log"
        return (
            f"{connector.title} paused after {self.count} consecutive failed deliveries "
            f"(pause_after_failures={self.limit}){last}; fix the destination, then resume it "
            f"(`bugzilla-push resume {connector.name}` or the push console)"
        )
