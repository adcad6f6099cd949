"""What the console's endpoints answer and accept: pydantic models, times always in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from bugzilla_push.clock import aware_utc

# The store's naive UTC times made aware, so that they are sent with a `Z`.
UtcTime = Annotated[datetime, AfterValidator(aware_utc)]


class Model(BaseModel):
    """Response models ignore nothing silently and are never changed after they are built."""

    model_config = ConfigDict(frozen=True)


# -- who is looking -------------------------------------------------------------------------------


class Me(Model):
    """The signed-in Airflow user and what the console lets them do."""

    user: str
    can_act: bool = Field(description="may pause, resume, reset backoff, retry or drop (PUT on the DAG)")
    can_read_payloads: bool = Field(description="may read message payloads (the DAG's task logs)")


# -- overview -------------------------------------------------------------------------------------


class ConnectorView(Model):
    """One connector's state as an operator needs it."""

    connector: str
    enabled: bool = Field(description="listed in the Variable bugzilla_push_connectors")
    state: Literal["active", "paused", "backing_off"]
    paused_reason: str | None
    paused_by: str | None
    paused_ts: UtcTime | None
    backlog: int
    backlog_oldest_ts: UtcTime | None
    attempts: int = Field(description="consecutive failed attempts (the backoff's exponent)")
    next_attempt_ts: UtcTime | None
    last_error: str | None
    dead_letters: int
    last_success_ts: UtcTime | None


class OpenBatch(Model):
    """The batch a run has opened and not finished."""

    id: int
    owner: str
    created_ts: UtcTime
    size: int
    first_id: int | None
    last_id: int | None


class RunConnector(Model):
    """What one connector did in a run."""

    state: str
    sent: int
    ignored: int
    dead: int
    held: int
    error: str | None


class LastRun(Model):
    """The latest finished batch."""

    id: int
    owner: str
    created_ts: UtcTime
    finished_ts: UtcTime | None
    size: int
    deleted: int | None
    connectors: dict[str, RunConnector]


class Overview(Model):
    """The pending queue, every connector, and the latest run."""

    now: UtcTime
    pending: int
    pending_oldest_ts: UtcTime | None
    enabled: list[str]
    config_error: str | None = Field(description="why the enabled connectors could not be read, if so")
    connectors: list[ConnectorView]
    open_batch: OpenBatch | None
    last_run: LastRun | None


class Series(Model):
    """One connector's chart data, a value per bucket (None: no sample in that bucket)."""

    sent: list[int]
    backlog: list[int | None]


class History(Model):
    """Delivered messages and backlog depth per time bucket, from `push_stats`."""

    hours: int
    bucket_minutes: int
    buckets: list[UtcTime] = Field(description="each bucket's start")
    pending: list[int | None]
    connectors: dict[str, Series]


# -- lists ----------------------------------------------------------------------------------------


class QueuedMessage(Model):
    """A message waiting in `push` or in a connector's backlog."""

    message_id: int
    push_ts: UtcTime
    routing_key: str
    change_set: str
    attempts: int = 0
    attempt_ts: UtcTime | None = None
    last_error: str | None = None


class QueuePage(Model):
    """Waiting messages, oldest first; `next_after_id` fetches the next page."""

    connector: str | None = Field(description="whose backlog; None: the pending queue")
    rows: list[QueuedMessage]
    next_after_id: int | None


class DeadLetter(Model):
    """A message a connector gave up on, and why."""

    id: int
    message_id: int
    connector: str
    push_ts: UtcTime
    routing_key: str
    change_set: str
    reason: str
    failed_ts: UtcTime


class DeadLetterPage(Model):
    """Dead letters, newest first."""

    rows: list[DeadLetter]
    offset: int
    has_more: bool


class LogRow(Model):
    """One delivery attempt (`push_log`)."""

    id: int
    message_id: int
    connector: str
    routing_key: str
    change_set: str
    push_ts: UtcTime
    processed_ts: UtcTime
    result: int
    result_name: str
    data: str | None


class LogPage(Model):
    """Log rows, newest first; `next_before_id` fetches the next (older) page."""

    rows: list[LogRow]
    next_before_id: int | None


class AuditRow(Model):
    """One operator action."""

    id: int
    action_ts: UtcTime
    actor: str
    action: str
    connector: str | None
    message_id: int | None
    detail: str | None


class AuditPage(Model):
    """Operator actions, newest first."""

    rows: list[AuditRow]
    offset: int
    has_more: bool


class ReplayProgress(Model):
    """How far one connector got through a replay."""

    connector: str
    state: str
    through_id: int | None
    sent: int
    error: str | None


class Replay(Model):
    """A replay request and its progress."""

    id: int
    created_ts: UtcTime
    requested_by: str
    state: str
    finished_ts: UtcTime | None
    selector: str
    connectors: list[ReplayProgress]


class Replays(Model):
    """The latest replays, newest first."""

    rows: list[Replay]


# -- one message ----------------------------------------------------------------------------------


class MessagePlace(Model):
    """Where a message is stored: pending, a backlog, a dead letter or the archive."""

    place: Literal["pending", "backlog", "dead letter", "archive"]
    connector: str | None = None
    attempts: int | None = None
    last_error: str | None = None
    dead_letter_id: int | None = None
    reason: str | None = None


class MessageLog(Model):
    """One attempt to deliver this message."""

    id: int
    connector: str
    processed_ts: UtcTime
    result: int
    result_name: str
    data: str | None


class Message(Model):
    """One message: its payload as stored and pretty-printed, where it waits, and its log."""

    message_id: int
    push_ts: UtcTime
    routing_key: str
    change_set: str
    payload: str = Field(description="exactly as stored")
    payload_pretty: str = Field(description="indented JSON, or the payload as stored if it is not JSON")
    payload_is_json: bool
    where: list[MessagePlace]
    log: list[MessageLog]


# -- actions --------------------------------------------------------------------------------------


class NoArguments(BaseModel):
    """An action that takes no arguments still needs a JSON body (`{}`): see `routes.same_origin`."""

    model_config = ConfigDict(extra="forbid")


class PauseRequest(NoArguments):
    """Why the connector is paused; shown to everyone until it is resumed."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ActionResult(Model):
    """What an action did, in words for the page, and the audit trail entry it wrote."""

    message: str
    connector: str | None = None
    message_id: int | None = None
