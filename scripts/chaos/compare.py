"""LocalExecutor against CeleryExecutor (two workers): the same stream, delivered the same.

    .venv/bin/python -m scripts.chaos.compare [--duration 120] [--rate 20] [--seed 2]

Runs the chaos harness twice without faults, same seed (so the same messages under the same push
ids), first on the LocalExecutor, then on the CeleryExecutor with two workers (RabbitMQ broker,
PostgreSQL result backend). Each run must pass the checker on its own (nothing lost, nothing out
of order); then, over the push ids both runs produced, every connector must have received the same
ids in the same order of first arrival in both. The Celery run's worker table shows which worker
ran each `deliver` task and how many runs had their connectors on different workers (at least one
is required). Exit 0 when all of that holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from scripts.chaos.run import ROOT, Options, run

if TYPE_CHECKING:
    from pathlib import Path


def first_arrivals(ids: list[int], upto: int) -> list[int]:
    """Ids up to `upto`, each at its first arrival (re-sends dropped)."""
    seen: set[int] = set()
    out = []
    for i in ids:
        if i <= upto and i not in seen:
            seen.add(i)
            out.append(i)
    return out


def last_produced(run_dir: Path) -> int:
    lines = (run_dir / "produced.jsonl").read_text().splitlines()
    return max(json.loads(line)["id"] for line in lines)


def compare(local_dir: Path, celery_dir: Path) -> dict[str, dict[str, int | bool]]:
    """Per connector: how many common ids each run delivered, and whether the orders agree."""
    upto = min(last_produced(local_dir), last_produced(celery_dir))
    local = json.loads((local_dir / "received.json").read_text())
    celery = json.loads((celery_dir / "received.json").read_text())
    out: dict[str, dict[str, int | bool]] = {}
    for connector in local:
        a, b = first_arrivals(local[connector], upto), first_arrivals(celery[connector], upto)
        out[connector] = {"local": len(a), "celery": len(b), "same": a == b}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.chaos.compare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration", type=float, default=120)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args(argv)
    outcomes = {
        executor: run(Options(args.duration, args.rate, faults=0, seed=args.seed, executor=executor))
        for executor in ("local", "celery")
    }
    dirs = {e: ROOT / "var" / "chaos" / o.report["run_id"] for e, o in outcomes.items()}
    agreement = compare(dirs["local"], dirs["celery"])
    workers = outcomes["celery"].report["workers"]
    print(f"\n{'connector':<15}{'local':>8}{'celery':>8}  same ids, same order")
    for connector, row in agreement.items():
        print(f"{connector:<15}{row['local']:>8,}{row['celery']:>8,}  {'yes' if row['same'] else 'NO'}")
    print(
        f"Celery: deliver tasks by worker {workers['deliver_tasks_by_host']}; "
        f"{workers['runs_across_hosts']} of {workers['runs']} runs had connectors on different workers"
    )
    ok = (
        all(o.passed for o in outcomes.values())
        and all(row["same"] and row["local"] > 0 for row in agreement.values())
        and workers["runs_across_hosts"] > 0
        and set(workers["deliver_tasks_by_host"]) == {"worker1", "worker2"}
    )
    summary = {
        "agreement": agreement,
        "workers": workers,
        "runs": {e: str(d) for e, d in dirs.items()},
        "passed": ok,
    }
    (dirs["celery"] / "compare.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
