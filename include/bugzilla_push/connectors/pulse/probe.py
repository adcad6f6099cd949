"""The Pulse connection's check for Airflow's **Test** button: log in, open the vhost, look at the exchange.

Nothing is published. The exchange is looked up with a passive declare (404 if it is missing); AMQP's
answer to that carries no type, so an existing exchange is then declared again as a durable topic
exchange, which changes nothing when it is one and is refused (406, with the broker saying what
differs) when it is of another type. That second declare needs the configure permission, which a
connection with `"declare": false` does not need for delivery: without it the type is left unchecked.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import pika
from pika.exceptions import AMQPError, ChannelClosedByBroker

from bugzilla_push.connectors.pulse.errors import (
    ACCESS_REFUSED,
    NOT_FOUND,
    classify_channel_closed,
    classify_open_error,
    root_cause,
)

if TYPE_CHECKING:
    from pika.adapters.blocking_connection import BlockingConnection

    from bugzilla_push.connectors.pulse.connector import PulseConnector
    from bugzilla_push.connectors.pulse.errors import Target


def probe(connector: PulseConnector) -> tuple[bool, str]:
    """Return whether delivery would get through to the exchange, and what was found, in words."""
    target = connector.target
    try:
        conn = pika.BlockingConnection(connector.publisher.parameters)
    except (AMQPError, OSError) as exc:  # pika wraps what failed (socket, TLS, AMQP) in AMQPError
        if "WRONG_VERSION_NUMBER" in str(root_cause(exc)):
            return False, (
                f"{target.address} does not answer TLS: use the broker's TLS port (5671 by default), or "
                "type amqp with TLS off for a plain connection"
            )
        return False, classify_open_error(exc, target).detail or str(exc)
    try:
        return _check_exchange(conn, target)
    except ChannelClosedByBroker as exc:
        return False, classify_channel_closed(exc, target, declaring=True).detail or str(exc)
    finally:
        if conn.is_open:
            with contextlib.suppress(AMQPError):  # the answer is known; a failed goodbye changes nothing
                conn.close()


def _check_exchange(conn: BlockingConnection, target: Target) -> tuple[bool, str]:
    where = f"RabbitMQ at {target.address}, virtual host {target.vhost!r}, user {target.login!r}"
    exchange = f"exchange {target.exchange!r}"
    try:
        conn.channel().exchange_declare(target.exchange, passive=True)
    except ChannelClosedByBroker as exc:
        if exc.reply_code == NOT_FOUND and target.declare:
            return True, (
                f"{where}: connected; {exchange} does not exist yet and is declared (a durable topic "
                "exchange) on the first delivery, which needs the configure permission on it"
            )
        raise
    try:
        conn.channel().exchange_declare(target.exchange, exchange_type="topic", durable=True)
    except ChannelClosedByBroker as exc:
        if exc.reply_code == ACCESS_REFUSED and not target.declare:
            return True, (
                f"{where}: connected; {exchange} exists (its type is not checked: the user may not "
                "configure it, which publishing does not need)"
            )
        raise
    return True, f"{where}: connected; {exchange} is a durable topic exchange"
