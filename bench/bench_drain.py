"""Drain benchmark: a day's backlog under the real scheduler, against the engine in-process.

    .venv/bin/python bench/bench_drain.py [--rows 1000000] [--pending push backlog] [--rate 5]
                                          [--batch-size 10000 ...] [--chunk-size 500 ...]
                                          [--baseline-rows 100000]

`--rows` realistic Bugzilla messages (the sample simulator) wait in a fresh PostgreSQL source
database, in one of two places (`--pending`, one measurement each):

- **push**: in `push`, as after a day without delivery runs; each run takes `batch_size` of them;
- **backlog**: in each connector's backlog (`push_backlog`), as after a day-long outage of every
  destination: the runs of that day moved every batch there. The first run after the outage
  sends each connector its whole backlog, a chunk at a time.

Three connectors: `pulse` (an exchange on the local RabbitMQ, with a durable queue bound as a
Pulse consumer's would be, capped at 10,000 messages so the broker's memory stays flat),
`elasticsearch` (the project's Elasticsearch test double, a process of its own) and `file`.

1. **in-process**: the engine drives the same three connectors, one after another per batch, on
   the first `--baseline-rows` of the same messages, the way `bench/bench_store.py` drives it;
2. **the real stack** (`scripts.airflow_stack`: scheduler, dag-processor, triggerer, API server,
   LocalExecutor, a fresh PostgreSQL metadata database), event schedule, `bugzilla_push_config`
   with the batch and chunk size measured. From the DAG's unpausing, a producer commits live
   messages at `--rate` a second; the drain ends when no row of the backlog is left in `push` nor
   in any connector's backlog. rows/s = rows ÷ drain time, and its ratio to in-process;
3. **memory**: the resident size (RSS) of every task process of the stack, sampled each 0.5 s:
   the largest, and the largest in the first and in the last quarter of the drain (flat: alike);
4. **live messages**: the producer stops, everything drains, and the file connector's output must
   hold every backlog row and every live message, push ids strictly increasing (live ones behind
   the backlog); the Pulse queue's tail must hold every live message Pulse takes, in order.

Each `--batch-size` × `--chunk-size` × `--pending` combination is measured with a fresh source
database, stack and in-process baseline. Prints a table and one JSON line; the JSON also goes to
`var/bench/drain-<time>.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pika
import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bugzilla_push.config import DeliveryConfig  # noqa: E402
from bugzilla_push.connectors import ConnectionInfo  # noqa: E402
from bugzilla_push.connectors.elasticsearch.connector import ElasticsearchConnector  # noqa: E402
from bugzilla_push.connectors.file import FileConnector  # noqa: E402
from bugzilla_push.connectors.pulse.connector import PulseConnector  # noqa: E402
from bugzilla_push.engine import Engine  # noqa: E402
from bugzilla_push.samples import BugzillaSimulator  # noqa: E402
from bugzilla_push.store import open_store  # noqa: E402
from scripts.airflow_stack import AirflowStack  # noqa: E402
from scripts.chaos.faults import ensure_broker_started  # noqa: E402
from scripts.chaos.producer import HARNESS_APP, Producer  # noqa: E402
from scripts.chaos.receivers import PulseTap  # noqa: E402
from scripts.chaos.run import expected_ids  # noqa: E402
from scripts.stack_support import admin_url, create_database, drop_database, task_processes  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bugzilla_push.connectors.base import Connector

CONNECTORS = ("pulse", "elasticsearch", "file")
FILL_CHUNK = 20_000  # messages generated and copied at a time: the fill's memory stays small
QUEUE_CAP = 10_000  # the Pulse consumer queue keeps the newest messages only
SEED = 42


# -- the source database -------------------------------------------------------------------------


def simulated(count: int, seed: int) -> Iterator[list[tuple[datetime, str, str, str]]]:
    """`count` simulated messages as `push` rows, FILL_CHUNK at a time."""
    now = datetime.now(UTC).replace(tzinfo=None)
    chunk: list[tuple[datetime, str, str, str]] = []
    for m in BugzillaSimulator(seed=seed, private_ratio=0.05).messages(count):
        chunk.append((now, json.dumps(m["payload"]), m["change_set"], m["routing_key"]))
        if len(chunk) == FILL_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def fill(url: str, count: int, pending: str) -> int:
    """Create the push tables and put `count` messages where `pending` says; return the last id."""
    with open_store(url) as store:
        store.create_schema()
    with psycopg.connect(url, autocommit=True) as conn:
        for chunk in simulated(count, SEED):
            with conn.transaction(), conn.cursor() as cur:
                copy_sql = "COPY push (push_ts, payload, change_set, routing_key) FROM STDIN"
                with cur.copy(copy_sql) as copy:
                    for row in chunk:
                        copy.write_row(row)
        last = int(conn.execute("SELECT max(id) FROM push").fetchone()[0])  # type: ignore[index]
        if pending == "backlog":  # what a day of failed runs leaves: each connector's own copy, push empty
            names = ", ".join(f"('{c}')" for c in CONNECTORS)
            with conn.transaction():
                conn.execute(
                    "INSERT INTO push_backlog (message_id, push_ts, payload, change_set, routing_key, "
                    "connector, attempt_ts, attempts, last_error) "
                    "SELECT p.id, p.push_ts, p.payload, p.change_set, p.routing_key, c.name, p.push_ts, 1, "
                    f"'destination down' FROM push p CROSS JOIN (VALUES {names}) AS c(name) ORDER BY p.id"
                )
                conn.execute("DELETE FROM push")
        conn.execute("VACUUM ANALYZE")
    return last


def backlog_left(url: str, last_id: int) -> int | None:
    """The oldest backlog row not yet delivered everywhere (None: drained)."""
    with psycopg.connect(url, application_name=HARNESS_APP, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT least((SELECT min(id) FROM push WHERE id <= %(n)s), "
            "(SELECT min(message_id) FROM push_backlog WHERE message_id <= %(n)s))",
            {"n": last_id},
        ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def all_empty(url: str) -> bool:
    with psycopg.connect(url, application_name=HARNESS_APP, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM push) AND NOT EXISTS (SELECT 1 FROM push_backlog)"
        ).fetchone()
    return bool(row and row[0])


# -- destinations --------------------------------------------------------------------------------


@dataclass
class Destinations:
    """The Elasticsearch double (its own process) and a Pulse exchange with a capped queue bound."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    es: subprocess.Popen[str] | None = None
    es_port: int = 0

    @property
    def exchange(self) -> str:
        return f"exchange/guest/drain-{self.tag}"

    @property
    def queue(self) -> str:
        return f"bp-drain-{self.tag}"

    def __enter__(self) -> Destinations:
        self.es = subprocess.Popen(
            [sys.executable, "-m", "tests.doubles.elasticsearch_server"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={"PYTHONPATH": f"{ROOT / 'include'}:{ROOT}", "PATH": "/usr/bin:/bin"},
        )
        assert self.es.stdout is not None
        self.es_port = int(self.es.stdout.readline().strip().rsplit(":", 1)[1])
        ensure_broker_started()
        with _amqp() as conn:
            channel = conn.channel()
            channel.exchange_declare(self.exchange, "topic", durable=True)
            channel.queue_declare(self.queue, durable=True, arguments={"x-max-length": QUEUE_CAP})
            channel.queue_bind(self.queue, self.exchange, "#")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.es is not None:
            self.es.terminate()
            self.es.wait(timeout=30)
        with contextlib.suppress(pika.exceptions.AMQPError), _amqp() as conn:
            channel = conn.channel()
            channel.queue_delete(self.queue)
            channel.exchange_delete(self.exchange)

    def connectors(self, out: Path) -> list[Connector]:
        return [
            PulseConnector.from_connection(
                ConnectionInfo(
                    "pulse", "amqp", "127.0.0.1", 5672, "guest", "guest", "/", {"exchange": self.exchange}
                )
            ),
            ElasticsearchConnector.from_connection(
                ConnectionInfo("elasticsearch", "elasticsearch", "127.0.0.1", self.es_port, schema="http")
            ),
            FileConnector("file", out),
        ]

    def airflow_env(self, source_url: str, out: Path, config: DeliveryConfig) -> dict[str, str]:
        return {
            "AIRFLOW_CONN_BUGZILLA_DB": source_url,
            "AIRFLOW_CONN_PULSE": (
                f"amqp://guest:guest@127.0.0.1:5672/%2F?exchange={quote(self.exchange, safe='')}"
            ),
            "AIRFLOW_CONN_ELASTICSEARCH": json.dumps(
                {"conn_type": "elasticsearch", "host": "127.0.0.1", "port": self.es_port, "schema": "http"}
            ),
            "AIRFLOW_CONN_FILE": json.dumps({"conn_type": "fs", "extra": {"path": str(out)}}),
            "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": ",".join(CONNECTORS),
            "AIRFLOW_VAR_BUGZILLA_PUSH_CONFIG": json.dumps(
                {"batch_size": config.batch_size, "chunk_size": config.chunk_size}
            ),
        }

    def pulse_tail(self) -> list[int]:
        """Push ids left in the capped queue (the newest published), in queue order; emptied."""
        return PulseTap(self.exchange, self.queue).drain()


def _amqp() -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672, "/", heartbeat=0))


# -- in-process ----------------------------------------------------------------------------------


def in_process(rows: int, pending: str, config: DeliveryConfig, workdir: Path) -> float:
    """rows/s of the engine delivering `rows` to the three connectors in this process."""
    source = create_database("bp_drain_base")
    try:
        url = admin_url(source)
        fill(url, rows, pending)
        with Destinations() as dest, open_store(url) as store:
            connectors = dest.connectors(workdir / "in-process.jsonl")
            engine = Engine(store, config)
            started = time.perf_counter()
            while True:
                batch = engine.open_batch("bench", list(CONNECTORS))
                for connector in connectors:
                    engine.deliver(batch, connector)
                engine.finalize(batch)
                if not batch.size:
                    break
            seconds = time.perf_counter() - started
            for connector in connectors:
                connector.close()
            assert all_empty(url), "the in-process drain left rows behind"
        return rows / seconds
    finally:
        drop_database(source)
        (workdir / "in-process.jsonl").unlink(missing_ok=True)


# -- memory --------------------------------------------------------------------------------------


@dataclass
class MemorySampler:
    """RSS of the stack's task processes every `interval` s: (Unix time, pid, ti id, bytes)."""

    stack: AirflowStack
    interval: float = 0.5
    samples: list[tuple[float, int, str, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            # This stack's tasks descend from its scheduler (other stacks may run on the machine;
            # the process title overwrites the environment, so the stack's marker cannot tell).
            components = {p.pid for p in list(self.stack.processes.values())}
            for proc in task_processes():
                with contextlib.suppress(psutil.Error):
                    process = psutil.Process(proc.pid)
                    if any(parent.pid in components for parent in process.parents()):
                        self.samples.append((time.time(), proc.pid, proc.ti_id, process.memory_info().rss))

    def summary(self, begun: float, ended: float, tasks: dict[str, str]) -> dict[str, Any]:
        """Largest RSS overall and by task, and the largest in the first and last quarter of the drain."""
        within = [s for s in self.samples if begun <= s[0] <= ended]
        if not within:
            return {"rss_samples": 0}
        top = max(within, key=lambda s: s[3])
        by_task: dict[str, int] = {}
        for _, _, ti, rss in within:
            name = tasks.get(ti, "?")
            by_task[name] = max(by_task.get(name, 0), rss)
        quarter = (ended - begun) / 4

        def peak(lo: float, hi: float) -> float | None:
            got = [s[3] for s in within if lo <= s[0] <= hi]
            return round(max(got) / 2**20, 1) if got else None

        return {
            "rss_samples": len(within),
            "max_rss_mib": round(top[3] / 2**20, 1),
            "max_rss_task": tasks.get(top[2], "?"),
            "max_rss_mib_by_task": {k: round(v / 2**20, 1) for k, v in sorted(by_task.items())},
            "first_quarter_max_rss_mib": peak(begun, begun + quarter),
            "last_quarter_max_rss_mib": peak(ended - quarter, ended),
        }


# -- the real stack ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    pending: str
    batch_size: int
    chunk_size: int

    @property
    def label(self) -> str:
        return f"{self.pending}-b{self.batch_size}-c{self.chunk_size}"

    def config(self) -> DeliveryConfig:
        return DeliveryConfig(batch_size=self.batch_size, chunk_size=self.chunk_size)


def file_check(path: Path, last_id: int, live: list[int]) -> dict[str, Any]:
    """What the file connector wrote: backlog rows, live messages, order (read a line at a time)."""
    previous, disorder, backlog, seen_live = 0, 0, 0, set()
    wanted = set(live)
    with path.open() as lines:
        for line in lines:
            push_id = int(json.loads(line)["push_id"])
            disorder += push_id <= previous
            previous = push_id
            if push_id <= last_id:
                backlog += 1
            elif push_id in wanted:
                seen_live.add(push_id)
    return {
        "file_backlog_rows": backlog,
        "file_live_expected": len(wanted),
        "file_live_missing": len(wanted - seen_live),
        "file_not_increasing": disorder,
    }


def pulse_check(tail: list[int], live: list[int]) -> dict[str, Any]:
    """The capped queue's tail: every live message Pulse takes, and push ids increasing."""
    return {
        "pulse_live_expected": len(live),
        "pulse_live_missing": len(set(live) - set(tail)),
        "pulse_tail_not_increasing": sum(b <= a for a, b in zip(tail, tail[1:], strict=False)),
    }


def on_stack(case: Case, rows: int, rate: float, workdir: Path, timeout: float, log: Any) -> dict[str, Any]:
    source = create_database("bp_drain")
    url = admin_url(source)
    out = workdir / f"{case.label}.jsonl"
    producer: Producer | None = None
    try:
        began = time.monotonic()
        last_id = fill(url, rows, case.pending)
        log(f"{case.label}: {rows:,} rows in {case.pending} in {time.monotonic() - began:.0f} s")
        with Destinations() as dest:
            env = dest.airflow_env(url, out, case.config())
            stack_dir = workdir / case.label
            # The DAG is unpaused when parsed (`dags_are_paused_at_creation = False`): runs may start
            # before the stack reports ready, so the drain is timed from the first run's start.
            stack = AirflowStack(stack_dir, "local", env, "event")
            sampler = MemorySampler(stack).start()
            with stack:
                ready = time.time()
                producer = Producer(url, rate, seed=SEED + 1).start()
                progress: list[tuple[float, int]] = []
                while (left := backlog_left(url, last_id)) is not None:
                    if time.time() - ready > timeout:
                        raise TimeoutError(f"{case.label}: not drained in {timeout:g} s (oldest: {left})")
                    if producer.error is not None:
                        raise RuntimeError(f"the producer failed: {producer.error!r}")
                    progress.append((time.time(), left))
                    time.sleep(1)
                drained = time.time()
                log(f"{case.label}: drained; stopping the producer, delivering the live messages")
                producer.stop()
                deadline = time.monotonic() + 300
                while not all_empty(url):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{case.label}: live messages not delivered within 300 s")
                    time.sleep(1)
                sampler.stop()
                runs = stack.dag_runs(limit=10_000)
                tis = stack.task_instances(limit=100_000)
            tail = dest.pulse_tail()
        tasks = {
            ti["id"]: ti["task_id"]
            + (f"[{ti['rendered_map_index']}]" if ti.get("rendered_map_index") else "")
            for ti in tis
        }
        starts = [_unix(r["start_date"]) for r in runs if r.get("start_date")]
        begun = min([ready, *starts])
        drain = drained - begun
        expected = expected_ids(producer.produced, dest.exchange)
        result = {
            "drain_seconds": round(drain, 1),
            "rows_per_s": round(rows / drain),
            "first_run_before_ready_s": round(ready - begun, 1),
            "dag_runs": len(runs),
            "dag_runs_in_drain": sum(1 for t in starts if t <= drained),
            "run_seconds_median": _median([_seconds(r) for r in runs]),
            "task_seconds_median": {
                name: _median([_seconds(ti) for ti in tis if ti["task_id"] == name])
                for name in sorted({ti["task_id"] for ti in tis})
            },
            "longest_tasks": sorted(
                (
                    (tasks[ti["id"]], _seconds(ti), round(_unix(ti["start_date"]) - begun, 1))
                    for ti in tis
                    if _seconds(ti) is not None
                ),
                key=lambda t: -(t[1] or 0),
            )[:8],
            "live_produced": len(producer.produced),
            **sampler.summary(begun, drained, tasks),
            **file_check(out, last_id, expected["file"]),
            **pulse_check(tail, expected["pulse"]),
            "progress": [(round(t - begun, 1), left) for t, left in progress[:: max(1, len(progress) // 40)]],
        }
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM push_dead_letter WHERE connector = 'file' AND message_id <= %s",
                (last_id,),
            ).fetchone()
        result["file_dead_letters_backlog"] = int(row[0]) if row else 0
        return result
    finally:
        if producer is not None:
            producer.stop()
        drop_database(source)
        out.unlink(missing_ok=True)


def _unix(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def _seconds(run: dict[str, Any]) -> float | None:
    """A run's or task instance's duration, if it ended."""
    if not run.get("start_date") or not run.get("end_date"):
        return None
    return (
        datetime.fromisoformat(run["end_date"]) - datetime.fromisoformat(run["start_date"])
    ).total_seconds()


def _median(values: list[float | None]) -> float | None:
    got = sorted(v for v in values if v is not None)
    return round(got[len(got) // 2], 1) if got else None


# -- the command ---------------------------------------------------------------------------------


def passed(r: dict[str, Any]) -> bool:
    return bool(
        r["file_live_missing"] == 0
        and r["file_not_increasing"] == 0
        and r["file_backlog_rows"] + r["file_dead_letters_backlog"] == r["rows"]
        and r["pulse_live_missing"] == 0
        and r["pulse_tail_not_increasing"] == 0
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="messages waiting (1,000,000)")
    parser.add_argument("--pending", nargs="+", choices=("push", "backlog"), default=["push", "backlog"])
    parser.add_argument("--rate", type=float, default=5.0, help="live messages a second during the drain (5)")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[DeliveryConfig().batch_size])
    parser.add_argument("--chunk-size", type=int, nargs="+", default=[DeliveryConfig().chunk_size])
    parser.add_argument("--baseline-rows", type=int, default=100_000, help="in-process sample (100,000)")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds a drain may take (7200)")
    args = parser.parse_args()

    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = ROOT / "var" / "bench" / f"drain-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    baseline_rows = min(args.baseline_rows, args.rows)
    cases = [
        Case(p, b, c)
        for p in args.pending
        for b in (args.batch_size if p == "push" else args.batch_size[:1])  # a backlog ignores batch_size
        for c in args.chunk_size
    ]
    results = []
    for case in cases:
        base = in_process(baseline_rows, case.pending, case.config(), workdir)
        print(f"{case.label}: in-process {base:,.0f} rows/s on {baseline_rows:,} rows", flush=True)
        stack = on_stack(case, args.rows, args.rate, workdir, args.timeout, lambda m: print(m, flush=True))
        r = {
            **asdict(case),
            "rows": args.rows,
            "baseline_rows": baseline_rows,
            "in_process_rows_per_s": round(base),
            **stack,
            "ratio": round(stack["rows_per_s"] / base, 3),
        }
        results.append(r)
        print(
            f"{case.label}: {json.dumps(r)}", flush=True
        )  # each case as it ends: a long run can be read early
    show(results)
    report = {
        "date": stamp,
        "rate": args.rate,
        "load": [round(x, 2) for x in psutil.getloadavg()],
        "runs": results,
    }
    (ROOT / "var" / "bench" / f"drain-{stamp}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))
    return 0 if all(passed(r) for r in results) else 1


def show(results: list[dict[str, Any]]) -> None:
    print(
        "\n| pending in | batch | chunk | rows | drain | stack rows/s | in-process rows/s | ratio | runs |"
        " run (median) | largest task RSS | RSS 1st ¼ / last ¼ | live msgs | live missing | out of order |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|")
    for r in results:
        print(
            f"| {r['pending']} | {r['batch_size']:,} | {r['chunk_size']:,} | {r['rows']:,}"
            f" | {r['drain_seconds']:.0f} s | {r['rows_per_s']:,} | {r['in_process_rows_per_s']:,}"
            f" | **{r['ratio']:.2f}** | {r['dag_runs']}"
            f" | {r['run_seconds_median']} s | {r.get('max_rss_mib')} MiB ({r.get('max_rss_task')})"
            f" | {r.get('first_quarter_max_rss_mib')} / {r.get('last_quarter_max_rss_mib')} MiB"
            f" | {r['live_produced']} | {r['file_live_missing']} + {r['pulse_live_missing']}"
            f" | {r['file_not_increasing']} + {r['pulse_tail_not_increasing']} |"
        )


if __name__ == "__main__":
    sys.exit(main())
