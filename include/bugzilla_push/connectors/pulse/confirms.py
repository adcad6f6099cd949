"""The bookkeeping of pipelined publisher confirms, apart from any I/O.

A :class:`PublishRun` tracks one call of :meth:`ConfirmingPublisher.publish`: which publications
are in flight under which delivery tag, which the broker confirmed (`Basic.Ack`, possibly for
every tag up to one with `multiple`) or refused (`Basic.Nack`), and where to start again after the
channel was lost. Its :meth:`PublishRun.report` is the ordered answer the connector returns.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bugzilla_push.connectors.base import Outcome

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pika


@dataclass(frozen=True, slots=True)
class Publication:
    """One message to publish.

    :param rejected: if set, the message is not sent and is reported as ERROR with this reason
    """

    routing_key: str
    body: bytes
    properties: pika.BasicProperties
    rejected: str | None = None


@dataclass
class PublishReport:
    """What happened to a sequence of publications.

    :param outcomes: OK (confirmed) or ERROR (refused for good) for each publication from the first,
        stopping before the first one that was not confirmed
    :param failure: why the publication at `len(outcomes)` was not confirmed (transient or
        connector-fatal); None if all were handled
    """

    outcomes: list[Outcome]
    failure: Outcome | None = None


@dataclass
class PublishRun:
    """The state of one `publish` call: what is in flight, what is settled, and why it stopped."""

    items: Sequence[Publication]
    results: list[Outcome | None] = field(init=False)
    next: int = 0  # the next publication to send
    outstanding: dict[int, int] = field(default_factory=dict)  # delivery tag → publication index
    order: deque[int] = field(default_factory=deque)  # delivery tags, oldest first (for `multiple`)
    failure: Outcome | None = None
    drop_connection: bool = False
    progress_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.items)

    @property
    def finished(self) -> bool:
        return not self.outstanding and (self.failure is not None or self.next >= len(self.items))

    def settle(self, tag: int, multiple: bool, ok: bool) -> None:
        """Apply one Basic.Ack or Basic.Nack."""
        tags = [tag]
        if multiple:
            tags = []
            while self.order and self.order[0] <= tag:
                tags.append(self.order.popleft())
        for t in tags:
            index = self.outstanding.pop(t, None)
            if index is None:
                continue
            if ok:
                self.results[index] = Outcome.sent()
            elif self.failure is None:
                self.failure = Outcome.transient(
                    "the broker refused to store the message (nack); it is sent again"
                )
        self.progress_at = time.monotonic()

    def lose_unconfirmed(self) -> None:
        """Forget what is in flight: the channel is gone, so its confirms will never come."""
        self.outstanding.clear()
        self.order.clear()

    def rewind(self, limit: int) -> bool:
        """Restart at the first unconfirmed publication; True if one of those is over `limit`.

        Later publications confirmed meanwhile are sent again too, in order: what a consumer sees
        twice is then one contiguous run, as after any other loss, never a message out of place.
        """
        first = next((i for i in range(self.next) if self.results[i] is None), None)
        if first is None:
            return False
        unsent = range(first, self.next)
        if not any(self.results[i] is None and len(self.items[i].body) > limit for i in unsent):
            return False
        for i in unsent:
            if self.results[i] is Outcome.sent():
                self.results[i] = None
        self.next = first
        return True

    def report(self) -> PublishReport:
        outcomes: list[Outcome] = []
        for result in self.results:
            if result is None:
                return PublishReport(
                    outcomes, self.failure or Outcome.transient("not confirmed by the broker")
                )
            outcomes.append(result)
        return PublishReport(outcomes)
