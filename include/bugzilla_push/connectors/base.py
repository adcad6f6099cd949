"""The connector contract: what the engine asks of every destination.

A connector is one module: a class with a `kind` (the Airflow connection type that selects it),
an `Options` model for its connection's extra, a cheap `should_send` filter and a batch `send`.
The engine decides ordering, backlog, backoff and dead letters; a connector only reports what
happened to each message.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bugzilla_push.errors import BugzillaPushError
from bugzilla_push.model import Result

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.model import PushMessage


class Outcome(NamedTuple):
    """What happened to one message: the one answer a connector gives per message.

    Build one with a constructor: :meth:`sent`, :meth:`ignored`, :meth:`rejected` (message-fatal),
    :meth:`transient`, :meth:`unknown` or :meth:`fatal` (connector-fatal). A named tuple: one is made
    per message, and :meth:`sent` returns one shared instance.

    :param result: the BMO code stored in `push_log`: OK, IGNORED, TRANSIENT, ERROR or UNKNOWN
    :param detail: for anything but OK, a short reason (no secrets: it is stored in `push_log`)
    :param connector_fatal: no message will get through until an operator acts (see :meth:`fatal`)
    """

    result: Result
    detail: str | None = None
    connector_fatal: bool = False

    @classmethod
    def sent(cls, note: str | None = None) -> Outcome:
        """Say the destination has the message (OK), with a note for its log row if there is one."""
        return _SENT if note is None else cls(Result.OK, note)

    @classmethod
    def ignored(cls, reason: str | None = None) -> Outcome:
        """Say the message is not for this destination (IGNORED: logged, never sent)."""
        return cls(Result.IGNORED, reason)

    @classmethod
    def rejected(cls, reason: str) -> Outcome:
        """Say this message can never be delivered (message-fatal, ERROR): dead-letter it, go on."""
        return cls(Result.ERROR, reason)

    @classmethod
    def transient(cls, reason: str) -> Outcome:
        """Say sending may work later (TRANSIENT): it and all after it wait in the backlog; back off."""
        return cls(Result.TRANSIENT, reason)

    @classmethod
    def unknown(cls, reason: str) -> Outcome:
        """Say the destination's answer is lost (UNKNOWN): handled like :meth:`transient`, nothing is lost."""
        return cls(Result.UNKNOWN, reason)

    @classmethod
    def fatal(cls, reason: str) -> Outcome:
        """Say nothing will get through until an operator fixes the cause (connector-fatal; say which).

        The engine records the outcomes before it, keeps this message and everything after it in
        the backlog, backs off, and fails the task; `push_log` gets TRANSIENT, "connector-fatal: …".
        """
        return cls(Result.TRANSIENT, reason, True)


_SENT = Outcome(Result.OK)


class ConnectorConfigError(BugzillaPushError):
    """The connector's connection is missing or wrong; the message says what to set."""


class ConnectorFatal(BugzillaPushError):
    """The connector cannot deliver anything until an operator fixes it (bad password, no exchange).

    What a connector raises from deep code instead of returning :meth:`Outcome.fatal`; the engine
    handles both alike. :func:`raise_if_fatal` turns a returned one into this exception.

    :param outcomes: outcomes of a prefix of the batch (default: nothing of it was sent)
    """

    def __init__(self, message: str, outcomes: Sequence[Outcome] = ()) -> None:
        super().__init__(message)
        self.outcomes = list(outcomes)


def raise_if_fatal(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Return `outcomes`; at a connector-fatal one raise :class:`ConnectorFatal` with those before it."""
    for index, outcome in enumerate(outcomes):
        if outcome.connector_fatal:
            raise ConnectorFatal(outcome.detail or "connector-fatal", outcomes=outcomes[:index])
    return list(outcomes)


@dataclass(frozen=True)
class ConnectionInfo:
    """The fields of an Airflow connection, without Airflow (core modules do not import it).

    :param conn_id: the connection id, which is the connector's name
    :param conn_type: selects the connector implementation (`fs`, `amqp`, `elasticsearch`, `http`)
    :param password: never printed: excluded from `repr`
    """

    conn_id: str
    conn_type: str
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ConnectorOptions(BaseModel):
    """Options every connector's extra accepts: the engine's settings for that connector.

    Each connector's `Options` model derives from this one and adds its own.
    """

    model_config = ConfigDict(extra="forbid")
    # 0: never. The engine pauses the connector after this many failed deliveries in a row (transient
    # failures and dead letters, counted across runs by the backoff), until an operator resumes it.
    # Lower spares a dead destination sooner; higher rides out longer outages without an operator.
    # While set, the engine offers the connector at most that many messages per send.
    pause_after_failures: int = Field(0, ge=0)


class NoOptions(ConnectorOptions):
    """A connector without options of its own in its connection's extra."""


class Connector(ABC):
    """A destination for push messages.

    Contract:

    - **One user at a time.** The engine holds the connector's database lock while it uses an
      instance; instances are not thread-safe and need not be.
    - **`send(batch)`** gets messages in push-id order that passed `should_send`, and returns one
      :class:`Outcome` per message, in the same order. It stops at the first TRANSIENT (or UNKNOWN)
      outcome and returns early: messages without an outcome were not attempted, and the engine
      puts them in the backlog behind the failed one.
    - **TRANSIENT** means "might work later, and nothing after this may overtake it": a lost
      connection, a timeout, a 429 or 5xx, a broker nack. **ERROR** (:meth:`Outcome.rejected`) means
      "this message can never be delivered": it is dead-lettered and delivery goes on.
    - **Connector-fatal** (:meth:`Outcome.fatal` as the last outcome, or :class:`ConnectorFatal`
      raised) means an operator must act; any other exception is handled like TRANSIENT for the
      first message of the batch.
    - **Policy is the engine's**: backlog, backoff, and pausing a connector after
      `pause_after_failures` failed deliveries in a row (an option of every connector).
    - **Crash safety** is the engine's: a message may be sent again after a crash, with the same
      push id, so destinations should use it as the message id.

    :param name: the connector's name, which is its Airflow connection id
    """

    kind: ClassVar[str]
    # What the engine's messages call this kind of destination ("webhook paused after …").
    title: ClassVar[str] = "connector"
    Options: ClassVar[type[ConnectorOptions]] = NoOptions
    # Messages per send and per commit for this connector; None: the engine's chunk_size. Larger
    # suits destinations that pipeline (Pulse's confirms); it is also the crash re-send bound.
    chunk_size: int | None = None
    # Failed deliveries in a row after which the engine pauses the connector (0: never); from the
    # extra's `pause_after_failures`.
    pause_after: int = 0
    # Whether a message `should_send` turns down gets an IGNORED `push_log` row. BMO's Push.pm logs
    # none; Bugzilla's own webhooks keep that (hundreds of them would log each message hundreds of
    # times). The run's counts include such messages either way.
    log_filtered: ClassVar[bool] = True

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def from_connection(cls, info: ConnectionInfo) -> Self:
        """Build the connector from its connection (nothing is opened yet).

        The options common to every connector are read here, the rest by :meth:`from_options`.
        """
        options = cls.parse_options(info)
        connector = cls.from_options(info, options)
        connector.pause_after = options.pause_after_failures
        return connector

    @classmethod
    @abstractmethod
    def from_options(cls, info: ConnectionInfo, options: Any) -> Self:
        """Build the connector from its connection and its extra, validated against `Options`."""

    @classmethod
    def parse_options(cls, info: ConnectionInfo) -> Any:
        """Validate the connection's extra against `Options`, or raise :class:`ConnectorConfigError`."""
        try:
            return cls.Options.model_validate(info.extra or {})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'extra'}: {e['msg']}" for e in exc.errors()
            )
            raise ConnectorConfigError(
                f"connection {info.conn_id!r} (type {info.conn_type}) has invalid extra options: {problems}"
            ) from None

    def should_send(self, message: PushMessage) -> bool:
        """Return False to log the message as IGNORED instead of sending it (cheap, no I/O)."""
        return True

    @abstractmethod
    def send(self, batch: Sequence[PushMessage]) -> list[Outcome]:
        """Deliver the messages in order; see the class docstring for the contract."""

    def close(self) -> None:  # noqa: B027 - most connectors hold nothing to release
        """Release connections; the instance may be used again afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]*:[^/@\s]*@", re.IGNORECASE)


def redact(text: str, *secrets: str | None) -> str:
    """Remove credentials from an error text before it is logged or stored."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***:***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
