"""`amqps://`: the Pulse connector over TLS, through a TLS-terminating proxy in front of the broker."""

from __future__ import annotations

import json
import ssl
import subprocess
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.connectors import ConnectorFatal, build_connector, raise_if_fatal
from bugzilla_push.connectors.base import Outcome
from bugzilla_push.model import PushRow, parse_message
from bugzilla_push.samples import BugzillaSimulator
from tests.doubles.tcp_proxy import FreezableProxy
from tests.integration.connectors.pulse.support import (
    AMQP_HOST,
    AMQP_PORT,
    BoundQueue,
    pulse_info,
)
from tests.support import store_now

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("rabbitmq")]


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 and localhost; its key is next to it."""
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return tmp_path / "cert.pem"


@pytest.fixture
def tls_proxy(certificate: Path) -> Iterator[FreezableProxy]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, certificate.parent / "key.pem")
    with FreezableProxy((AMQP_HOST, AMQP_PORT), tls=context) as proxy:
        yield proxy


def messages(count: int) -> list:
    generated = BugzillaSimulator(seed=41, private_ratio=0.0).messages(count)
    rows = [
        PushRow(n, store_now(), json.dumps(m["payload"]), m["change_set"], m["routing_key"])
        for n, m in enumerate(generated, start=1)
    ]
    return [parse_message(r, 10**7) for r in rows]


def test_amqps_delivers_when_the_brokers_certificate_is_trusted(
    queue: BoundQueue, tls_proxy: FreezableProxy, certificate: Path
) -> None:
    info = pulse_info("pulse", queue.exchange, ca_file=str(certificate))
    info = replace(info, conn_type="amqps", port=tls_proxy.port)
    with build_connector(info) as connector:
        assert connector.send(messages(50)) == [Outcome.sent()] * 50
    assert [m.message_id for m in queue.drain()] == list(range(1, 51))
    assert tls_proxy.handshake_errors == []


def test_an_untrusted_certificate_stops_the_connector_and_says_how_to_fix_it(
    queue: BoundQueue, tls_proxy: FreezableProxy
) -> None:
    info = replace(pulse_info("pulse", queue.exchange), conn_type="amqps", port=tls_proxy.port)
    with build_connector(info) as connector, pytest.raises(ConnectorFatal) as raised:
        raise_if_fatal(connector.send(messages(5)))
    assert "TLS certificate of 127.0.0.1 is not trusted" in str(raised.value)
    assert "ca_file" in str(raised.value)
    assert queue.drain() == []
