"""How broker and network errors are classified: transient (retry) or fatal (an operator must act)."""

from __future__ import annotations

import socket

import pytest
from pika import exceptions as px
from pika.adapters.utils.connection_workflow import (
    AMQPConnectionWorkflowFailed,
    AMQPConnectorSocketConnectError,
)

from bugzilla_push.connectors.pulse.errors import (
    Target,
    classify_channel_closed,
    classify_lost,
    classify_open_error,
    root_cause,
    size_limit,
)

TARGET = Target("pulse", "pulse.example", 5671, "bugzilla", "bugzilla", "exchange/bugzilla/simple", False)
DECLARING = Target("pulse", "pulse.example", 5671, "bugzilla", "bugzilla", "exchange/bugzilla/simple", True)


def refused() -> px.AMQPConnectionError:
    inner = AMQPConnectorSocketConnectError(ConnectionRefusedError(111, "Connection refused"))
    return px.AMQPConnectionError(AMQPConnectionWorkflowFailed([inner]))


def test_the_root_cause_is_found_under_pikas_wrappers() -> None:
    assert isinstance(root_cause(refused()), ConnectionRefusedError)


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (
            px.ProbableAuthenticationError(
                "ConnectionClosedByBroker: (403) 'ACCESS_REFUSED - Login was refused'"
            ),
            "refused the login of user 'bugzilla': fix the login or password of Airflow connection 'pulse'",
        ),
        (
            px.ProbableAccessDeniedError(
                "ConnectionClosedByBroker: (530) 'NOT_ALLOWED - vhost bugzilla not found'"
            ),
            "virtual host 'bugzilla' does not exist on pulse.example:5671",
        ),
        (
            px.ProbableAccessDeniedError(
                "ConnectionClosedByBroker: (530) \"NOT_ALLOWED - access to vhost 'bugzilla' refused\""
            ),
            "may not use virtual host 'bugzilla' on pulse.example:5671 "
            "(NOT_ALLOWED - access to vhost 'bugzilla' refused)",
        ),
        (px.IncompatibleProtocolError("StreamLostError"), "does not speak AMQP 0-9-1"),
    ],
)
def test_connection_set_up_failures_an_operator_must_fix_are_fatal(exc: Exception, says: str) -> None:
    failure = classify_open_error(exc, TARGET)
    assert failure.connector_fatal
    assert says in failure.detail


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (refused(), "cannot connect to pulse.example:5671: connection refused"),
        (px.AMQPConnectionError(socket.gaierror(-2, "Name or service not known")), "cannot resolve host"),
        (
            px.ConnectionClosedByBroker(320, "CONNECTION_FORCED - broker forced connection closure"),
            "(320 CONNECTION_FORCED",
        ),
        (
            px.AMQPHeartbeatTimeout("No activity or too many missed heartbeats in the last 60 seconds"),
            "no heartbeat",
        ),
        (px.ConnectionBlockedTimeout("Blocked connection timeout expired."), "blocked publishing"),
        (px.StreamLostError("Transport indicated EOF"), "connection to pulse.example:5671 lost"),
    ],
)
def test_lost_or_refused_connections_are_transient(exc: Exception, says: str) -> None:
    failure = classify_open_error(exc, TARGET)
    assert not failure.connector_fatal
    assert says in failure.detail
    assert classify_lost(exc, TARGET) == failure


@pytest.mark.parametrize(
    ("code", "text", "target", "declaring", "fatal", "says"),
    [
        (404, "NOT_FOUND - no exchange", TARGET, True, True, 'or set "declare": true in the extra'),
        (404, "NOT_FOUND - no exchange", TARGET, False, True, "does not exist"),
        (404, "NOT_FOUND - no exchange", DECLARING, False, False, "disappeared while publishing"),
        (403, "ACCESS_REFUSED - access to exchange", TARGET, True, True, "may not declare (configure)"),
        (403, "ACCESS_REFUSED - access to exchange", TARGET, False, True, "may not publish to (write)"),
        (
            406,
            "PRECONDITION_FAILED - inequivalent arg 'type'",
            DECLARING,
            True,
            True,
            "durable topic exchange",
        ),
        (406, "PRECONDITION_FAILED - something else", TARGET, False, False, "(406 PRECONDITION_FAILED"),
        (320, "CONNECTION_FORCED - shutdown", TARGET, False, False, "restarting or stopped"),
        (541, "INTERNAL_ERROR", TARGET, False, False, "(541 INTERNAL_ERROR)"),
    ],
)
def test_channel_closures_are_classified_by_reply_code(
    code: int, text: str, target: Target, declaring: bool, fatal: bool, says: str
) -> None:
    failure = classify_channel_closed(px.ChannelClosedByBroker(code, text), target, declaring)
    assert failure.connector_fatal is fatal
    assert says in failure.detail


def test_access_refused_suggests_the_pulse_exchange_naming() -> None:
    failure = classify_channel_closed(px.ChannelClosedByBroker(403, "ACCESS_REFUSED"), TARGET, True)
    assert "exchange/bugzilla/<name>" in failure.detail


def test_the_brokers_size_limit_is_read_from_its_refusal() -> None:
    exc = px.ChannelClosedByBroker(
        406, "PRECONDITION_FAILED - message size 201404 is larger than configured max size 100000"
    )
    assert size_limit(exc) == 100_000
    assert size_limit(px.ChannelClosedByBroker(406, "PRECONDITION_FAILED - inequivalent arg")) is None
    assert size_limit(px.ChannelClosedByBroker(404, "message size 5 is larger than max size 4")) is None
