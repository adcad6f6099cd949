"""What the connectors' destinations received: a Pulse queue, the Elasticsearch double, the file.

The Pulse queue is durable and bound with `#` before anything is published, so it sees every
message (persistent) across broker restarts. The Elasticsearch double records each write it
processed, in order, with its version (the push id) and status. `PulseTimer` is for latency
measurements: it consumes live and notes when each push id first arrived.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pika

from scripts.chaos.checker import Write
from tests.doubles.elasticsearch_server import EsTestServer

if TYPE_CHECKING:
    from pathlib import Path

AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672
QUEUE_EXPIRES_MS = 3 * 60 * 60 * 1000  # a crashed harness's queue goes away by itself


def _connect() -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.ConnectionParameters(AMQP_HOST, AMQP_PORT, "/", heartbeat=0))


@dataclass
class PulseTap:
    """A durable queue bound with `#` to the Pulse exchange, as a Pulse consumer would have."""

    exchange: str
    queue: str

    def declare(self) -> PulseTap:
        with _connect() as conn:
            channel = conn.channel()
            channel.exchange_declare(self.exchange, "topic", durable=True)
            channel.queue_declare(self.queue, durable=True, arguments={"x-expires": QUEUE_EXPIRES_MS})
            channel.queue_bind(self.queue, self.exchange, "#")
        return self

    def drain(self) -> list[int]:
        """Read (and acknowledge) everything, in queue order; return the message ids (push ids)."""
        ids: list[int] = []
        with _connect() as conn:
            channel = conn.channel()
            while True:
                method, properties, _ = channel.basic_get(self.queue, auto_ack=True)
                if method is None:
                    return ids
                ids.append(int(properties.message_id))

    def delete(self) -> None:
        with contextlib.suppress(pika.exceptions.AMQPError), _connect() as conn:
            channel = conn.channel()
            channel.queue_delete(self.queue)
            channel.exchange_delete(self.exchange)


@dataclass
class PulseTimer:
    """Consume a queue bound to the exchange and note when each push id first arrived (Unix time).

    For latency: run it beside a producer that records commit times. Reconnects after a broker
    restart; a redelivered message already seen keeps its first time.
    """

    exchange: str
    queue: str
    arrived: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> PulseTimer:
        PulseTap(self.exchange, self.queue).declare()
        self._thread = threading.Thread(target=self._run, name="pulse-timer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(pika.exceptions.AMQPError, OSError), _connect() as conn:
                channel = conn.channel()
                for method, properties, _ in channel.consume(self.queue, inactivity_timeout=0.5):
                    if self._stop.is_set():
                        break
                    if method is None:
                        continue
                    self.arrived.setdefault(int(properties.message_id), time.time())
                    channel.basic_ack(method.delivery_tag)
            time.sleep(0.5)


class RecordingEs:
    """The Elasticsearch test double, in this process, recording every write it processed in order."""

    def __init__(self) -> None:
        self.server = EsTestServer().start()
        self.writes: list[Write] = []
        cluster = self.server.cluster
        original = cluster.write

        def write(op: str, meta: dict[str, Any], source: dict[str, Any] | None) -> dict[str, Any]:
            item = original(op, meta, source)
            if meta.get("version") is not None:
                self.writes.append(
                    Write(str(meta["_index"]), str(item.get("_id")), int(meta["version"]), item["status"], op)
                )
            return item

        cluster.write = write  # type: ignore[method-assign]

    @property
    def port(self) -> int:
        return self.server.port

    def final_versions(self) -> dict[tuple[str, str], int]:
        """Each document's version now (a deleted one's tombstone version)."""
        cluster = self.server.cluster
        with cluster.lock:
            out: dict[tuple[str, str], int] = {}
            for name, index in cluster.indices.items():
                out.update({(name, d): v for d, v in index.tombstones.items()})
                out.update({(name, d): doc.version for d, doc in index.docs.items()})
            return out

    def recovered(self) -> bool:
        """The latest bulk request went through whole: the connector made progress since any fault
        (its backoff resets after a delivered chunk)."""
        for record in reversed(list(self.server.requests)):
            if "_bulk" in record.path:
                return record.clean
        return False

    def refused_requests(self, since: int) -> int:
        """Requests answered 503 after the `since`-th recorded request."""
        return sum(1 for r in list(self.server.requests)[since:] if r.status == 503)

    def stop(self) -> None:
        self.server.stop()


def read_file_ids(path: Path) -> list[int]:
    """Push ids in the file connector's output, in line order (a torn last line is skipped)."""
    if not path.exists():
        return []
    ids = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError, KeyError):
            ids.append(int(json.loads(line)["push_id"]))
    return ids
