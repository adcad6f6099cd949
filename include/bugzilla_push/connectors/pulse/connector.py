"""The Pulse connector: publishes each message to a RabbitMQ topic exchange, with publisher confirms.

Configured by the Airflow connection named after the connector (default `pulse`):
`amqp://user:password@host:5672/vhost` (or `amqps://…:5671/…` for TLS), options in its extra (see
:class:`PulseOptions`). Messages are persistent JSON with `message_id` = the push id, routed by
their routing key; confirms are pipelined (see :mod:`bugzilla_push.connectors.pulse.publisher`).

Failure classes: a lost or refused connection, a broker restart (320), a heartbeat or
blocked-connection timeout and a nack are transient (backlog and backoff); a refused login,
a missing or forbidden vhost or exchange stop the connector (:class:`ConnectorFatal`) with what
to fix; a message over the broker's size limit, or one that cannot be encoded, is dead-lettered.
"""

from __future__ import annotations

import calendar
import logging
import ssl
from typing import TYPE_CHECKING, Self

import pika
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bugzilla_push.connectors.base import (
    ConnectionInfo,
    Connector,
    ConnectorConfigError,
    ConnectorFatal,
    Outcome,
    redact,
)
from bugzilla_push.connectors.pulse.confirms import Publication
from bugzilla_push.connectors.pulse.errors import Target
from bugzilla_push.connectors.pulse.publisher import ConfirmingPublisher
from bugzilla_push.connectors.pulse.routing import amqp_routing_key, cut_note
from bugzilla_push.model import Result

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.model import PushMessage

log = logging.getLogger(__name__)

AMQP_PORT, AMQPS_PORT = 5672, 5671
PERSISTENT = 2  # AMQP delivery_mode: the broker writes the message to disk before confirming it


class PulseOptions(BaseModel):
    """Options in an `amqp` (or `amqps`) connection's extra."""

    model_config = ConfigDict(extra="forbid")
    # exchange/<login>/bugzilla by default: Pulse lets a user write only under exchange/<login>/.
    exchange: str | None = Field(None, min_length=1, max_length=255)
    # true: declare it (durable topic) on connect; false: it must exist, or the connector stops.
    declare: bool = True
    # 1000 unconfirmed at once, capped by chunk_size: more hides latency; as many may be resent.
    confirm_window: int = Field(1000, ge=1, le=65_535)
    # 2000 messages per send and commit (the engine's default is 500): each send ends with an empty
    # confirm pipeline, so bigger chunks publish faster; after a crash up to this many are resent.
    chunk_size: int = Field(2000, ge=1, le=100_000)
    # 60 s: a dead TCP connection is noticed within about twice this; 0 turns heartbeats off.
    heartbeat: int = Field(60, ge=0, le=3600)
    # 300 s the broker may block publishing (memory or disk alarm) before the run backs off.
    blocked_connection_timeout: float = Field(300.0, gt=0)
    # 30 s without any confirm: the messages in flight count as not sent and the connection is dropped.
    confirm_timeout: float = Field(30.0, gt=0)
    # 10 s to open the TCP (and TLS) connection; the whole AMQP handshake may take twice this.
    connect_timeout: float = Field(10.0, gt=0)
    # Dead-letter larger bodies without sending them; default: the broker's max_message_size, learned on use.
    max_message_bytes: int | None = Field(None, ge=1)
    # TLS on for amqps:// connections and off for amqp:// by default.
    tls: bool | None = None
    # CA bundle that signs the broker's certificate (TLS only); default: the system's.
    ca_file: str | None = None

    @field_validator("exchange")
    @classmethod
    def _not_reserved(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("amq."):
            raise ValueError("names starting with 'amq.' are reserved by the broker")
        return value


class PulseConnector(Connector):
    """Publishes to a Pulse (RabbitMQ) exchange; see the module docstring.

    :param publisher: the confirming publisher (holds the connection between `send` calls)
    :param password: only to scrub it from error texts
    """

    kind = "amqp"
    Options = PulseOptions

    def __init__(self, name: str, publisher: ConfirmingPublisher, password: str | None = None) -> None:
        super().__init__(name)
        self.publisher = publisher
        self._password = password

    @classmethod
    def from_connection(cls, info: ConnectionInfo) -> Self:
        options: PulseOptions = cls.parse_options(info)
        if not info.host or not info.login:
            raise ConnectorConfigError(
                f"connection {info.conn_id!r} needs a host and a login: "
                f"amqp://user:password@host:{AMQP_PORT}/vhost (amqps:// and port {AMQPS_PORT} for TLS)"
            )
        tls = options.tls if options.tls is not None else info.conn_type == "amqps"
        port = info.port or (AMQPS_PORT if tls else AMQP_PORT)
        vhost = info.schema or "/"
        target = Target(
            conn_id=info.conn_id,
            host=info.host,
            port=port,
            vhost=vhost,
            login=info.login,
            exchange=options.exchange or f"exchange/{info.login}/bugzilla",
            declare=options.declare,
        )
        parameters = pika.ConnectionParameters(
            host=info.host,
            port=port,
            virtual_host=vhost,
            credentials=pika.PlainCredentials(info.login, info.password or ""),
            heartbeat=options.heartbeat,
            blocked_connection_timeout=options.blocked_connection_timeout,
            socket_timeout=options.connect_timeout,
            stack_timeout=2 * options.connect_timeout,
            connection_attempts=1,
            ssl_options=_tls_options(info, options.ca_file) if tls else None,
            client_properties={"connection_name": f"bugzilla-push {info.conn_id}"},
        )
        publisher = ConfirmingPublisher(
            parameters,
            target,
            window=options.confirm_window,
            confirm_timeout=options.confirm_timeout,
            max_body=options.max_message_bytes,
        )
        connector = cls(info.conn_id, publisher, info.password)
        connector.chunk_size = options.chunk_size
        return connector

    @property
    def target(self) -> Target:
        return self.publisher.target

    def should_send(self, message: PushMessage) -> bool:
        """Skip private messages, except a `….modify:is_private` transition (BMO's rule).

        Bugzilla builds that message from the public side of the change, so it says only that the
        bug went private (or public), never what it contains.
        """
        return not message.is_private or message.routing_key.endswith(".modify:is_private")

    def send(self, batch: Sequence[PushMessage]) -> list[Outcome]:
        publications = [_publication(m) for m in batch]
        report = self.publisher.publish(publications)
        for n, (message, publication) in enumerate(zip(batch, publications, strict=True)):
            # Identity: amqp_routing_key returns the key itself when it fits, the common case.
            if publication.routing_key is not message.routing_key and n < len(report.outcomes):
                note = cut_note(message.routing_key, publication.routing_key)
                log.warning("%s: push %d: %s", self.name, message.id, note)
                if report.outcomes[n].result is Result.OK:
                    report.outcomes[n] = Outcome(Result.OK, note)  # said in the message's log row too
        if report.failure is None:
            return report.outcomes
        detail = redact(report.failure.detail, self._password)
        if report.failure.fatal:
            log.error("%s: %s", self.name, detail)
            raise ConnectorFatal(detail, outcomes=report.outcomes)  # what was confirmed before counts
        log.warning(
            "%s: stopped after %d of %d messages: %s", self.name, len(report.outcomes), len(batch), detail
        )
        return [*report.outcomes, Outcome(Result.TRANSIENT, detail)]

    def close(self) -> None:
        self.publisher.close()


def _publication(message: PushMessage) -> Publication:
    """Build the AMQP message for a push message: its payload verbatim, as Bugzilla wrote it."""
    row, key = message.row, amqp_routing_key(message.routing_key)
    properties = pika.BasicProperties(
        content_type="application/json",
        delivery_mode=PERSISTENT,
        message_id=str(row.id),
        timestamp=calendar.timegm(row.push_ts.timetuple()),  # push_ts is naive UTC
    )
    try:
        body = row.payload.encode("utf-8")
    except UnicodeEncodeError as exc:
        return Publication(key, b"", properties, f"payload cannot be encoded as UTF-8: {exc}")
    return Publication(key, body, properties)


def _tls_options(info: ConnectionInfo, ca_file: str | None) -> pika.SSLOptions:
    """Verify the broker's certificate and host name, against `ca_file` or the system's CAs."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConnectorConfigError(
            f"connection {info.conn_id!r}: cannot use ca_file {ca_file!r} from its extra: {exc}"
        ) from None
    return pika.SSLOptions(context, server_hostname=info.host)
