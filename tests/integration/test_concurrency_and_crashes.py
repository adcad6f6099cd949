"""Invariants 2, 5 and 6 with real processes: two deliverers at once, writers committing out of
order, and deliverers SIGKILLed at random moments, on every database."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.config import DeliveryConfig
from bugzilla_push.engine import Engine
from bugzilla_push.store import NewMessage, open_store
from tests.conftest import ROOT
from tests.fakes import ScriptedConnector
from tests.integration.worker import CONNECTORS
from tests.support import backlog_ids, delivered_ids, enqueue_samples, pending_ids, run_cycle, store_now

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def worker(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.worker", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> dict:
    """Wait for a worker; return the counts it printed last."""
    output, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, output[-4000:]
    lines = [line for line in output.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def test_two_deliverers_at_once_deliver_each_message_exactly_once_in_order(
    db_url: str, tmp_path: Path
) -> None:
    with open_store(db_url) as store:
        store.create_schema()
    done = tmp_path / "producer-done"
    producer = worker("produce", "--db", db_url, "--count", "1500")
    runs = [
        worker(
            "deliver",
            "--db",
            db_url,
            "--out",
            str(tmp_path),
            "--owner",
            f"run{n}",
            "--until-empty",
            "--stop-file",
            str(done),
        )
        for n in range(2)
    ]
    finish(producer)
    done.touch()
    stats = [finish(run) for run in runs]
    finish(worker("deliver", "--db", db_url, "--out", str(tmp_path), "--until-empty"))
    with open_store(db_url) as store:
        produced = [r[0] for r in store.query("SELECT DISTINCT message_id FROM push_log ORDER BY message_id")]
        assert pending_ids(store) == []
        assert len(produced) == 1500
    # Both really worked on batches, and they met: one took over batches the other had opened, or
    # found a connector already done by the other; between them each message went out once.
    assert all(s["batches"] > 0 for s in stats), stats
    assert sum(s["adopted"] + s["skipped"] for s in stats) > 0, stats
    assert sum(s["sent"] for s in stats) <= 1500 * len(CONNECTORS), stats
    for name in CONNECTORS:
        # One producer commits in id order, so exactly once and in push-id order holds strictly.
        assert delivered_ids(tmp_path / f"{name}.jsonl") == produced, name


def test_ids_committing_out_of_order_are_never_skipped(pg_url: str) -> None:
    """Id 101 visible before id 100: the batch takes 101, and 100 comes with the next batch."""
    import psycopg

    with open_store(pg_url) as store:
        store.create_schema()
        first = enqueue_samples(store, 3)
    slow_writer = psycopg.connect(pg_url)  # a Bugzilla transaction that takes its time to commit
    slow_writer.execute(
        "INSERT INTO push (push_ts, payload, change_set, routing_key) "
        "SELECT push_ts, payload, change_set, routing_key FROM push WHERE id = %s",
        (first[0],),
    )
    with open_store(pg_url) as store:
        later = enqueue_samples(store, 2, seed=9)
        connector = ScriptedConnector("pulse")
        engine = Engine(store, DeliveryConfig())
        run_cycle(engine, [connector])
        assert connector.received == first + later
        slow_writer.commit()  # the id between first and later becomes visible only now
        slow_id = store.query("SELECT id FROM push")[0][0]
        assert first[-1] < slow_id < later[0]
        run_cycle(engine, [connector])
        assert connector.received == first + later + [slow_id]
        assert pending_ids(store) == []
    slow_writer.close()


def test_a_killed_deliverer_loses_nothing_keeps_order_and_resends_at_most_a_chunk(
    db_url: str, tmp_path: Path
) -> None:
    kills, chunk = 30, 20
    with open_store(db_url) as store:
        store.create_schema()
        ids = enqueue_samples(store, 10_000, private_ratio=0.1)
        store.enqueue([NewMessage("{not json", "bug.modify:status", "1.1")], store_now())
    rng = random.Random(2026)
    clock = ["--epoch", str(time.time()), "--warp", "200"]  # backoffs pass in a blink
    killed_mid_run = 0
    for _ in range(kills):
        proc = worker(
            "deliver",
            "--db",
            db_url,
            "--out",
            str(tmp_path),
            "--flaky",
            "--until-empty",
            "--chunk",
            str(chunk),
            *clock,
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))  # somewhere inside open, deliver, commit or finalize
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        with open_store(db_url) as store:
            killed_mid_run += store.status().open_batch is not None
    finish(
        worker(
            "deliver", "--db", db_url, "--out", str(tmp_path), "--until-empty", "--chunk", str(chunk), *clock
        )
    )
    assert killed_mid_run >= kills // 3, f"only {killed_mid_run} kills hit a run in progress"

    with open_store(db_url) as store:
        assert pending_ids(store) == []
        for name in CONNECTORS:
            assert backlog_ids(store, name) == []
        dead = store.query("SELECT connector FROM push_dead_letter ORDER BY connector")
        assert dead == [("alpha",), ("beta",)]  # the bad row, once per connector, not lost either
    for name in CONNECTORS:
        received = delivered_ids(tmp_path / f"{name}.jsonl")
        first_seen = list(dict.fromkeys(received))
        assert first_seen == ids, f"{name}: lost or reordered"  # nothing lost, order held
        resent = len(received) - len(first_seen)
        assert resent <= kills * chunk, f"{name}: {resent} re-sends after {kills} kills"
        # A re-sent stretch is an ascending run of ids already received; a crash ends one, and the
        # next attempt starts over at the same chunk (the id goes down), which starts another.
        longest, run, previous = 0, 0, 0
        seen: set[int] = set()
        for push_id in received:
            run = run + 1 if push_id in seen and push_id > previous else int(push_id in seen)
            longest = max(longest, run)
            seen.add(push_id)
            previous = push_id
        assert longest <= chunk, f"{name}: a re-sent run of {longest} is longer than the in-flight window"
        print(
            f"{name}: {kills} kills ({killed_mid_run} mid-run), {resent} re-sent, "
            f"longest re-sent run {longest}"
        )
