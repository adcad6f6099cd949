"""Latency benchmark: commit to `push` → received by a Pulse consumer, per schedule, in one run.

The same deployed system — the real scheduler, dag-processor, triggerer and API server on a fresh
PostgreSQL metadata database (`scripts.airflow_stack`), LocalExecutor, the `pulse` connector on
this machine's RabbitMQ — is measured under each schedule in turn, at the same steady producer
rate, in one invocation:

- **event (listen)**: `BUGZILLA_PUSH_SCHEDULE=event` with `bugzilla-push notify install` done, so
  the asset watcher in the triggerer LISTENs for commits;
- **event (poll)**: the same without the notify trigger: the watcher polls `MAX(id)` each second;
- **minute**: `BUGZILLA_PUSH_SCHEDULE=minute`, the cron safety net alone (what a deployment without
  a triggerer gets; BMO's daemon polled every 30 s).

A producer commits small transactions at `--rate` messages/s and notes each commit's time; a
consumer on a queue bound to the exchange notes each message's first arrival. Latency = arrival −
commit, per message, for the messages committed after `--warmup` seconds (the first runs also
parse the DAG and start the watcher). Reported: p50, p90, p99 and max per schedule, and how many
expected messages never arrived (must be 0), and what the measured window cost: the machine's CPU
(all processes; 100 % = one core) and the scheduler's own loop (its main process, without the
tasks it starts). Prints a table and one JSON line; the JSON also goes to
`var/bench/latency-<time>.json`.

`--rate 5 50` measures each case at each rate; `--linger 0 30` at each `linger_seconds` (0: a run
delivers its batch and ends; without it, the shipped default applies); `--idle-sleep 1 0.5 0.25` at
each `[scheduler] scheduler_idle_sleep_time` (how long the scheduler sleeps when a loop found
nothing to do: every hop between two tasks waits for it; without it, `airflow.cfg`'s). For each
case it also reads Airflow's records of the runs in the window and reports where a run's time
goes: the median of each phase (task start hops, task durations, the gap between runs).

    .venv/bin/python bench/bench_latency.py [--rate R ...] [--duration 240] [--warmup 60]
        [--modes listen poll minute] [--linger S ...] [--idle-sleep S ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bugzilla_push.store import notify, open_store  # noqa: E402
from scripts.airflow_stack import AirflowStack  # noqa: E402
from scripts.chaos.faults import ensure_broker_started  # noqa: E402
from scripts.chaos.producer import Producer  # noqa: E402
from scripts.chaos.receivers import PulseTap, PulseTimer  # noqa: E402
from scripts.chaos.run import expected_ids  # noqa: E402
from scripts.stack_support import admin_url, create_database, drop_database  # noqa: E402

MODES = {"listen": ("event", True), "poll": ("event", False), "minute": ("minute", False)}
LABELS = {"listen": "event (listen)", "poll": "event (poll)", "minute": "minute"}


@dataclass(frozen=True)
class Result:
    mode: str
    idle_sleep: float | None
    rate: float
    linger: float | None
    machine_cpu: float
    scheduler_cpu: float
    measured: int
    missing: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float
    phases: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        return {"schedule": LABELS[self.mode], **{k: v for k, v in self.__dict__.items() if k != "mode"}}

    @property
    def label(self) -> str:
        text = LABELS[self.mode] + f", {self.rate:g}/s"
        text += "" if self.linger is None else f", linger {self.linger:g} s"
        return text + ("" if self.idle_sleep is None else f", idle {self.idle_sleep:g} s")


class CpuMeter:
    """CPU used between `start()` and `stop()`: the whole machine's, and one process's (percent of
    one core: 200 % is both cores of a 2-core machine busy)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)

    def _read(self) -> tuple[float, float, float]:
        m = psutil.cpu_times()
        busy = m.user + m.nice + m.system + m.irq + m.softirq + m.steal  # guest time is inside user
        own = self.process.cpu_times()
        return time.monotonic(), busy, own.user + own.system

    def start(self) -> None:
        self._begun = self._read()

    def stop(self) -> tuple[float, float]:
        (t0, m0, p0), (t1, m1, p1) = self._begun, self._read()
        return round((m1 - m0) / (t1 - t0) * 100, 1), round((p1 - p0) / (t1 - t0) * 100, 1)


PHASES = (
    ("runs", "runs started in the window"),
    ("run", "a run, start to end"),
    ("to_read", "run start → read_pending starts"),
    ("read", "read_pending"),
    ("to_deliver", "read_pending ends → deliver starts"),
    ("deliver", "deliver (the slowest connector)"),
    ("to_finalize", "deliver ends → finalize starts"),
    ("finalize", "finalize"),
    ("to_end", "finalize ends → run ends"),
    ("between", "run ends → next run starts"),
)


def _ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def run_phases(stack: AirflowStack, since: float, until: float) -> dict[str, float]:
    """Where a run's time goes: the median of each phase over the runs that started in the window.

    Read from Airflow's own records (the REST API's dag runs and task instances).
    """
    runs = sorted(
        (r for r in stack.dag_runs(limit=1000) if r.get("start_date") and r.get("end_date")),
        key=lambda r: r["start_date"],
    )
    tasks: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for ti in stack.task_instances(limit=5000):
        start, end = _ts(ti.get("start_date")), _ts(ti.get("end_date"))
        if start is not None and end is not None:
            tasks.setdefault(ti["dag_run_id"], {}).setdefault(ti["task_id"], []).append((start, end))
    samples: dict[str, list[float]] = {name: [] for name, _ in PHASES[1:]}
    previous_end = None
    for run in runs:
        start, end = _ts(run["start_date"]), _ts(run["end_date"])
        if start is None or end is None:
            continue
        if since <= start <= until:
            parts = tasks.get(run["dag_run_id"], {})
            if all(parts.get(t) for t in ("read_pending", "deliver", "finalize")):
                read, finalize = parts["read_pending"][0], parts["finalize"][0]
                deliver = (min(s for s, _ in parts["deliver"]), max(e for _, e in parts["deliver"]))
                steps = {
                    "run": end - start,
                    "to_read": read[0] - start,
                    "read": read[1] - read[0],
                    "to_deliver": deliver[0] - read[1],
                    "deliver": deliver[1] - deliver[0],
                    "to_finalize": finalize[0] - deliver[1],
                    "finalize": finalize[1] - finalize[0],
                    "to_end": end - finalize[1],
                }
                for name, value in steps.items():
                    samples[name].append(value)
            if previous_end is not None:
                samples["between"].append(start - previous_end)
        previous_end = end
    phases = {name: round(statistics.median(v), 2) for name, v in samples.items() if v}
    return {"runs": len(samples["run"]), **phases}


def percentile(values: list[float], q: float) -> float:
    """The q-quantile by the nearest-rank method (no interpolation between two messages)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))]


def measure(
    mode: str,
    idle_sleep: float | None,
    rate: float,
    linger: float | None,
    args: argparse.Namespace,
    workdir: Path,
) -> Result:
    schedule, listen = MODES[mode]
    source = create_database("bp_latency")
    source_url = admin_url(source)
    tag = uuid.uuid4().hex[:8]
    tap = PulseTap(f"exchange/guest/latency-{tag}", f"bp-latency-{tag}")
    timer = PulseTimer(tap.exchange, tap.queue)
    producer = None
    try:
        with open_store(source_url) as store:
            store.create_schema()
            if listen:
                notify.install(store)
        ensure_broker_started()
        timer.start()
        env = {
            "AIRFLOW_CONN_BUGZILLA_DB": source_url,
            "AIRFLOW_CONN_PULSE": (
                f"amqp://guest:guest@127.0.0.1:5672/%2F?exchange={quote(tap.exchange, safe='')}"
            ),
            "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "pulse",
        }
        if idle_sleep is not None:
            env["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"] = f"{idle_sleep:g}"
        if linger is not None:
            env["AIRFLOW_VAR_BUGZILLA_PUSH_CONFIG"] = json.dumps({"linger_seconds": linger})
        name = f"{mode}-{rate:g}" + ("" if linger is None else f"-linger-{linger:g}")
        name += "" if idle_sleep is None else f"-idle-{idle_sleep:g}"
        print(f"{name}: starting Airflow (logs in {workdir / name})", flush=True)
        with AirflowStack(workdir / name, "local", env, schedule) as stack:
            begun = time.time()
            producer = Producer(source_url, rate, args.seed, workdir / f"{name}-produced.jsonl").start()
            cpu = CpuMeter(stack.processes["scheduler"].pid)
            time.sleep(args.warmup)
            cpu.start()
            time.sleep(args.duration)
            machine_cpu, scheduler_cpu = cpu.stop()
            producer.stop()
            if producer.error is not None:
                raise RuntimeError(f"the producer failed: {producer.error!r}")
            wanted = set(expected_ids(producer.produced, tap.exchange)["pulse"])
            measured = [
                p for p in producer.produced if p.row.id in wanted and p.committed_at >= begun + args.warmup
            ]
            deadline = time.monotonic() + 180  # the minute schedule's last run, and a slow first one
            while time.monotonic() < deadline and any(p.row.id not in timer.arrived for p in measured):
                time.sleep(1)
            phases = run_phases(stack, begun + args.warmup, begun + args.warmup + args.duration)
        latencies = [timer.arrived[p.row.id] - p.committed_at for p in measured if p.row.id in timer.arrived]
        if not latencies:
            raise RuntimeError(f"{name}: nothing arrived")
        return Result(
            mode,
            idle_sleep,
            rate,
            linger,
            machine_cpu,
            scheduler_cpu,
            measured=len(latencies),
            missing=len(measured) - len(latencies),
            p50=round(percentile(latencies, 0.50), 2),
            p90=round(percentile(latencies, 0.90), 2),
            p99=round(percentile(latencies, 0.99), 2),
            max=round(max(latencies), 2),
            mean=round(statistics.fmean(latencies), 2),
            phases=phases,
        )
    finally:
        if producer is not None:
            producer.stop()
        timer.stop()
        tap.delete()
        drop_database(source)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", nargs="+", type=float, default=[5], help="messages committed per second")
    parser.add_argument("--duration", type=float, default=240, help="seconds measured per schedule")
    parser.add_argument("--warmup", type=float, default=60, help="seconds produced but not measured first")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument(
        "--idle-sleep",
        nargs="+",
        type=float,
        default=[None],
        help="scheduler_idle_sleep_time values to measure each schedule at (default: airflow.cfg's)",
    )
    parser.add_argument(
        "--linger",
        nargs="+",
        type=float,
        default=[None],
        help="linger_seconds values to measure each schedule at (default: the shipped one)",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = ROOT / "var" / "bench" / f"latency-{stamp}"
    results = []
    for rate in args.rate:
        for linger in args.linger:
            for idle_sleep in args.idle_sleep:
                for mode in args.modes:
                    results.append(measure(mode, idle_sleep, rate, linger, args, workdir))
                    print(f"{results[-1].label}: {json.dumps(results[-1].to_dict())}", flush=True)

    print(
        f"\ncommit → Pulse consumer, {args.duration:g} s measured per case after {args.warmup:g} s of "
        "warm-up; LocalExecutor on this machine; CPU in % of one core"
    )
    width = max(len(r.label) for r in results) + 2
    print(
        f"{'case':<{width}}{'messages':>9}{'missing':>9}{'p50 s':>8}{'p90 s':>8}{'p99 s':>8}{'max s':>8}"
        f"{'machine %':>11}{'scheduler %':>13}"
    )
    for r in results:
        print(
            f"{r.label:<{width}}{r.measured:>9,}{r.missing:>9}{r.p50:>8.2f}{r.p90:>8.2f}{r.p99:>8.2f}{r.max:>8.2f}"
            f"{r.machine_cpu:>11.1f}{r.scheduler_cpu:>13.1f}"
        )
    print("\nwhere a run's time goes (medians, seconds)")
    print(f"{'phase':<40}" + "".join(f"{i + 1:>8}" for i in range(len(results))))
    for key, what in PHASES:
        print(f"{what:<40}" + "".join(f"{r.phases.get(key, float('nan')):>8g}" for r in results))
    line = json.dumps({"benchmark": "latency", "results": [r.to_dict() for r in results]})
    (workdir / "latency.json").write_text(line + "\n")
    print(line)
    return 0 if all(r.missing == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
