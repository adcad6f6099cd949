"""Store benchmark: drain 100,000 rows through the engine and the file connector, next to a bare
`DELETE … RETURNING` loop on the same database, in the same process and moment.

    .venv/bin/python bench/bench_store.py [--rows 100000] [--repeat 3] [--db URL ...]

Every measurement starts from the same 100,000 realistic Bugzilla messages in `push`:

- bare: `DELETE … RETURNING` 1,000 rows a statement, reading every column;
- store: the store's own part of delivery that the bare loop also does: open batches, read their
  rows a chunk at a time, delete them (no archive copy);
- bare + log + archive: the bare loop, a chunk at a time, also writing what delivery must write in
  the same transaction — one `push_log` row per message (BMO's audit trail) and the archive copy
  replay reads: the floor of the database work of delivery;
- engine: the real thing: validate every payload, append it to a file (fsync per chunk), log one
  `push_log` row per message and commit progress per chunk, then archive and delete the batch.

The best of `--repeat` runs of each is reported, with ratios. Peak Python memory is measured with
tracemalloc on one more engine run that takes all rows in one batch (ids travel as ranges, rows
are streamed a chunk at a time).
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
from bugzilla_push.clock import utcnow  # noqa: E402
from bugzilla_push.config import DeliveryConfig  # noqa: E402
from bugzilla_push.connectors.file import FileConnector  # noqa: E402
from bugzilla_push.engine import Engine  # noqa: E402
from bugzilla_push.samples import BugzillaSimulator  # noqa: E402
from bugzilla_push.store import NewMessage, Store, open_store  # noqa: E402
from bugzilla_push.store.dialect import ARCHIVE_COLUMNS, LOG_COLUMNS  # noqa: E402
from tests.conftest import create_mysql_database, create_pg_database, drop_database  # noqa: E402


def messages(count: int) -> list[NewMessage]:
    lines = "\n".join(json.dumps(m) for m in BugzillaSimulator(seed=42, private_ratio=0.05).messages(count))
    return parse_enqueue_input(lines)


def fill(store: Store, rows: list[NewMessage]) -> None:
    with store.transaction() as cur:
        for table in ("push", "push_log", "push_backlog", "push_dead_letter"):
            store.execute(cur, f"DELETE FROM {table}")
    for start in range(0, len(rows), 10_000):
        store.enqueue(rows[start : start + 10_000], utcnow())


def baseline(store: Store, per_statement: int = 1000, log: bool = False) -> int:
    """Take rows out with DELETE … RETURNING, reading every column; with `log`, also write one
    `push_log` row and one archive row per message in the same transaction (the floor of what
    delivery must write)."""
    taken = 0
    columns = "id, push_ts, payload, change_set, routing_key"
    if store.dialect.name == "mysql":  # MariaDB: no LIMIT in IN (subquery), but DELETE … LIMIT … RETURNING
        sql = f"DELETE FROM push ORDER BY id LIMIT {per_statement} RETURNING {columns}"
    else:
        oldest = f"SELECT id FROM push ORDER BY id LIMIT {per_statement}"
        sql = f"DELETE FROM push WHERE id IN ({oldest}) RETURNING {columns}"
    archive = (
        f"INSERT INTO push_archive ({ARCHIVE_COLUMNS}) "
        f"SELECT {columns}, %(now)s FROM push ORDER BY id LIMIT {per_statement}"
    )
    while True:
        with store.transaction() as cur:
            now = store.dialect.to_db(utcnow())
            if log:  # server-side copy of the rows about to go, as the store archives
                store.execute(cur, archive, {"now": now})
            got = store.execute(cur, sql).fetchall()
            if log and got:
                store.dialect.bulk_insert(
                    cur,
                    "push_log",
                    LOG_COLUMNS,
                    [(i, change_set, key, "file", ts, now, 1, None) for i, ts, _, change_set, key in got],
                )
        if not got:
            return taken
        taken += len(got)


def store_read_delete(store: Store, batch_size: int = 10_000) -> int:
    """The store's own part: open batches, read their rows a chunk at a time, delete them."""
    chunk, done = DeliveryConfig().chunk_size, 0
    while True:
        batch = store.open_batch("bench", batch_size, ["file"], ["file"], utcnow())
        if batch.is_empty:
            return done
        after = 0
        while rows := store.batch_rows(batch, after, chunk):
            after = rows[-1].id
        done += store.close_batch(batch, utcnow(), archive=False)


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
    results: dict[str, list[float]] = {"baseline": [], "baseline_log": [], "store": [], "engine": []}
    with open_store(url) as store, tempfile.TemporaryDirectory() as tmp:
        store.create_schema()
        for n in range(repeat):
            fill(store, rows)
            started = time.perf_counter()
            assert baseline(store) == len(rows)
            results["baseline"].append(len(rows) / (time.perf_counter() - started))

            fill(store, rows)
            started = time.perf_counter()
            assert baseline(store, DeliveryConfig().chunk_size, log=True) == len(rows)
            results["baseline_log"].append(len(rows) / (time.perf_counter() - started))

            fill(store, rows)
            started = time.perf_counter()
            assert store_read_delete(store) == len(rows)
            results["store"].append(len(rows) / (time.perf_counter() - started))

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
    best_base, best_log, best_store, best_engine = (
        max(results[k]) for k in ("baseline", "baseline_log", "store", "engine")
    )
    return {
        "database": url.split(":", 1)[0],
        "rows": len(rows),
        "baseline_rows_per_s": round(best_base),
        "baseline_with_log_rows_per_s": round(best_log),
        "store_read_delete_rows_per_s": round(best_store),
        "store_ratio": round(best_store / best_base, 3),
        "engine_rows_per_s": round(best_engine),
        "ratio": round(best_engine / best_base, 3),
        "ratio_to_baseline_with_log": round(best_engine / best_log, 3),
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
        help="database URL(s); default: fresh PostgreSQL and MySQL/MariaDB databases and a SQLite file",
    )
    args = parser.parse_args()
    rows = messages(args.rows)
    created: list[str] = []
    urls = args.db
    if not urls:
        created = [create_pg_database("bp_bench"), create_mysql_database("bp_bench")]
        urls = [*created, f"sqlite:///{tempfile.mkdtemp()}/bench.db"]
    try:
        report = [measure(url, rows, args.repeat) for url in urls]
    finally:
        for url in created:
            drop_database(url)

    from rich.console import Console
    from rich.table import Table

    table = Table(title="bugzilla-push store benchmark (rows/s, best of runs)")
    for column in (
        "database",
        "rows",
        "bare",
        "store",
        "store ÷ bare",
        "bare + log + archive",
        "engine",
        "engine ÷ bare",
        "engine ÷ (bare + log + archive)",
        "peak MiB, one batch",
    ):
        table.add_column(column, justify="right")
    for r in report:
        table.add_row(
            str(r["database"]),
            f"{r['rows']:,}",
            f"{r['baseline_rows_per_s']:,}",
            f"{r['store_read_delete_rows_per_s']:,}",
            f"{r['store_ratio']:.2f}",
            f"{r['baseline_with_log_rows_per_s']:,}",
            f"{r['engine_rows_per_s']:,}",
            f"{r['ratio']:.2f}",
            f"{r['ratio_to_baseline_with_log']:.2f}",
            str(r["one_batch_peak_python_mib"]),
        )
    Console(width=160).print(table)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
