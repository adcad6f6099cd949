"""Helpers the store and engine tests share: realistic messages in, one full run out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bugzilla_push.cli import parse_enqueue_input
from bugzilla_push.samples import BugzillaSimulator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.connectors.base import Connector
    from bugzilla_push.engine import Engine
    from bugzilla_push.reports import DeliveryReport, FinalizeReport
    from bugzilla_push.store import Store


def enqueue_samples(
    store: Store, count: int, seed: int = 1, private_ratio: float = 0.0, public_only: bool = False
) -> list[int]:
    """Insert `count` simulated Bugzilla messages; return their push ids in order.

    `public_only`: leave out every message about something private and every privacy transition
    (the simulator makes some even with `private_ratio` 0), so that every connector sends them all.
    """
    sim = BugzillaSimulator(seed=seed, private_ratio=private_ratio)
    stream = sim.messages(20 * count if public_only else count)
    chosen = islice((m for m in stream if not public_only or _all_public(m)), count)
    lines = "\n".join(json.dumps(m) for m in chosen)
    before = max_push_id(store)
    store.enqueue(parse_enqueue_input(lines), now=store_now())
    ids = [r[0] for r in store.query("SELECT id FROM push WHERE id > %(b)s ORDER BY id", {"b": before})]
    assert len(ids) == count
    return ids


def _all_public(message: dict[str, Any]) -> bool:
    payload = message["payload"]
    changed = payload[payload["event"]["target"]]
    bug = changed.get("bug") if isinstance(changed.get("bug"), dict) else changed
    private = changed.get("is_private") or bug.get("is_private")
    return not private and "is_private" not in message["routing_key"]


def max_push_id(store: Store) -> int:
    return store.query("SELECT COALESCE(MAX(id), 0) FROM push")[0][0]


def store_now():  # noqa: ANN201
    from bugzilla_push.clock import utcnow

    return utcnow()


def run_cycle(
    engine: Engine,
    connectors: Sequence[Connector],
    owner: str = "test-run",
    selected: Sequence[str] | None = None,
) -> tuple[dict[str, DeliveryReport], FinalizeReport]:
    """One DAG run without Airflow: open the batch, deliver to each connector, finalize."""
    batch = engine.open_batch(owner, [c.name for c in connectors], selected)
    reports = {c.name: engine.deliver(batch, c) for c in connectors if c.name in batch.selected}
    return reports, engine.finalize(batch)


def log_rows(store: Store, connector: str) -> list[tuple[int, int]]:
    """(message_id, result) of every push_log row of a connector, in the order written."""
    return [
        tuple(r)
        for r in store.query(
            "SELECT message_id, result FROM push_log WHERE connector = %(c)s ORDER BY id", {"c": connector}
        )
    ]


def backlog_ids(store: Store, connector: str) -> list[int]:
    return [
        r[0]
        for r in store.query(
            "SELECT message_id FROM push_backlog WHERE connector = %(c)s ORDER BY message_id",
            {"c": connector},
        )
    ]


def pending_ids(store: Store) -> list[int]:
    return [r[0] for r in store.query("SELECT id FROM push ORDER BY id")]


def clear(store: Store) -> None:
    """Empty the queue, backlogs, backoff, log and dead letters (runs stay: ids keep increasing)."""
    with store.transaction() as cur:
        for table in ("push", "push_backlog", "push_backoff", "push_log", "push_dead_letter"):
            store.execute(cur, f"DELETE FROM {table}")


def airflow(*args: str, env: dict[str, str] | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the `airflow` command of this virtualenv with the test environment (plus `env`)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_dag(
    source: str, connectors: str, expect_success: bool = True, **env: str
) -> subprocess.CompletedProcess:
    """`airflow dags test bugzilla_push` on `source` with these connectors and extra environment."""
    result = airflow(
        "dags",
        "test",
        "bugzilla_push",
        env={"AIRFLOW_CONN_BUGZILLA_DB": source, "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": connectors, **env},
    )
    if expect_success:
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def read_jsonl(path: Path, while_writing: bool = False) -> list[dict]:
    """The records a file connector wrote, in order; every line must be whole JSON.

    `while_writing`: the writer may be in the middle of a line (or was killed there); a last line
    without its newline is not a record yet (the connector drops it when it reopens the file).
    """
    text = path.read_text() if path.exists() else ""
    if while_writing:
        text = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in text.splitlines()]


def delivered_ids(path: Path, while_writing: bool = False) -> list[int]:
    """Push ids in the order a file connector wrote them (none if it wrote nothing)."""
    return [record["push_id"] for record in read_jsonl(path, while_writing)]
