"""The fault injector: at least N faults of each kind, at seeded random times spread over the run.

One thread per kind, so a slow fault (a broker restart) never delays another kind. A fault that
finds nothing to hit (no deliver task running, no connection to terminate) retries every fraction
of a second until it does, and only faults that really happened are counted; the harness fails
the run if a kind fell short.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import psycopg

from scripts.chaos.producer import HARNESS_APP
from scripts.stack_support import rabbitmqctl

if TYPE_CHECKING:
    from collections.abc import Callable

    from scripts.airflow_stack import AirflowStack
    from scripts.chaos.receivers import RecordingEs

KINDS = ("task_kill", "scheduler_kill", "broker_restart", "db_terminate", "es_429", "es_503")
RETRY_SECONDS = 0.25


@dataclass(frozen=True)
class Event:
    """One injected fault, for the timeline."""

    kind: str
    at: float  # seconds since the run started
    detail: str


def amqp_port_open() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5672), timeout=1):
        return True
    return False


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def ensure_broker_started() -> None:
    """Start RabbitMQ's app if a fault (or a crash mid-fault) left it stopped; wait for its port."""
    if not amqp_port_open():
        rabbitmqctl("start_app")
    wait_for(amqp_port_open, 60)


@dataclass
class FaultInjector:
    """Fire `count` faults of each kind between `start` and `end` seconds into the run.

    :param give_up: seconds into the run after which a fault still waiting for a target is dropped
    """

    stack: AirflowStack
    es: RecordingEs
    source_db: str
    count: int
    duration: float
    seed: int
    started: float = field(default_factory=time.monotonic)
    events: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _es_lock: threading.Lock = field(default_factory=threading.Lock)

    def schedule(self, kind: str) -> list[float]:
        """Seeded times (seconds into the run) spread over 5–90 % of the duration."""
        rng = random.Random(f"{self.seed}:{kind}")
        return sorted(rng.uniform(0.05, 0.9) * self.duration for _ in range(self.count))

    def start(self) -> FaultInjector:
        self.started = time.monotonic()
        for kind in KINDS:
            thread = threading.Thread(target=self._loop, args=(kind,), name=f"fault-{kind}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def join(self, timeout: float) -> None:
        """Wait for every kind to finish its faults; then stop the ones still waiting for a target."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def counts(self) -> dict[str, int]:
        return {kind: sum(1 for e in self.events if e.kind == kind) for kind in KINDS}

    def _now(self) -> float:
        return time.monotonic() - self.started

    def _loop(self, kind: str) -> None:
        rng = random.Random(f"{self.seed}:{kind}:targets")
        inject = getattr(self, f"_{kind}")
        for due in self.schedule(kind):
            while not self._stop.is_set() and self._now() < due:
                time.sleep(0.2)
            while not self._stop.is_set():
                try:
                    detail = inject(rng)
                except Exception as exc:  # noqa: BLE001 - recorded; this kind goes on with its next fault
                    self.errors.append(f"{kind} at {self._now():.1f}s: {exc}")
                    detail = None
                    time.sleep(2)
                if detail is not None:
                    with self._lock:
                        self.events.append(Event(kind, round(self._now(), 2), detail))
                    break
                time.sleep(RETRY_SECONDS)
            if self._stop.is_set():
                return

    # -- the faults: each returns what it hit, or None when there was nothing to hit yet ------------

    def _task_kill(self, rng: random.Random) -> str | None:
        running = self.stack.running_tasks("deliver")
        if not running:
            return None
        proc, ti = rng.choice(running)
        os.kill(proc.pid, signal.SIGKILL)
        name = ti.get("rendered_map_index") or ti["map_index"]
        return f"SIGKILL deliver[{name}] pid {proc.pid} (try {ti['try_number']})"

    def _scheduler_kill(self, rng: random.Random) -> str | None:
        old = self.stack.processes["scheduler"].pid
        killed_at = datetime.now(UTC)
        new = self.stack.restart("scheduler")
        # The next kill hits a scheduler that came up (heartbeating), not one still importing Airflow.
        wait_for(lambda: _heartbeat_since(self.stack, killed_at), 120)
        self.stack.reap_idle_orphans()
        return f"SIGKILL scheduler pid {old}, restarted as {new}"

    def _broker_restart(self, rng: random.Random) -> str | None:
        down = rng.uniform(2, 6)
        try:
            rabbitmqctl("stop_app")
            time.sleep(down)
        finally:
            rabbitmqctl("start_app")
            wait_for(amqp_port_open, 60)
        return f"rabbitmqctl stop_app, {down:.1f} s, start_app"

    def _db_terminate(self, rng: random.Random) -> str | None:
        with psycopg.connect(
            f"postgresql://{self.stack_pg()}/postgres", autocommit=True, application_name=HARNESS_APP
        ) as conn:
            killed = conn.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() AND application_name <> %s",
                (self.source_db, HARNESS_APP),
            ).fetchone()[0]
        return f"pg_terminate_backend: {killed} connection(s) to {self.source_db}" if killed else None

    def stack_pg(self) -> str:
        from scripts.stack_support import PG_HOST, PG_PORT, PG_USER

        return f"{PG_USER}@{PG_HOST}:{PG_PORT}"

    def _es_fault(self, inject: Callable[[], str | None]) -> str | None:
        """Run one Elasticsearch fault at a time, armed once the connector has recovered from the last.

        Both kinds hold until a request meets them. Were they armed at once, they would meet every
        attempt in turn: no chunk would get through, the connector's backoff would grow to its cap
        and it would make no progress all run (and a pending 503 would shadow every 429). Armed by
        the double as a request arrives, once the one before it went through whole (the engine
        resets backoff after a delivered chunk), a fault can meet the next chunk of the very
        attempt that recovered: intermittent faults, with progress between them.
        """
        if not self._es_lock.acquire(blocking=False):
            return None
        try:
            return inject()
        finally:
            self._es_lock.release()

    def _es_429(self, rng: random.Random) -> str | None:
        return self._es_fault(lambda: self._inject_es_429(rng))

    def _es_503(self, rng: random.Random) -> str | None:
        return self._es_fault(lambda: self._inject_es_503(rng))

    def _inject_es_429(self, rng: random.Random) -> str | None:
        first = rng.randint(0, 5)
        faults = self.es.server.faults
        faults.reject_items(429, positions=tuple(range(first, 100_000)), times=1, when=self.es.recovered)
        fault = faults.items[-1]
        # Counted once a bulk request really met it (small requests may not reach its position).
        while fault.times and not self._stop.is_set():
            time.sleep(0.2)
        if fault.times:
            with faults.lock:
                faults.items.remove(fault)
            return None
        return f"429 on a bulk item at position >= {first}"

    def _inject_es_503(self, rng: random.Random) -> str | None:
        # The client retries a refused request twice at once: one or two 503s are absorbed there,
        # three or four fail the delivery attempt (backlog, backoff) — both paths get exercised.
        count = rng.randint(1, 4)
        faults = self.es.server.faults
        since = len(self.es.server.requests)
        faults.fail_requests(503, path="_bulk", times=count, when=self.es.recovered)
        fault = faults.requests[-1]
        try:
            while fault.times and not self._stop.is_set():  # held until requests met all of it
                time.sleep(0.2)
        finally:
            with faults.lock:
                if fault in faults.requests:
                    faults.requests.remove(fault)
        refused = self.es.refused_requests(since)
        return f"503 on the next {count} bulk request(s) ({refused} refused)" if refused else None


def _heartbeat_since(stack: AirflowStack, moment: datetime) -> bool:
    with contextlib.suppress(Exception):
        beat = (stack.health().get("scheduler") or {}).get("latest_scheduler_heartbeat")
        return bool(beat) and datetime.fromisoformat(beat.replace("Z", "+00:00")) > moment
    return False
