"""The connector hooks without a destination: how Airflow makes them, what they build, how they word."""

from __future__ import annotations

import json
import os
from unittest import mock

import pytest

from bugzilla_push.airflow.hooks.pulse import PulseHook, PulseTlsHook
from bugzilla_push.airflow.hooks.webhook import WebhookHook
from bugzilla_push.connectors import ConnectorConfigError


def env_conn(conn_id: str, **fields: object) -> dict[str, str]:
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(fields)}


def test_a_hook_takes_its_id_by_position_by_its_keyword_or_by_default() -> None:
    assert PulseHook().pulse_conn_id == "pulse"
    assert PulseHook("pulse_a").conn_id == "pulse_a"
    assert PulseTlsHook(pulse_conn_id="pulse_b").conn_id == "pulse_b"


def test_airflow_makes_the_hook_of_each_type_as_the_test_api_does() -> None:
    from airflow.models.connection import Connection

    hook = Connection(conn_id="tmp_x1", conn_type="amqps").get_hook()
    assert type(hook) is PulseTlsHook
    assert hook.conn_id == "tmp_x1"
    assert type(Connection(conn_id="tmp_x2", conn_type="webhook").get_hook()) is WebhookHook


def test_options_the_form_left_empty_take_their_defaults() -> None:
    extra = {"exchange": "exchange/bugzilla/x", "confirm_window": None, "ca_file": "", "declare": False}
    conn = env_conn("pulse_e", conn_type="amqp", host="broker", login="bugzilla", extra=extra)
    with mock.patch.dict(os.environ, conn):
        connector = PulseHook("pulse_e").get_conn()
    assert (connector.target.exchange, connector.target.declare) == ("exchange/bugzilla/x", False)
    assert connector.publisher.window == 1000


def test_a_connection_of_another_connector_is_refused_by_name() -> None:
    conn = env_conn("hook_w", conn_type="webhook", host="https://hooks.example.org/x")
    with mock.patch.dict(os.environ, conn), pytest.raises(ConnectorConfigError) as raised:
        PulseHook("hook_w").get_conn()
    assert (
        str(raised.value)
        == "connection 'hook_w' selects the WebhookConnector, not the PulseConnector of PulseHook"
    )


def test_a_bad_form_fails_the_test_in_words_naming_this_connection() -> None:
    conn = env_conn("pulse_bad", conn_type="amqp", host="broker", login="u", extra={"exchange": "amq.topic"})
    with mock.patch.dict(os.environ, conn):
        ok, message = PulseHook("pulse_bad").test_connection()
    assert not ok
    assert message == (
        "this connection (type amqp) has invalid extra options: exchange: Value error, names starting with "
        "'amq.' are reserved by the broker"
    )
