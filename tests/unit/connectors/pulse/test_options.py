"""The Pulse connector without a broker: its connection and options, the privacy filter, the AMQP message."""

from __future__ import annotations

import calendar
import json
import os
from dataclasses import replace
from datetime import datetime
from types import SimpleNamespace
from unittest import mock

import pytest

from bugzilla_push.airflow.connectors import load_connector
from bugzilla_push.connectors import ConnectionInfo, ConnectorConfigError, build_connector
from bugzilla_push.connectors.pulse.connector import PulseConnector, _publication
from bugzilla_push.model import PushMessage, PushRow, parse_message

PULSE = ConnectionInfo("pulse", "amqp", "pulse.example", None, "bugzilla", "s3cret-pw", None, {})


def connector(info: ConnectionInfo = PULSE, **extra: object) -> PulseConnector:
    built = build_connector(replace(info, extra={**info.extra, **extra}))
    assert isinstance(built, PulseConnector)
    return built


def test_defaults_follow_pulse_conventions() -> None:
    pulse = connector()
    params = pulse.publisher.parameters
    assert pulse.target.exchange == "exchange/bugzilla/bugzilla"  # a Pulse user may write only there
    assert pulse.target.declare is True
    assert (params.host, params.port, params.virtual_host) == ("pulse.example", 5672, "/")
    assert params.ssl_options is None
    assert params.heartbeat == 60
    assert params.blocked_connection_timeout == 300
    assert params.connection_attempts == 1  # retrying is the engine's job (backlog and backoff)
    assert params.client_properties == {"connection_name": "bugzilla-push pulse"}
    assert pulse.publisher.window == 1000
    assert pulse.publisher.confirm_timeout == 30
    assert pulse.publisher.max_body is None


def test_options_from_the_extra_are_applied() -> None:
    pulse = connector(
        exchange="exchange/bugzilla/simple",
        declare=False,
        confirm_window=250,
        heartbeat=15,
        blocked_connection_timeout=20,
        confirm_timeout=5,
        connect_timeout=3,
        max_message_bytes=1_000_000,
    )
    params = pulse.publisher.parameters
    assert (pulse.target.exchange, pulse.target.declare) == ("exchange/bugzilla/simple", False)
    assert (params.heartbeat, params.blocked_connection_timeout) == (15, 20)
    assert (params.socket_timeout, params.stack_timeout) == (3, 6)
    assert (pulse.publisher.window, pulse.publisher.confirm_timeout, pulse.publisher.max_body) == (
        250,
        5,
        1_000_000,
    )


def test_an_airflow_connection_uri_is_read_with_its_vhost_and_options() -> None:
    uri = "amqp://bugzilla:s3cret@pulse.example:5672/bugzilla?exchange=exchange%2Fbugzilla%2Fsimple&confirm_window=50"
    with mock.patch.dict(os.environ, {"AIRFLOW_CONN_PULSE": uri}):
        pulse = load_connector("pulse")
    assert isinstance(pulse, PulseConnector)
    assert pulse.publisher.parameters.virtual_host == "bugzilla"  # BMO's connector ignored the vhost
    assert pulse.publisher.parameters.credentials.username == "bugzilla"
    assert pulse.target.exchange == "exchange/bugzilla/simple"
    assert pulse.publisher.window == 50


def test_the_default_vhost_is_written_as_percent_2f_in_a_uri() -> None:
    with mock.patch.dict(os.environ, {"AIRFLOW_CONN_PULSE": "amqp://u:p@h:5672/%2F"}):
        assert load_connector("pulse").publisher.parameters.virtual_host == "/"


def test_amqps_turns_on_tls_with_certificate_and_host_checks() -> None:
    pulse = connector(replace(PULSE, conn_type="amqps"))
    params = pulse.publisher.parameters
    assert params.port == 5671
    assert params.ssl_options is not None
    assert params.ssl_options.server_hostname == "pulse.example"
    assert params.ssl_options.context.check_hostname is True
    assert connector(replace(PULSE, conn_type="amqps"), tls=False).publisher.parameters.ssl_options is None
    assert connector(tls=True).publisher.parameters.port == 5671


def test_an_unreadable_ca_file_is_a_configuration_error() -> None:
    with pytest.raises(ConnectorConfigError, match="cannot use ca_file '/nonexistent/ca.pem'"):
        connector(tls=True, ca_file="/nonexistent/ca.pem")


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ({"exchnage": "x"}, "exchnage: Extra inputs are not permitted"),
        ({"confirm_window": 0}, "confirm_window: Input should be greater than or equal to 1"),
        ({"exchange": "amq.topic"}, "reserved by the broker"),
        ({"exchange": ""}, "exchange: String should have at least 1 character"),
        ({"heartbeat": -1}, "heartbeat: Input should be greater than or equal to 0"),
        ({"declare": "perhaps"}, "declare: Input should be a valid boolean"),
    ],
)
def test_bad_options_name_the_connection_and_the_option(extra: dict, complaint: str) -> None:
    with pytest.raises(ConnectorConfigError) as raised:
        connector(**extra)
    assert "connection 'pulse' (type amqp) has invalid extra options" in str(raised.value)
    assert complaint in str(raised.value)


@pytest.mark.parametrize("missing", ["host", "login"])
def test_a_connection_without_host_or_login_says_how_to_write_one(missing: str) -> None:
    with pytest.raises(ConnectorConfigError) as raised:
        connector(replace(PULSE, **{missing: None}))
    assert "amqp://user:password@host:5672/vhost" in str(raised.value)
    assert "s3cret-pw" not in str(raised.value)


def test_the_password_is_not_in_the_connectors_repr() -> None:
    pulse = connector()
    assert "s3cret-pw" not in repr(pulse.publisher.parameters)
    assert "s3cret-pw" not in repr(vars(pulse.publisher))


def message(target: str, obj: dict, routing_key: str, push_id: int = 7) -> PushMessage:
    action = routing_key.split(".")[1].split(":")[0]
    payload = {
        target: {"id": 1, **obj},
        "event": {"action": action, "target": target, "routing_key": routing_key},
    }
    row = PushRow(push_id, datetime(2026, 11, 2, 9, 30, 5), json.dumps(payload), "4242.1", routing_key)
    return parse_message(row, 10**6)


@pytest.mark.parametrize(
    ("target", "obj", "routing_key", "sent"),
    [
        ("bug", {"is_private": False}, "bug.modify:status", True),
        ("bug", {"is_private": True}, "bug.modify:status", False),
        ("bug", {"is_private": True}, "bug.create", False),
        ("comment", {"is_private": False, "bug": {"id": 1, "is_private": True}}, "comment.create", False),
        ("comment", {"is_private": True, "bug": {"id": 1, "is_private": False}}, "comment.create", False),
        ("comment", {"is_private": False, "bug": {"id": 1, "is_private": False}}, "comment.create", True),
        (
            "attachment",
            {"is_private": False, "bug": {"id": 1, "is_private": True}},
            "attachment.create",
            False,
        ),
        # BMO's exception: the privacy transition itself, built from the public side, is published.
        ("bug", {"is_private": True}, "bug.modify:is_private", True),
        (
            "attachment",
            {"is_private": True, "bug": {"id": 1, "is_private": False}},
            "attachment.modify:is_private",
            True,
        ),
        ("bug", {"is_private": True}, "bug.modify:is_private,status", False),
    ],
)
def test_private_messages_are_ignored_except_the_is_private_transition(
    target: str, obj: dict, routing_key: str, sent: bool
) -> None:
    assert connector().should_send(message(target, obj, routing_key)) is sent


def test_the_amqp_message_is_the_payload_verbatim_persistent_json_with_the_push_id() -> None:
    m = message("bug", {"summary": "ünïcode"}, "bug.create", push_id=123456)
    publication = _publication(m)
    assert publication.body == m.row.payload.encode("utf-8")
    assert publication.routing_key == "bug.create"
    assert publication.rejected is None
    props = publication.properties
    assert props.message_id == "123456"
    assert props.delivery_mode == 2
    assert props.content_type == "application/json"
    assert props.timestamp == calendar.timegm((2026, 11, 2, 9, 30, 5, 0, 0, 0))


def test_a_payload_that_cannot_be_encoded_is_rejected_not_sent() -> None:
    row = message("bug", {}, "bug.create").row
    payload = row.payload[:-1] + "\ud800}"  # a lone surrogate: text that no UTF-8 can carry
    broken = SimpleNamespace(
        row=PushRow(row.id, row.push_ts, payload, row.change_set, row.routing_key),
        routing_key=row.routing_key,
    )
    publication = _publication(broken)  # type: ignore[arg-type]
    assert publication.rejected is not None
    assert "cannot be encoded as UTF-8" in publication.rejected
