"""The TCP proxy's delay, over real sockets on loopback: late by the delay each way, in order, overlapping.

The Pulse benchmark's figures across a network rest on these: a chunk crosses no sooner than the
delay, bytes never change order, and chunks in flight do not wait for each other (else the link's
throughput would fall with its latency, as no network's does).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import TYPE_CHECKING

import pytest

from tests.doubles.tcp_proxy import FreezableProxy

if TYPE_CHECKING:
    from collections.abc import Iterator

DELAY = 0.05  # seconds each way: large against the scheduling noise of a loaded machine


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    """A TCP server that sends back whatever it receives."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[:2]
    thread.join(timeout=5)


def receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(65536)
        assert chunk, "the proxy closed the connection"
        data += chunk
    return data


def test_a_round_trip_takes_the_delay_each_way(echo: tuple[str, int]) -> None:
    with (
        FreezableProxy(echo, delay=DELAY) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port)) as sock,
    ):
        trips = []
        for n in range(5):
            started = time.monotonic()
            sock.sendall(bytes([n]))
            assert receive(sock, 1) == bytes([n])
            trips.append(time.monotonic() - started)
    assert min(trips) >= 2 * DELAY * 0.95  # the oversleep correction may wake it a little early
    assert sorted(trips)[2] < 2 * DELAY + 0.05


def test_chunks_in_flight_overlap_and_keep_their_order(echo: tuple[str, int]) -> None:
    chunks = [bytes([n % 256]) * (1000 + n) for n in range(200)]
    with (
        FreezableProxy(echo, delay=DELAY) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port)) as sock,
    ):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.monotonic()
        for chunk in chunks:
            sock.sendall(chunk)
            time.sleep(0.001)  # separate reads in the proxy, as separate packets
        echoed = receive(sock, sum(map(len, chunks)))
        elapsed = time.monotonic() - started
    assert echoed == b"".join(chunks)
    # Sending takes about 0.2 s; one chunk at a time, each waiting out the delay, would take 20 s.
    assert elapsed < 2 * DELAY + 2.0


def test_a_refused_upstream_ends_that_connection_and_the_next_gets_through() -> None:
    spare = socket.create_server(("127.0.0.1", 0))
    upstream = spare.getsockname()[:2]
    spare.close()  # nothing listens there now: a stopped service
    with FreezableProxy(upstream) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            sock.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(1) == b""
        with socket.create_server(upstream) as server, socket.create_connection(("127.0.0.1", proxy.port)):
            server.settimeout(5)
            server.accept()[0].close()  # the proxy connected: it kept accepting
