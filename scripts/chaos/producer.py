"""A Bugzilla-like producer: realistic messages into `push` at a steady rate, in small transactions.

It writes what Bugzilla's Push extension writes (the simulator's payload, routing key, change
set) with the same columns as `Store.enqueue`, but with `RETURNING id`: the harness needs every
push id it produced, and when it was committed (the latency benchmark uses the timestamps).
Its connection is named (`application_name`) so the database fault spares it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import psycopg

from bugzilla_push.model import PushRow
from bugzilla_push.samples import BugzillaSimulator

if TYPE_CHECKING:
    from pathlib import Path

HARNESS_APP = "bp-chaos-harness"
INSERT = "INSERT INTO push (push_ts, payload, change_set, routing_key) VALUES (%s, %s, %s, %s) RETURNING id"


@dataclass(frozen=True)
class Produced:
    """A committed push row and when its transaction committed (Unix time)."""

    row: PushRow
    committed_at: float


@dataclass
class Producer:
    """Insert `rate` messages a second until stopped; a transaction every `tick` seconds.

    :param url: the source database (`postgresql://…`)
    :param rate: messages per second
    :param seed: the simulator's seed (same seed, same stream)
    :param record: a JSON-lines file of `{id, routing_key, committed_at}`, written as it goes
    """

    url: str
    rate: float
    seed: int = 1
    record: Path | None = None
    tick: float = 0.1
    produced: list[Produced] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    error: BaseException | None = None

    def start(self) -> Producer:
        self._thread = threading.Thread(target=self._run, name="producer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        try:
            self._produce()
        except BaseException as exc:  # noqa: BLE001 - reported by the harness, which then fails the run
            self.error = exc

    def _produce(self) -> None:
        messages = BugzillaSimulator(seed=self.seed).messages(10**9)
        out = self.record.open("a") if self.record else None
        started = time.monotonic()
        sent = 0
        with psycopg.connect(self.url, application_name=HARNESS_APP) as conn:
            while not self._stop.is_set():
                due = int((time.monotonic() - started) * self.rate) - sent
                if due <= 0:
                    time.sleep(self.tick)
                    continue
                batch = [next(messages) for _ in range(min(due, max(1, int(self.rate * self.tick * 4))))]
                now = datetime.now(UTC).replace(tzinfo=None)
                rows = []
                with conn.transaction(), conn.cursor() as cur:
                    for m in batch:
                        payload = json.dumps(m["payload"])
                        cur.execute(INSERT, (now, payload, m["change_set"], m["routing_key"]))
                        rows.append(
                            PushRow(cur.fetchone()[0], now, payload, m["change_set"], m["routing_key"])
                        )
                committed = time.time()
                self.produced.extend(Produced(r, committed) for r in rows)
                sent += len(rows)
                if out:
                    out.writelines(
                        json.dumps({"id": r.id, "routing_key": r.routing_key, "committed_at": committed})
                        + "\n"
                        for r in rows
                    )
                    out.flush()
        if out:
            out.close()
