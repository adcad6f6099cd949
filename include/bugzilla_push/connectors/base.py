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

from pydantic import BaseModel, ConfigDict, ValidationError

from bugzilla_push.model import Result

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.model import PushMessage


class Outcome(NamedTuple):
    """What happened to one message (a named tuple: one is made per message).

    :param result: OK, IGNORED, TRANSIENT, ERROR or UNKNOWN
    :param detail: for anything but OK, a short reason (no secrets: it is stored in `push_log`)
    """

    result: Result
    detail: str | None = None


OK = Outcome(Result.OK)


class ConnectorError(Exception):
    """Base class for errors about a connector as a whole (not one message)."""


class ConnectorConfigError(ConnectorError):
    """The connector's connection is missing or wrong; the message says what to set."""


class ConnectorFatal(ConnectorError):
    """The connector cannot deliver anything until an operator fixes it (bad password, no exchange).

    Raised from :meth:`Connector.send`. The engine records `outcomes` — those of the batch's first
    messages, which the destination did answer before the error — keeps everything after them in
    the backlog, backs off, and fails the task with this message.

    :param outcomes: outcomes of a prefix of the batch (default: nothing of it was sent)
    """

    def __init__(self, message: str, outcomes: Sequence[Outcome] = ()) -> None:
        super().__init__(message)
        self.outcomes = list(outcomes)


class ConnectorPaused(ConnectorFatal):
    """The connector stops itself (for example a webhook after N failures in a row).

    Besides what :class:`ConnectorFatal` does, the engine pauses the connector with this message as
    the reason: later runs keep its messages in its backlog without trying it, until an operator
    resumes it.
    """


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


class NoOptions(BaseModel):
    """A connector without options in its connection's extra."""

    model_config = ConfigDict(extra="forbid")


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
      connection, a timeout, a 429 or 5xx, a broker nack. **ERROR** means "this message can never
      be delivered": it is dead-lettered and delivery goes on.
    - **`ConnectorFatal`** (raised, nothing sent) means an operator must act; any other exception
      is handled like TRANSIENT for the first message of the batch.
    - **Crash safety** is the engine's: a message may be sent again after a crash, with the same
      push id, so destinations should use it as the message id.

    :param name: the connector's name, which is its Airflow connection id
    """

    kind: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = NoOptions
    # Messages per send and per commit for this connector; None: the engine's chunk_size. Larger
    # suits destinations that pipeline (Pulse's confirms); it is also the crash re-send bound.
    chunk_size: int | None = None

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    @abstractmethod
    def from_connection(cls, info: ConnectionInfo) -> Self:
        """Build the connector from its connection (nothing is opened yet)."""

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

    def observe_backoff(self, attempts: int) -> None:  # noqa: B027 - most connectors need not know
        """Take the connector's consecutive transient failures so far; called once before sending."""

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
