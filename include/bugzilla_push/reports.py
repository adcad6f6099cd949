"""What a delivery run reports: small enough for XCom (counts and ids only) and one log line."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bugzilla_push.store.records import Counts


class DeliveryState(StrEnum):
    """How one `deliver` of one connector ended; the values are in XCom, `push_stats` and the console."""

    DONE = "done"  # everything it was offered is accounted for
    BACKING_OFF = "backing_off"  # a transient failure, or still backing off: the rest waits in the backlog
    BLOCKED = "blocked"  # this run's messages were queued behind the backlog, unsent
    PAUSED = "paused"  # paused (by an operator, or by the engine after failures in a row): nothing sent
    ALREADY_DONE = "already_done"  # an earlier try of the task delivered this connector's share
    BATCH_CLOSED = "batch_closed"  # another run finished the batch already
    FAILED = "failed"  # connector-fatal: an operator must act; its messages wait in its backlog

    @property
    def needs_attention(self) -> bool:
        """Whether the delivery left messages waiting (logged as a warning)."""
        return self in (DeliveryState.BACKING_OFF, DeliveryState.BLOCKED)


@dataclass
class DeliveryReport:
    """What one `deliver` did for one connector; small enough for XCom (counts and ids only)."""

    connector: str
    batch_id: int
    state: DeliveryState = DeliveryState.DONE
    sent: int = 0
    ignored: int = 0
    dead: int = 0
    held: int = 0
    transient: int = 0
    replayed: int = 0
    backlog_sent: int = 0
    backlog_left: int = 0
    first_id: int | None = None
    last_id: int | None = None
    seconds: float = 0.0
    error: str | None = None
    next_attempt_ts: str | None = None

    def add(self, counts: Counts, from_backlog: bool = False) -> None:
        self.sent += counts.sent
        self.ignored += counts.ignored
        self.dead += counts.dead
        self.held += counts.held
        if from_backlog:
            self.backlog_sent += counts.sent

    def summary(self) -> str:
        """One log line: counts, rate and ids."""
        handled = self.sent + self.ignored + self.dead
        rate = handled / self.seconds if self.seconds > 0 else 0.0
        ids = f"ids {self.first_id}–{self.last_id}" if self.first_id is not None else "no new ids"
        text = (
            f"{self.connector}: {self.state}; sent {self.sent:,} (backlog {self.backlog_sent:,}), "
            f"ignored {self.ignored:,}, dead-lettered {self.dead:,}, held in backlog {self.held:,} "
            f"(backlog now {self.backlog_left:,}); {ids}; {self.seconds:.2f} s, {rate:,.0f} msg/s"
        )
        if self.replayed:
            text += f"; replayed {self.replayed:,} archived"
        if self.next_attempt_ts:
            text += f"; next attempt after {self.next_attempt_ts}"
        if self.error:
            text += f"; error: {self.error}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "state": str(self.state)}  # a plain string in XCom

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeliveryReport:
        return cls(**{**data, "state": DeliveryState(data["state"])})

    def absorb(self, later: DeliveryReport) -> DeliveryReport:
        """Add the same connector's report of a later segment of a lingering run; return self.

        Counts add up; the state, error and backlog are the later one's (how the run left it), unless
        the later segment was already accounted for.
        """
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(later, name))
        if later.state not in (DeliveryState.ALREADY_DONE, DeliveryState.BATCH_CLOSED):
            self.state, self.error, self.next_attempt_ts = later.state, later.error, later.next_attempt_ts
        self.backlog_left = later.backlog_left
        self.first_id = self.first_id if self.first_id is not None else later.first_id
        self.last_id = later.last_id if later.last_id is not None else self.last_id
        return self


_SUMMED = ("sent", "ignored", "dead", "held", "transient", "replayed", "backlog_sent", "seconds")


@dataclass
class FinalizeReport:
    """What `finalize` did: rows deleted, and rows it held for connectors that did not finish.

    :param failed: selected connectors whose delivery did not finish (the run fails)
    :param paused: selected connectors an operator had paused (skipped on purpose)
    """

    batch_id: int
    deleted: int = 0
    held: dict[str, int] = field(default_factory=dict)
    already_closed: bool = False
    failed: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
