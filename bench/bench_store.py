"""Store benchmark: drain 100,000 rows through the engine and the file connector, next to a bare
`DELETE … RETURNING` loop on the same database, in the same process and moment.

    .venv/bin/python bench/bench_store.py [--rows 100000] [--repeat 3] [--db URL ...]

Both sides start from the same 100,000 realistic Bugzilla messages. The baseline only takes rows
out of `push` (1,000 per statement) and reads them; the engine validates every payload, writes it
to a file (fsync per chunk), logs one `push_log` row per message and commits progress per chunk,
then deletes the batch. The ratio is engine rows/s over baseline rows/s; the best of `--repeat`
runs of each is reported. Peak Python memory is measured with tracemalloc on one extra engine run
that takes all rows in a single batch (ids travel as ranges, rows are streamed in chunks).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bugzilla_push.cli import parse_enqueue_input  # noqa: E402
from bugzilla_push.config import DeliveryConfig  # noqa: E402
from bugzilla_push.connectors.file import FileConnector  # noqa: E402
from bugzilla_push.engine import Engine, utcnow  # noqa: E402
from bugzilla_push.samples import BugzillaSimulator  # noqa: E402
from bugzilla_push.store import NewMessage, Store, open_store  # noqa: E402
from tests.conftest import create_pg_database, drop_pg_database  # noqa: E402


def messages(count: int) -> list[NewMessage]:
    lines = "\n".join(json.dumps(m) for m in BugzillaSimulator(seed=42, private_ratio=0.05).messages(count))
    return parse_enqueue_input(lines)


def fill(store: Store, rows: list[NewMessage]) -> None:
    with store.transaction() as cur:
        for table in ("push", "push_log", "push_backlog", "push_dead_letter"):
            store.execute(cur, f"DELETE FROM {table}")
    for start in range(0, len(rows), 10_000):
        store.enqueue(rows[start : start + 10_000], utcnow())


def baseline(store: Store) -> int:
    """Take rows out 1,000 at a time with DELETE … RETURNING, reading every column."""
    taken = 0
    sql = (
        "DELETE FROM push WHERE id IN (SELECT id FROM push ORDER BY id LIMIT 1000) "
        "RETURNING id, push_ts, payload, change_set, routing_key"
    )
    while True:
        with store.transaction() as cur:
            got = store.execute(cur, sql).fetchall()
        if not got:
            return taken
        taken += len(got)


def engine_drain(store: Store, out: Path, batch_size: int) -> int:
    engine = Engine(store, DeliveryConfig(batch_size=batch_size))
    connector = FileConnector("file", out)
    done = 0
    while True:
        batch = engine.open_batch("bench", ["file"])
        if not batch.size:
            engine.finalize(batch)
            return done
        engine.deliver(batch, connector)
        done += engine.finalize(batch).deleted


def measure(url: str, rows: list[NewMessage], repeat: int) -> dict[str, object]:
    results: dict[str, list[float]] = {"baseline": [], "engine": []}
    with open_store(url) as store, tempfile.TemporaryDirectory() as tmp:
        store.create_schema()
        for n in range(repeat):
            fill(store, rows)
            started = time.perf_counter()
            assert baseline(store) == len(rows)
            results["baseline"].append(len(rows) / (time.perf_counter() - started))

            fill(store, rows)
            started = time.perf_counter()
            assert engine_drain(store, Path(tmp) / f"file{n}.jsonl", 10_000) == len(rows)
            results["engine"].append(len(rows) / (time.perf_counter() - started))
            Path(tmp, f"file{n}.jsonl").unlink()

        fill(store, rows)
        tracemalloc.start()
        assert engine_drain(store, Path(tmp) / "one-batch.jsonl", len(rows)) == len(rows)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    best_base, best_engine = max(results["baseline"]), max(results["engine"])
    return {
        "database": url.split(":", 1)[0],
        "rows": len(rows),
        "baseline_rows_per_s": round(best_base),
        "engine_rows_per_s": round(best_engine),
        "ratio": round(best_engine / best_base, 3),
        "engine_runs_rows_per_s": [round(r) for r in results["engine"]],
        "engine_spread": round(statistics.pstdev(results["engine"]) / statistics.mean(results["engine"]), 3),
        "one_batch_peak_python_mib": round(peak / 2**20, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--db",
        action="append",
        help="database URL(s); default: a fresh PostgreSQL database and a SQLite file",
    )
    args = parser.parse_args()
    rows = messages(args.rows)
    created = None
    urls = args.db
    if not urls:
        created = create_pg_database("bp_bench")
        urls = [created, f"sqlite:///{tempfile.mkdtemp()}/bench.db"]
    try:
        report = [measure(url, rows, args.repeat) for url in urls]
    finally:
        if created:
            drop_pg_database(created)

    from rich.console import Console
    from rich.table import Table

    table = Table(
        "database",
        "rows",
        "DELETE…RETURNING rows/s",
        "engine + file rows/s",
        "ratio",
        "peak MiB (one 100k batch)",
        title="bugzilla-push store benchmark",
    )
    for r in report:
        table.add_row(
            str(r["database"]),
            f"{r['rows']:,}",
            f"{r['baseline_rows_per_s']:,}",
            f"{r['engine_rows_per_s']:,}",
            f"{r['ratio']:.2f}",
            str(r["one_batch_peak_python_mib"]),
        )
    Console().print(table)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
