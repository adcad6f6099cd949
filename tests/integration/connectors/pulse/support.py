"""The real RabbitMQ on loopback for the Pulse tests: a bound queue to read back, and broker controls.

Every test gets its own exchange and queue names. Queues are durable with `x-expires`, so they
survive a broker restart (`rabbitmqctl stop_app`/`start_app`) and still vanish if a test dies
before its clean-up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pika

from bugzilla_push.connectors import ConnectionInfo
from bugzilla_push.model import PushRow

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from bugzilla_push.store import Store

AMQP_HOST = os.environ.get("BUGZILLA_PUSH_TEST_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("BUGZILLA_PUSH_TEST_AMQP_PORT", "5672"))
QUEUE_EXPIRES_MS = 15 * 60 * 1000


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def rabbitmqctl(*args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"rabbitmqctl {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def port_open(host: str = AMQP_HOST, port: int = AMQP_PORT) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.1)


BROKER_LOCK = Path(tempfile.gettempdir()) / "bugzilla-push-test-broker.lock"


@contextlib.contextmanager
def broker_lock(exclusive: bool) -> Iterator[None]:
    """Hold the shared broker: alone (`exclusive`) or beside other tests; across processes."""
    with BROKER_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_broker_running() -> None:
    """Bring the broker's app back if an earlier (killed) test left it stopped; wait for the port."""
    if not port_open():
        rabbitmqctl("start_app")
    wait_until(port_open, 60, f"RabbitMQ on {AMQP_HOST}:{AMQP_PORT}")


@contextlib.contextmanager
def broker_stopped() -> Iterator[None]:
    """Stop the broker's app (its connections get 320 CONNECTION_FORCED); always start it again."""
    try:
        rabbitmqctl("stop_app")
        wait_until(lambda: not port_open(), 30, "the AMQP port to close")
        yield
    finally:
        start_broker()


def start_broker() -> None:
    rabbitmqctl("start_app")
    wait_until(port_open, 60, "the AMQP port to open again")


@contextlib.contextmanager
def broker_setting(key: str, value: int) -> Iterator[None]:
    """Set a `rabbit` application setting (such as max_message_size) and restore it afterwards."""
    before = rabbitmqctl("eval", f"application:get_env(rabbit, {key}).").strip()
    rabbitmqctl("eval", f"application:set_env(rabbit, {key}, {value}).")
    try:
        yield
    finally:
        if before.startswith("{ok,"):
            rabbitmqctl("eval", f"application:set_env(rabbit, {key}, {before[4:-1]}).")
        else:
            rabbitmqctl("eval", f"application:unset_env(rabbit, {key}).")


def close_client_connection(connection_name: str) -> None:
    """Close, from the broker's side, the client connection that announced this `connection_name`.

    Returns once the broker has sent Connection.Close; the broker then waits for the client's reply.
    """

    def pids() -> list[str]:
        listing = rabbitmqctl("list_connections", "--quiet", "--no-table-headers", "pid", "client_properties")
        marker = json.dumps(["connection_name", connection_name])[1:-1].replace(", ", ",")
        return [line.split("\t", 1)[0] for line in listing.splitlines() if marker in line]

    found = pids()
    assert found, f"no connection named {connection_name!r}"
    for pid in found:
        rabbitmqctl("close_connection", pid, "closed by a test")


def blocking(vhost: str = "/") -> pika.BlockingConnection:
    params = pika.ConnectionParameters(AMQP_HOST, AMQP_PORT, vhost, heartbeat=0)
    return pika.BlockingConnection(params)


@dataclass(frozen=True)
class Received:
    """A message read back from the test queue."""

    message_id: int
    routing_key: str
    body: dict[str, Any]
    properties: pika.BasicProperties
    raw: bytes


@dataclass
class BoundQueue:
    """A durable topic exchange and a queue bound to it with `#`, as a Pulse consumer would have.

    :param arguments: extra queue arguments (for example a length limit that makes the broker nack)
    """

    exchange: str
    queue: str
    vhost: str = "/"
    arguments: dict[str, Any] | None = None

    def declare(self) -> BoundQueue:
        with blocking(self.vhost) as conn:
            channel = conn.channel()
            channel.exchange_declare(self.exchange, "topic", durable=True)
            channel.queue_declare(
                self.queue, durable=True, arguments={"x-expires": QUEUE_EXPIRES_MS, **(self.arguments or {})}
            )
            channel.queue_bind(self.queue, self.exchange, "#")
        return self

    def depth(self) -> int:
        """How many messages the queue holds now."""
        with blocking(self.vhost) as conn:
            return conn.channel().queue_declare(self.queue, passive=True).method.message_count

    def drain(self) -> list[Received]:
        """Read (and acknowledge) everything in the queue, in queue order."""
        out: list[Received] = []
        with blocking(self.vhost) as conn:
            channel = conn.channel()
            while True:
                method, properties, body = channel.basic_get(self.queue, auto_ack=True)
                if method is None:
                    return out
                out.append(
                    Received(
                        int(properties.message_id), method.routing_key, json.loads(body), properties, body
                    )
                )

    def delete(self) -> None:
        with contextlib.suppress(pika.exceptions.AMQPError), blocking(self.vhost) as conn:
            channel = conn.channel()
            channel.queue_delete(self.queue)
            channel.exchange_delete(self.exchange)


def pulse_info(name: str, exchange: str, vhost: str = "/", **extra: Any) -> ConnectionInfo:
    """The connection a deployment would configure for the Pulse connector (guest on the local broker)."""
    options = {"exchange": exchange, **extra}
    return ConnectionInfo(name, "amqp", AMQP_HOST, AMQP_PORT, "guest", "guest", vhost, options)


def pulse_conn_json(
    exchange: str, vhost: str = "/", login: str = "guest", password: str = "guest", **extra: Any
) -> str:
    """The same as an `AIRFLOW_CONN_<NAME>` value (JSON form, so the vhost needs no URL-quoting)."""
    return json.dumps(
        {
            "conn_type": "amqp",
            "host": AMQP_HOST,
            "port": AMQP_PORT,
            "login": login,
            "password": password,
            "schema": vhost,
            "extra": {"exchange": exchange, **extra},
        }
    )


def dedup_keeps_order(received: list[int], expected: list[int], window: int) -> int:
    """Assert `received` is `expected` with at most one resent run of at most `window` ids; return its length.

    After a lost connection the publisher starts again at the first message it had no confirm
    for, so a consumer sees `expected[:a] + expected[b:]` with `b <= a`: the ids `b..a-1` twice.
    """
    first_seen = list(dict.fromkeys(received))
    assert first_seen == expected, "messages lost or out of order"
    resent = len(received) - len(expected)
    assert 0 <= resent <= window, f"{resent} duplicates, more than the confirm window {window}"
    if resent:
        cut = next(i for i in range(1, len(received)) if received[i] <= received[i - 1])
        assert received[:cut] + received[cut + resent :] == expected, "the resent ids are not one run"
        assert received[cut : cut + resent] == received[cut - resent : cut], "the resent run is not a repeat"
    return resent


def rows(store: Store) -> list[PushRow]:
    return [
        PushRow(*r)
        for r in store.query("SELECT id, push_ts, payload, change_set, routing_key FROM push ORDER BY id")
    ]


def is_public_or_privacy_transition(row: PushRow) -> bool:
    """The spec's privacy rule, read straight from the payload."""
    body = json.loads(row.payload)
    target = body[body["event"]["target"]]
    bug = target.get("bug") if isinstance(target.get("bug"), dict) else {}
    private = bool(target.get("is_private") or bug.get("is_private"))
    return not private or row.routing_key.endswith(".modify:is_private")


def public_ids(store: Store) -> list[int]:
    """The pending ids the Pulse connector should publish, in order."""
    return [r.id for r in rows(store) if is_public_or_privacy_transition(r)]
