"""Plain records the store reads and writes; no SQL here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from bugzilla_push.ranges import IdRanges

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.backoff import Backoff
    from bugzilla_push.model import PushRow, Result


@dataclass(frozen=True)
class NewMessage:
    """A message to insert into `push`, as Bugzilla's producer would."""

    payload: str
    routing_key: str
    change_set: str
    push_ts: datetime | None = None


EMPTY_BATCH_ID = 0


@dataclass(frozen=True)
class Batch:
    """The rows one delivery run handles: exactly the `push` ids visible when it was read.

    :param connectors: every connector that must account for the rows (enabled when the batch was read)
    :param selected: the connectors delivering in this run; the others keep the rows in their backlog
    :param adopted: the run took over a batch an earlier run opened and did not finish
    """

    id: int
    ranges: IdRanges
    connectors: tuple[str, ...]
    selected: tuple[str, ...]
    owner: str
    created_ts: datetime
    adopted: bool = False

    @property
    def size(self) -> int:
        return len(self.ranges)

    @classmethod
    def empty(cls, connectors: Sequence[str], selected: Sequence[str], owner: str, now: datetime) -> Batch:
        """Make a batch with no rows: connectors work their backlogs and replays only."""
        return cls(EMPTY_BATCH_ID, IdRanges(), tuple(connectors), tuple(selected), owner, now)

    @property
    def is_empty(self) -> bool:
        """No pending rows when read: nothing was recorded for it; connectors only work their backlogs."""
        return self.id == EMPTY_BATCH_ID

    def to_xcom(self) -> dict[str, Any]:
        """Return the batch as it travels between tasks: ids as ranges, never payloads."""
        return {
            "batch_id": self.id,
            "ids": [list(s) for s in self.ranges.spans],
            "count": self.size,
            "connectors": list(self.connectors),
            "selected": list(self.selected),
            "owner": self.owner,
            "created_ts": self.created_ts.isoformat(),
            "adopted": self.adopted,
        }

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> Batch:
        return cls(
            id=int(data["batch_id"]),
            ranges=IdRanges.from_json(data["ids"]),
            connectors=tuple(data["connectors"]),
            selected=tuple(data["selected"]),
            owner=str(data["owner"]),
            created_ts=datetime.fromisoformat(data["created_ts"]),
            adopted=bool(data.get("adopted")),
        )


class RunState(StrEnum):
    """How far one connector got through one batch (`push_run_connector.state`, the console, the CLI)."""

    PENDING = "pending"
    DELIVERING = "delivering"
    DONE = "done"  # the connector accounted for every row itself
    HELD = "held"  # finalize put what the connector did not reach into its backlog

    @property
    def finished(self) -> bool:
        return self in (RunState.DONE, RunState.HELD)


@dataclass(frozen=True)
class Counts:
    """What happened to a batch's rows for one connector."""

    sent: int = 0
    ignored: int = 0
    dead: int = 0
    held: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.sent + other.sent,
            self.ignored + other.ignored,
            self.dead + other.dead,
            self.held + other.held,
        )


@dataclass(frozen=True)
class Progress:
    """How far one connector got through one batch (a `push_run_connector` row).

    :param through_id: every batch row up to this id is accounted for (None: none yet)
    """

    connector: str
    state: RunState
    through_id: int | None
    counts: Counts = Counts()
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state.finished


class LogEntry(NamedTuple):
    """One delivery attempt, for `push_log` (a named tuple: one is made per message)."""

    row: PushRow
    result: Result
    data: str | None = None


@dataclass
class Commit:
    """Everything one step of delivery changes, written in one transaction.

    Progress, log, dead letters, backlog and backoff move together, so a crash leaves either the
    state before the step or after it, never a mix (invariant 1).

    :param hold: batch rows to copy from `push` into the connector's backlog
    :param blocked: why `hold` waits unsent (a paused connector): each held row gets a BLOCKED
        `push_log` row saying so
    :param backlog_done: backlog message ids that are accounted for (delivered, ignored, dead)
    :param failed: `(message_id, error)` of the backlog row that just failed transiently
    :param backoff: the connector's new backoff state; None leaves it as it is
    :param progress: `(batch_id, through_id, state)` for `push_run_connector`; None leaves it
    """

    connector: str
    now: datetime
    logs: list[LogEntry] = field(default_factory=list)
    dead: list[tuple[PushRow, str]] = field(default_factory=list)
    hold: IdRanges | None = None
    blocked: str | None = None
    backlog_done: list[int] = field(default_factory=list)
    failed: tuple[int, str] | None = None
    backoff: Backoff | None = None
    progress: tuple[int, int | None, RunState] | None = None
    counts: Counts = Counts()
    error: str | None = None


@dataclass(frozen=True)
class ConnectorStatus:
    """One connector's state: the one record `status`, `check` and the console's overview show.

    :param backlog: messages waiting in its backlog, the oldest pushed at `oldest_ts`
    :param backoff_attempts: failed attempts in a row (the backoff's exponent); the next after
        `next_attempt_ts`
    :param last_error: why the oldest backlog message failed last
    :param paused: held by an operator (or by itself) since `paused_ts`, by `paused_by`
    :param last_success_ts: when it last sent a message (from the statistics)
    """

    connector: str
    backlog: int = 0
    oldest_ts: datetime | None = None
    backoff_attempts: int = 0
    next_attempt_ts: datetime | None = None
    dead_letters: int = 0
    last_error: str | None = None
    paused: bool = False
    paused_reason: str | None = None
    paused_by: str | None = None
    paused_ts: datetime | None = None
    last_success_ts: datetime | None = None

    def backing_off(self, now: datetime) -> bool:
        """Whether it waits for its backoff to pass before it tries again."""
        return self.next_attempt_ts is not None and self.next_attempt_ts > now

    def state(self, now: datetime) -> Literal["active", "paused", "backing_off"]:
        """Return `paused`, `backing_off` or `active`, in that order of precedence."""
        return "paused" if self.paused else "backing_off" if self.backing_off(now) else "active"


@dataclass(frozen=True)
class QueueStatus:
    """The whole picture: pending rows, each connector, the open batch."""

    pending: int
    pending_oldest_ts: datetime | None
    connectors: dict[str, ConnectorStatus]
    open_batch: dict[str, Any] | None = None
    last_run: dict[str, Any] | None = None
    recent_dead_letters: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ConnectorState:
    """An operator's (or the connector's own) decision about a connector (`push_connector_state`)."""

    connector: str
    paused: bool
    reason: str | None
    changed_by: str
    changed_ts: datetime


def waiting(status: QueueStatus, connectors: Sequence[str], now: datetime) -> dict[str, tuple[int, int]]:
    """Depth and age in seconds of the oldest message: the pending queue, then each connector's backlog.

    :param connectors: the backlogs to include (empty: every connector the tables know)
    """
    queues = {"push queue": (status.pending, status.pending_oldest_ts)}
    for name in connectors or list(status.connectors):
        info = status.connectors.get(name)
        queues[f"{name} backlog"] = (info.backlog, info.oldest_ts) if info else (0, None)
    return {
        what: (depth, int((now - oldest).total_seconds()) if oldest and depth else 0)
        for what, (depth, oldest) in queues.items()
    }
