"""The Pulse hook's Test button against the real RabbitMQ: what it says for each way to be wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from bugzilla_push.airflow.hooks.pulse import PulseHook, PulseTlsHook
from tests.integration.airflow.hooks.support import press_test
from tests.integration.connectors.pulse.support import AMQP_HOST, AMQP_PORT, blocking, unique
from tests.integration.console.server import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("rabbitmq")]


def pulse(exchange: str, **fields: Any) -> dict[str, Any]:
    extra = fields.pop("extra", {})
    conn = {"conn_type": "amqp", "host": AMQP_HOST, "port": AMQP_PORT, "login": "guest"}
    conn |= {"password": "guest", "schema": "/", **fields}
    # What the UI's form writes: every option, null where it was left empty.
    return conn | {"extra": {"exchange": exchange, "confirm_window": None, "ca_file": "", **extra}}


@pytest.fixture
def exchange() -> Iterator[str]:
    """A name under exchange/guest/, deleted afterwards whatever a test declared there."""
    name = unique("exchange/guest/form-test")
    yield name
    with blocking() as conn:
        conn.channel().exchange_delete(name)


def declare(name: str, kind: str) -> None:
    with blocking() as conn:
        conn.channel().exchange_declare(name, exchange_type=kind, durable=True)


def test_a_durable_topic_exchange_passes(exchange: str) -> None:
    declare(exchange, "topic")
    ok, message = press_test(PulseHook, pulse(exchange, extra={"declare": False}))
    assert ok, message
    assert f"exchange {exchange!r} is a durable topic exchange" in message
    assert "virtual host '/', user 'guest'" in message


def test_a_missing_exchange_passes_when_delivery_declares_it_and_is_not_created(exchange: str) -> None:
    ok, message = press_test(PulseHook, pulse(exchange))
    assert ok, message
    assert "does not exist yet and is declared (a durable topic exchange) on the first delivery" in message
    with blocking() as conn, pytest.raises(Exception, match="NOT_FOUND"):
        conn.channel().exchange_declare(exchange, passive=True)  # the Test created nothing


def test_a_missing_exchange_fails_when_delivery_must_find_it(exchange: str) -> None:
    ok, message = press_test(PulseHook, pulse(exchange, extra={"declare": False}))
    assert not ok
    assert f"exchange {exchange!r} in virtual host '/' does not exist" in message
    assert 'set "declare": true in the extra of this connection' in message


@pytest.mark.parametrize("declaring", [True, False])
def test_an_exchange_of_another_type_is_named_with_both_types(exchange: str, declaring: bool) -> None:
    declare(exchange, "fanout")
    ok, message = press_test(PulseHook, pulse(exchange, extra={"declare": declaring}))
    assert not ok
    assert f"exchange {exchange!r} in virtual host '/' exists with other settings" in message
    assert "inequivalent arg 'type'" in message
    assert "received 'topic' but current is 'fanout'" in message


def test_a_wrong_password_is_a_refused_login(exchange: str) -> None:
    ok, message = press_test(PulseHook, pulse(exchange, password="not-the-password"))
    assert not ok
    assert message == (
        f"RabbitMQ at {AMQP_HOST}:{AMQP_PORT} refused the login of user 'guest': fix the login or password "
        "of this connection"
    )
    assert "not-the-password" not in message


def test_a_missing_vhost_is_named(exchange: str) -> None:
    vhost = unique("bp-no-such-vhost")
    ok, message = press_test(PulseHook, pulse(exchange, schema=vhost))
    assert not ok
    assert f"virtual host {vhost!r} does not exist on {AMQP_HOST}:{AMQP_PORT}" in message
    assert (
        "set the vhost (the path of amqp://host:port/<vhost>, the schema field) of this connection" in message
    )


def test_a_closed_port_is_a_refused_connection(exchange: str) -> None:
    port = free_port()
    ok, message = press_test(PulseHook, pulse(exchange, port=port))
    assert not ok
    assert message == f"cannot connect to {AMQP_HOST}:{port}: connection refused"


def test_a_broker_without_tls_fails_an_amqps_connection_in_words(exchange: str) -> None:
    ok, message = press_test(PulseTlsHook, pulse(exchange, conn_type="amqps"))
    assert not ok
    assert message.startswith(f"{AMQP_HOST}:{AMQP_PORT} does not answer TLS: use the broker's TLS port")


def test_invalid_options_are_named_before_connecting(exchange: str) -> None:
    ok, message = press_test(PulseHook, pulse(exchange, extra={"confirm_window": 0, "colour": "red"}))
    assert not ok
    assert message.startswith("this connection (type amqp) has invalid extra options: ")
    assert "confirm_window: Input should be greater than or equal to 1" in message
    assert "colour: Extra inputs are not permitted" in message
