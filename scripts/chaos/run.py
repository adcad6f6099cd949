"""One chaos run: the stack, a producer, the faults, the drain, the checker, the report.

Whatever happens, the broker is left started and the harness's databases, queue and processes are
removed (try/finally); the report and every component's log stay under `var/chaos/<run-id>/`.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import psycopg

from bugzilla_push.connectors import ConnectionInfo
from bugzilla_push.connectors.elasticsearch.connector import ElasticsearchConnector
from bugzilla_push.connectors.pulse.connector import PulseConnector
from bugzilla_push.model import InvalidMessage, parse_message
from bugzilla_push.store import open_store
from scripts.airflow_stack import DAG_ID, AirflowStack
from scripts.chaos.checker import Verdict, check_elasticsearch, check_stream, es_arrivals
from scripts.chaos.faults import KINDS, FaultInjector, ensure_broker_started
from scripts.chaos.producer import HARNESS_APP, Produced, Producer
from scripts.chaos.receivers import PulseTap, RecordingEs, read_file_ids
from scripts.chaos.report import show, write_report
from scripts.stack_support import ROOT, admin_url, create_database, drop_database

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

CONNECTORS = ("pulse", "elasticsearch", "file")
# The most a connector may receive twice per fault: what it sends between two commits of progress.
WINDOWS = {"pulse": 2000, "elasticsearch": 500, "file": 500}
# Backoff grows 5ⁿ s to 15 min after consecutive failures; a fault every few seconds would keep a
# connector waiting for most of a short run, so the harness caps it (the delivery rules are unchanged).
DELIVERY_CONFIG = {"backoff_cap": 30}
MAX_PAYLOAD = 16 * 1024 * 1024


@dataclass(frozen=True)
class Options:
    duration: float = 600
    rate: float = 50
    faults: int = 20
    seed: int = 1
    executor: str = "local"
    schedule: str = "event"
    drain_timeout: float = 900
    run_id: str = ""
    # Trigger a manual run whenever none is queued or running. Off: the event schedule starts runs
    # on commits by itself; with --schedule minute a run a minute leaves too few deliveries for
    # 20 faults of each kind in ten minutes.
    pump: bool = False
    # linger_seconds of the delivery runs (None: the shipped default).
    linger: float | None = None


@dataclass
class Outcome:
    verdicts: list[Verdict]
    report: dict[str, Any]
    passed: bool


def expected_ids(produced: list[Produced], exchange: str, es_port: int | None = None) -> dict[str, list[int]]:
    """What each connector should receive, by the connectors' own filters (`should_send`).

    Without `es_port`, Elasticsearch is left out (the latency benchmark delivers to Pulse only).
    """
    filters = {
        "pulse": PulseConnector.from_connection(
            ConnectionInfo("pulse", "amqp", "127.0.0.1", 5672, "guest", "guest", "/", {"exchange": exchange})
        ).should_send
    }
    if es_port is not None:
        filters["elasticsearch"] = ElasticsearchConnector.from_connection(
            ConnectionInfo("elasticsearch", "elasticsearch", "127.0.0.1", es_port, schema="http")
        ).should_send
    out: dict[str, list[int]] = {"file": [], **{name: [] for name in filters}}
    for p in produced:
        try:
            message = parse_message(p.row, MAX_PAYLOAD)
        except InvalidMessage:
            continue  # dead-lettered by every connector
        out["file"].append(p.row.id)
        for name, should_send in filters.items():
            if should_send(message):
                out[name].append(p.row.id)
    return out


def pending(url: str) -> tuple[int, int]:
    """Rows left in `push`, and in every connector's backlog."""
    with psycopg.connect(url, application_name=HARNESS_APP, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM push), (SELECT count(*) FROM push_backlog)"
        ).fetchone()
        return int(row[0]), int(row[1])


def _ticks(stack: AirflowStack, pump: bool, stop: threading.Event) -> None:
    """Housekeeping every 2 s until stopped: reap idle orphan workers, and pump runs if asked to."""
    while not stop.wait(2):
        try:
            stack.reap_idle_orphans()
            if pump and not any(r["state"] in ("queued", "running") for r in stack.dag_runs(limit=5)):
                stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
        except Exception:  # noqa: BLE001, S110 - the API server is busy or a run was just created: next tick
            pass


def where_delivered(delivers: list[dict[str, Any]]) -> dict[str, Any]:
    """Which hosts (Celery: which workers) ran the `deliver` tasks, and how many runs used several."""
    hosts: Counter[str] = Counter()
    per_run: dict[str, set[str]] = {}
    for ti in delivers:
        if ti["state"] == "success":
            host = ti.get("hostname") or "?"
            hosts[host] += 1
            per_run.setdefault(ti["dag_run_id"], set()).add(host)
    return {
        "deliver_tasks_by_host": dict(hosts),
        "runs_across_hosts": sum(len(h) > 1 for h in per_run.values()),
        "runs": len(per_run),
    }


def deliver_return_value(stack: AirflowStack, ti: dict[str, Any]) -> Any:
    """What one finished deliver task returned (its XCom), decoded when the API hands back JSON text."""
    entry = stack.api(
        "GET",
        f"/dags/{DAG_ID}/dagRuns/{quote(ti['dag_run_id'], safe='')}/taskInstances/deliver/"
        "xcomEntries/return_value",
        missing_ok=True,
        params={"map_index": ti["map_index"]},
    )
    value = (entry or {}).get("value")
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    return value


def delivery_outcomes(
    delivers: list[dict[str, Any]], return_value: Callable[[dict[str, Any]], Any]
) -> dict[str, dict[str, int]]:
    """Each connector's delivery attempts by outcome (`done`, `backing_off`, `blocked`...: what its
    deliver task returned), and the tasks that ended otherwise by state (a try killed three times).

    A run still starting when the report is taken holds one unexpanded `deliver` (map index -1, no
    state yet); it has attempted nothing and is left out.
    """
    out: dict[str, dict[str, int]] = {}
    # A task killed before it rendered its name has only its map index; the connectors keep their
    # order (and so their index) across runs.
    names = {ti["map_index"]: ti["rendered_map_index"] for ti in delivers if ti.get("rendered_map_index")}
    for ti in delivers:
        if ti["map_index"] == -1 and not ti["state"]:
            continue
        outcome = ti["state"] or "not started"
        if outcome == "success":
            value = return_value(ti)
            outcome = str(value.get("state", "?")) if isinstance(value, dict) else "skipped"
        by_outcome = out.setdefault(str(names.get(ti["map_index"], ti["map_index"])), {})
        by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
    return out


def cadence(runs: list[dict[str, Any]], delivers: list[dict[str, Any]]) -> dict[str, Any]:
    """How often runs started and how long they took: what bounds the attempts in a chaos run."""
    spans = sorted(
        (datetime.fromisoformat(r["start_date"]), datetime.fromisoformat(r["end_date"]))
        for r in runs
        if r.get("start_date") and r.get("end_date")
    )
    durations = [(end - start).total_seconds() for start, end in spans]
    gaps = [(b[0] - a[1]).total_seconds() for a, b in pairwise(spans)]
    return {
        "runs": len(spans),
        "run_seconds_median": round(statistics.median(durations), 1) if durations else None,
        "run_seconds_max": round(max(durations), 1) if durations else None,
        "gap_seconds_median": round(statistics.median(gaps), 1) if gaps else None,
        # A long gap while commits kept coming is a stall: no run started although one was due.
        "gap_seconds_max": round(max(gaps), 1) if gaps else None,
        "deliver_tasks_retried": sum(1 for ti in delivers if int(ti.get("try_number") or 1) > 1),
    }


def wait_drained(url: str, timeout: float) -> tuple[bool, float]:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if pending(url) == (0, 0):
                return True, time.monotonic() - started
        except psycopg.Error:
            pass
        time.sleep(2)
    return False, time.monotonic() - started


def wait_runs_over(stack: AirflowStack, timeout: float) -> bool:
    """Wait until no delivery run is queued or running, so that every task's outcome is final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the API server is busy: look again
            if not any(r["state"] in ("queued", "running") for r in stack.dag_runs(limit=5)):
                return True
        time.sleep(1)
    return False


def stack_env(
    source_url: str, es_port: int, exchange: str, file_path: Path, linger: float | None = None
) -> dict[str, str]:
    config = DELIVERY_CONFIG if linger is None else {**DELIVERY_CONFIG, "linger_seconds": linger}
    return {
        "AIRFLOW_CONN_BUGZILLA_DB": source_url,
        "AIRFLOW_CONN_PULSE": f"amqp://guest:guest@127.0.0.1:5672/%2F?exchange={quote(exchange, safe='')}",
        "AIRFLOW_CONN_ELASTICSEARCH": json.dumps(
            {"conn_type": "elasticsearch", "host": "127.0.0.1", "port": es_port, "schema": "http"}
        ),
        "AIRFLOW_CONN_FILE": json.dumps({"conn_type": "fs", "extra": {"path": str(file_path)}}),
        "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": ",".join(CONNECTORS),
        "AIRFLOW_VAR_BUGZILLA_PUSH_CONFIG": json.dumps(config),
    }


def run(options: Options, log: Any = print) -> Outcome:
    run_id = options.run_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:4]
    run_dir = ROOT / "var" / "chaos" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    source = create_database("bp_chaos_source")
    source_url = admin_url(source)
    es = RecordingEs()
    tap = PulseTap(f"exchange/guest/chaos-{run_id}", f"bp-chaos-{run_id}")
    producer: Producer | None = None
    injector: FaultInjector | None = None
    try:
        with open_store(source_url) as store:
            store.create_schema()
        ensure_broker_started()
        tap.declare()
        env = stack_env(source_url, es.port, tap.exchange, run_dir / "file.jsonl", options.linger)
        log(f"run {run_id}: starting Airflow ({options.executor} executor), logs in {run_dir / 'airflow'}")
        with AirflowStack(run_dir / "airflow", options.executor, env, options.schedule) as stack:
            log(f"Airflow up at {stack.url}; producing {options.rate:g}/s for {options.duration:g} s")
            producer = Producer(source_url, options.rate, options.seed, run_dir / "produced.jsonl").start()
            injector = FaultInjector(stack, es, source, options.faults, options.duration, options.seed)
            if options.faults:
                injector.start()
            stop_ticks = threading.Event()
            threading.Thread(target=_ticks, args=(stack, options.pump, stop_ticks), daemon=True).start()
            started = time.monotonic()
            while time.monotonic() - started < options.duration and producer.error is None:
                time.sleep(1)
            producer.stop()
            log(f"produced {len(producer.produced):,} messages; waiting for the remaining faults")
            injector.join(timeout=120)
            log("draining")
            drained, drain_seconds = wait_drained(source_url, options.drain_timeout)
            stop_ticks.set()
            wait_runs_over(stack, timeout=660)  # a lingering run ends at its deadline (at most 600 s)
            runs = stack.dag_runs(limit=10_000)
            delivers = [ti for ti in stack.task_instances(limit=100_000) if ti["task_id"] == "deliver"]
            outcomes = delivery_outcomes(delivers, lambda ti: deliver_return_value(stack, ti))
            with psycopg.connect(source_url, application_name=HARNESS_APP) as conn:
                dead = conn.execute("SELECT count(*) FROM push_dead_letter").fetchone()[0]
        return _judge(
            options,
            run_id,
            run_dir,
            producer,
            injector,
            es,
            tap,
            drained,
            drain_seconds,
            runs,
            dead,
            delivers,
            outcomes,
        )
    finally:
        if producer is not None:
            producer.stop()
        if injector is not None:
            injector.join(timeout=0)
        ensure_broker_started()
        es.stop()
        tap.delete()
        drop_database(source)


def _judge(
    options: Options,
    run_id: str,
    run_dir: Path,
    producer: Producer,
    injector: FaultInjector,
    es: RecordingEs,
    tap: PulseTap,
    drained: bool,
    drain_seconds: float,
    runs: list[dict[str, Any]],
    dead: int,
    delivers: list[dict[str, Any]],
    outcomes: dict[str, dict[str, int]],
) -> Outcome:
    expected = expected_ids(producer.produced, tap.exchange, es.port)
    received = {
        "pulse": tap.drain(),
        "elasticsearch": es_arrivals(es.writes),
        "file": read_file_ids(run_dir / "file.jsonl"),
    }
    (run_dir / "received.json").write_text(json.dumps(received))  # for comparing runs (compare.py)
    verdicts = [
        check_stream("pulse", expected["pulse"], received["pulse"], WINDOWS["pulse"]),
        check_elasticsearch(
            expected["elasticsearch"], es.writes, es.final_versions(), WINDOWS["elasticsearch"]
        ),
        check_stream("file", expected["file"], received["file"], WINDOWS["file"]),
    ]
    counts = injector.counts()
    short = [k for k in KINDS if counts[k] < options.faults]
    states = dict(Counter(r["state"] for r in runs))
    run_types = dict(Counter(r["run_type"] for r in runs))
    passed = all(v.ok for v in verdicts) and not short and drained and producer.error is None
    summary = [
        f"produced {len(producer.produced):,} messages in {options.duration:g} s; "
        f"drained: {drained} after {drain_seconds:.0f} s; dead letters: {dead}; DAG runs: {states} "
        f"{run_types}",
        f"faults short of {options.faults}: {', '.join(short) or 'none'}; "
        f"injector errors: {len(injector.errors)}",
        f"report: {run_dir / 'report.json'}",
        "PASS" if passed else "FAIL",
    ]
    report = {
        "run_id": run_id,
        "options": asdict(options),
        "passed": passed,
        "produced": len(producer.produced),
        "producer_error": repr(producer.error) if producer.error else None,
        "drained": drained,
        "drain_seconds": round(drain_seconds, 1),
        "dead_letters": dead,
        "dag_runs": states,
        "dag_run_types": run_types,
        "workers": where_delivered(delivers),
        "cadence": cadence(runs, delivers),
        "attempts": outcomes,
        "es_bulk_requests": dict(Counter(str(r.status) for r in es.server.bulk_requests())),
        "connectors": [v.to_dict() for v in verdicts],
        "faults": {
            "injected": counts,
            "short": short,
            "errors": injector.errors,
            "timeline": [asdict(e) for e in sorted(injector.events, key=lambda e: e.at)],
        },
        "summary": summary,
    }
    write_report(run_dir / "report.json", report)
    show(report, verdicts)
    return Outcome(verdicts, report, passed)
