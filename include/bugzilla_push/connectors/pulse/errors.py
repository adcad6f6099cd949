"""What a RabbitMQ error means for delivery: retry later (transient) or stop until fixed (fatal).

Pika reports failures as exceptions handed to callbacks: a failed connection set-up, a connection
or a channel closed by the broker, a heartbeat or blocked-connection timeout. This module turns
each into an :class:`Outcome` for the message it stopped at, :meth:`Outcome.transient` or
:meth:`Outcome.fatal`, whose text says what happened and, for a fatal one, what to change.
Message-level problems (a body over the broker's size limit) are read with :func:`size_limit`.
"""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass

from pika import exceptions as px

from bugzilla_push.connectors.base import Outcome

# AMQP 0-9-1 reply codes that matter here.
CONNECTION_FORCED = 320  # the broker is shutting down or an operator closed the connection
ACCESS_REFUSED = 403
NOT_FOUND = 404
PRECONDITION_FAILED = 406  # also: a message over max_message_size
NOT_ALLOWED = 530  # e.g. "vhost x not found"

_TOO_BIG = re.compile(r"message size (?P<size>\d+) is larger than (?:configured )?max size (?P<limit>\d+)")


@dataclass(frozen=True, slots=True)
class Target:
    """Where the connector publishes; used to word failures.

    :param conn_id: the Airflow connection (and connector) name
    :param declare: whether the connector declares the exchange itself
    """

    conn_id: str
    host: str
    port: int
    vhost: str
    login: str
    exchange: str
    declare: bool

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def root_cause(exc: BaseException) -> BaseException:
    """Unwrap pika's connection-workflow wrappers down to the error that started it."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "exceptions", None) or ()
        if inner:
            exc = inner[-1]
        elif isinstance(getattr(exc, "exception", None), BaseException):
            exc = exc.exception  # type: ignore[attr-defined]
        elif exc.args and isinstance(exc.args[0], BaseException):
            exc = exc.args[0]
        else:
            break
    return exc


def _reply(exc: BaseException) -> tuple[int | None, str]:
    """Return the broker's (reply code, reply text) if `exc` carries one, else (None, description)."""
    if isinstance(exc, px.ConnectionClosed | px.ChannelClosed):
        return exc.reply_code, exc.reply_text
    # Wrapped errors carry the broker's reply as text: "(530) 'NOT_ALLOWED - …'" (repr quoting).
    match = re.search(r"\((\d{3})\) (['\"])(.*?)\2", str(exc))
    if match:
        return int(match[1]), match[3]
    return None, str(exc) or type(exc).__name__


def classify_open_error(exc: BaseException, target: Target) -> Outcome:
    """Classify a failure to open the connection (before any channel)."""
    conn = f"Airflow connection {target.conn_id!r}"
    if isinstance(exc, px.ProbableAuthenticationError | px.AuthenticationError):
        return Outcome.fatal(
            f"RabbitMQ at {target.address} refused the login of user {target.login!r}: fix the login or "
            f"password of {conn}"
        )
    if isinstance(exc, px.ProbableAccessDeniedError):
        _, text = _reply(exc)
        if "not found" in text:
            return Outcome.fatal(
                f"virtual host {target.vhost!r} does not exist on {target.address} ({text}): set the vhost "
                f"(the path of amqp://host:port/<vhost>, the schema field) of {conn} to an existing one"
            )
        return Outcome.fatal(
            f"user {target.login!r} may not use virtual host {target.vhost!r} on {target.address} ({text}): "
            f"grant access (rabbitmqctl set_permissions -p <vhost> <user> …) or fix the vhost of {conn}"
        )
    if isinstance(exc, px.IncompatibleProtocolError):
        return Outcome.fatal(f"{target.address} does not speak AMQP 0-9-1: check the host and port of {conn}")
    return classify_lost(exc, target)


def classify_lost(exc: BaseException, target: Target) -> Outcome:
    """Classify a connection that could not be made or was lost: all transient, except bad TLS trust."""
    cause = root_cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return Outcome.fatal(
            f"TLS certificate of {target.host} is not trusted ({cause.verify_message}): set the extra's "
            f"ca_file of Airflow connection {target.conn_id!r}, or fix the host name"
        )
    if isinstance(exc, px.ConnectionClosedByBroker):
        if exc.reply_code == CONNECTION_FORCED:
            return Outcome.transient(
                f"broker closed the connection (320 {exc.reply_text}): restarting or stopped"
            )
        return Outcome.transient(f"broker closed the connection ({exc.reply_code} {exc.reply_text})")
    if isinstance(exc, px.AMQPHeartbeatTimeout):
        return Outcome.transient(f"connection to {target.address} lost: no heartbeat ({exc})")
    if isinstance(exc, px.ConnectionBlockedTimeout):
        return Outcome.transient(
            f"broker at {target.address} blocked publishing (memory or disk alarm) for longer than "
            "blocked_connection_timeout"
        )
    if isinstance(cause, ConnectionRefusedError):
        return Outcome.transient(f"cannot connect to {target.address}: connection refused")
    if isinstance(cause, socket.gaierror):
        return Outcome.transient(f"cannot resolve host {target.host!r}: {cause.strerror or cause}")
    if isinstance(cause, TimeoutError) or "Timeout" in type(cause).__name__:
        return Outcome.transient(f"connecting to {target.address} timed out")
    if isinstance(exc, px.StreamLostError):
        return Outcome.transient(f"connection to {target.address} lost: {exc}")
    return Outcome.transient(f"connection to {target.address} failed: {type(cause).__name__}: {cause}")


def classify_channel_closed(exc: BaseException, target: Target, declaring: bool) -> Outcome:
    """Classify a channel the broker closed while opening it (`declaring`) or while publishing."""
    code, text = _reply(exc)
    conn = f"Airflow connection {target.conn_id!r}"
    where = f"exchange {target.exchange!r} in virtual host {target.vhost!r}"
    if code == NOT_FOUND:
        if target.declare and not declaring:
            return Outcome.transient(f"{where} disappeared while publishing ({text}); it is declared again")
        return Outcome.fatal(
            f"{where} does not exist ({text}): create it as a durable topic exchange, or set "
            f'"declare": true in the extra of {conn}'
        )
    if code == ACCESS_REFUSED:
        action = "declare (configure)" if declaring else "publish to (write)"
        return Outcome.fatal(
            f"user {target.login!r} may not {action} {where} ({text}): grant the permission, or use an "
            f"exchange the user owns (on Pulse: exchange/{target.login}/<name>) in the extra of {conn}"
        )
    if code == PRECONDITION_FAILED and declaring:
        return Outcome.fatal(
            f"{where} exists with other settings ({text}): it must be a durable topic exchange; re-create "
            f"it or choose another exchange name in the extra of {conn}"
        )
    if code == CONNECTION_FORCED:
        return Outcome.transient(f"broker closed the channel (320 {text}): restarting or stopped")
    return Outcome.transient(
        f"broker closed the channel ({code} {text})" if code else f"channel closed: {text}"
    )


def size_limit(exc: BaseException) -> int | None:
    """Return the broker's `max_message_size` if a message over it made the broker close the channel."""
    code, text = _reply(exc)
    match = _TOO_BIG.search(text) if code == PRECONDITION_FAILED else None
    return int(match["limit"]) if match else None
