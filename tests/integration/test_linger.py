"""Lingering runs (bugzilla_push.linger): each connector's task goes on with what is committed after
the run's batch, in segments, on every database; a task that ends early costs the others nothing."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.cli import parse_enqueue_input
from bugzilla_push.clock import utcnow
from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors.file import FileConnector
from bugzilla_push.engine import Engine
from bugzilla_push.linger import Linger, Presence
from bugzilla_push.samples import BugzillaSimulator
from bugzilla_push.store import Batch, open_store
from tests.support import backlog_ids, delivered_ids, enqueue_samples, pending_ids, store_now

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from bugzilla_push.reports import DeliveryReport

pytestmark = pytest.mark.integration

NAMES = ("alpha", "beta")
CONFIG = DeliveryConfig(chunk_size=20)


class Task(threading.Thread):
    """One connector's deliver task of a lingering run, with its own connections, as in the DAG.

    :param leave_after: stop after this many segments (a task that ends early), None: at the deadline
    """

    def __init__(
        self,
        url: str,
        name: str,
        first: Batch,
        until: datetime,
        out: Path,
        leave_after: int | None = None,
        grace: float = 10,
    ) -> None:
        super().__init__(name=name)
        self.url, self.connector, self.first, self.until = url, name, first, until
        self.out, self.leave_after, self.grace = out / f"{name}.jsonl", leave_after, timedelta(seconds=grace)
        self.segments: list[int] = []
        self.report: DeliveryReport | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with open_store(self.url) as store, open_store(self.url) as holder:
                engine = Engine(store, CONFIG)
                with Presence.hold(holder, self.connector, 10):
                    linger = Linger(
                        engine,
                        self.first.owner,
                        [self.connector],
                        self.until,
                        Presence(store),
                        0.05,
                        grace=self.grace,
                    )
                    for part in linger.segments(self.first):
                        done = engine.deliver(part, FileConnector(self.connector, self.out))
                        self.report = done if self.report is None else self.report.absorb(done)
                        self.segments.append(part.id)
                        if self.leave_after is not None and len(self.segments) >= self.leave_after:
                            return
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            self.error = exc


class Producer(threading.Thread):
    """Commits one simulated Bugzilla message at a time, as Bugzilla does, for `seconds`."""

    def __init__(self, url: str, seconds: float, every: float = 0.05) -> None:
        super().__init__(name="producer")
        self.url, self.seconds, self.every = url, seconds, every
        self.count = 0

    def run(self) -> None:
        stream = BugzillaSimulator(seed=3).messages(100_000)
        end = time.monotonic() + self.seconds
        with open_store(self.url) as store:
            while time.monotonic() < end:
                store.enqueue(parse_enqueue_input(json.dumps(next(stream))), now=store_now())
                self.count += 1
                time.sleep(self.every)


def start_run(url: str, owner: str) -> Batch:
    with open_store(url) as store:
        return Engine(store, CONFIG).open_batch(owner, list(NAMES))


def finish_run(url: str, first: Batch) -> None:
    with open_store(url) as store:
        Engine(store, CONFIG).finalize(first, closing=store.open_batch_of(first.owner))


def archived_ids(url: str) -> list[int]:
    with open_store(url) as store:
        return [r[0] for r in store.query("SELECT message_id FROM push_archive ORDER BY message_id")]


def run_lingering(
    url: str,
    out: Path,
    seconds: float,
    leave_after: dict[str, int] | None = None,
    names: tuple[str, ...] = NAMES,
    grace: float = 10,
) -> dict[str, Task]:
    first = start_run(url, "run-1")
    until = utcnow() + timedelta(seconds=seconds)
    producer = Producer(url, seconds * 0.7)
    tasks = {n: Task(url, n, first, until, out, (leave_after or {}).get(n), grace) for n in names}
    producer.start()
    for task in tasks.values():
        task.start()
    for thread in (producer, *tasks.values()):
        thread.join(60)
        assert not thread.is_alive()
    for task in tasks.values():
        assert task.error is None, repr(task.error)
    finish_run(url, first)
    return tasks


def test_a_lingering_run_delivers_what_is_committed_during_it_in_order_to_every_connector(
    db_url: str, tmp_path: Path
) -> None:
    with open_store(db_url) as store:
        store.create_schema()
        before = enqueue_samples(store, 50)

    tasks = run_lingering(db_url, tmp_path, seconds=3)

    everything = archived_ids(db_url)
    assert everything[: len(before)] == before
    assert len(everything) > len(before) + 10  # the producer's messages were delivered within the run
    for name in NAMES:
        assert delivered_ids(tmp_path / f"{name}.jsonl") == everything  # each once, in push-id order
        assert len(set(tasks[name].segments)) > 2  # the batch, then segments of what came after it
    with open_store(db_url) as store:
        assert pending_ids(store) == []
        assert all(backlog_ids(store, n) == [] for n in NAMES)
        assert store.open_batch_of("run-1") is None


def test_a_task_that_ends_early_costs_the_others_nothing_and_loses_nothing(
    db_url: str, tmp_path: Path
) -> None:
    with open_store(db_url) as store:
        store.create_schema()
        before = enqueue_samples(store, 30)

    tasks = run_lingering(db_url, tmp_path, seconds=3, leave_after={"beta": 1})

    everything = archived_ids(db_url)
    assert delivered_ids(tmp_path / "alpha.jsonl") == everything  # alpha went on without beta
    assert len(tasks["alpha"].segments) > 2
    beta = delivered_ids(tmp_path / "beta.jsonl")
    assert beta == before  # beta delivered its run's batch only
    with open_store(db_url) as store:
        assert pending_ids(store) == []
        assert backlog_ids(store, "beta") == everything[len(before) :]  # the rest waits for beta, in order
        assert backlog_ids(store, "alpha") == []

    # The next run (one batch, no lingering) sends beta its backlog first.
    first = start_run(db_url, "run-2")
    with open_store(db_url) as store:
        Engine(store, CONFIG).deliver(first, FileConnector("beta", tmp_path / "beta.jsonl"))
    finish_run(db_url, first)
    assert delivered_ids(tmp_path / "beta.jsonl") == everything


def test_a_task_that_never_starts_holds_the_others_up_for_the_grace_period_only(
    db_url: str, tmp_path: Path
) -> None:
    with open_store(db_url) as store:
        store.create_schema()
        enqueue_samples(store, 30)

    tasks = run_lingering(db_url, tmp_path, seconds=3, names=("alpha",), grace=0.5)  # beta never starts

    everything = archived_ids(db_url)
    assert delivered_ids(tmp_path / "alpha.jsonl") == everything
    assert len(tasks["alpha"].segments) > 2  # alpha lingered on once the run's batch was closed without beta
    assert not (tmp_path / "beta.jsonl").exists()
    with open_store(db_url) as store:
        assert backlog_ids(store, "beta") == everything  # all of it waits for beta, in order


def test_a_batch_closed_twice_is_deleted_and_counted_once(db_url: str) -> None:
    with open_store(db_url) as store, open_store(db_url) as other:
        store.create_schema()
        ids = enqueue_samples(store, 5)
        batch = Engine(store, CONFIG).open_batch("run", list(NAMES))
        assert store.close_batch(batch, store_now()) == len(ids)
        assert other.close_batch(batch, store_now()) == 0
        assert store.query("SELECT deleted FROM push_run WHERE id = %(id)s", {"id": batch.id}) == [
            (len(ids),)
        ]


def test_presence_tells_a_lingering_task_from_one_that_ended(db_url: str) -> None:
    with open_store(db_url) as checker, open_store(db_url) as holder:
        checker.create_schema()
        presence = Presence(checker, key_of=lambda name: "group" if name.startswith("Webhook_") else name)
        with Presence.hold(holder, "group", 5):
            assert presence.alive(["Webhook_1", "Webhook_2", "alpha"]) == {"Webhook_1", "Webhook_2"}
        assert presence.alive(["Webhook_1", "alpha"]) == set()
