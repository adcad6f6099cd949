"""The chaos run's report: a table on stdout (rich) and `report.json` with the fault timeline."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from pathlib import Path

    from scripts.chaos.checker import Verdict

COLUMNS = (
    ("expected", "expected"),
    ("delivered", "delivered"),
    ("lost", "lost"),
    ("duplicated", "dup"),
    ("out_of_order", "out of order"),
    ("arrived_late", "late (ES)"),
    ("stale_documents", "stale docs"),
    ("episodes", "dup episodes"),
    ("max_episode", "max episode"),
    ("window", "window"),
)


def verdict_table(verdicts: list[Verdict]) -> Table:
    table = Table(title="Per connector")
    table.add_column("connector")
    for _, title in COLUMNS:
        table.add_column(title, justify="right")
    table.add_column("verdict")
    for v in verdicts:
        data = v.to_dict()
        table.add_row(v.connector, *(f"{data[k]:,}" for k, _ in COLUMNS), "ok" if v.ok else "FAIL")
    return table


def fault_table(required: int, counts: dict[str, int]) -> Table:
    table = Table(title="Faults injected")
    table.add_column("kind")
    table.add_column("injected", justify="right")
    table.add_column("required", justify="right")
    for kind, n in counts.items():
        table.add_row(kind, str(n), str(required) + ("" if n >= required else "  SHORT"))
    return table


def worker_table(workers: dict[str, Any]) -> Table:
    table = Table(
        title=f"deliver tasks by host (worker); runs across hosts: {workers['runs_across_hosts']} "
        f"of {workers['runs']}"
    )
    table.add_column("host")
    table.add_column("deliver tasks", justify="right")
    for host, n in sorted(workers["deliver_tasks_by_host"].items()):
        table.add_row(host, f"{n:,}")
    return table


def attempt_table(
    attempts: dict[str, dict[str, int]], cadence: dict[str, Any], bulks: dict[str, int]
) -> Table:
    table = Table(
        title=f"delivery attempts by outcome; Elasticsearch bulk requests by status {bulks}; "
        f"{cadence['runs']} runs, median "
        f"{cadence['run_seconds_median']} s (max {cadence['run_seconds_max']} s), median gap "
        f"{cadence['gap_seconds_median']} s (max {cadence['gap_seconds_max']} s), "
        f"deliver tasks retried {cadence['deliver_tasks_retried']}"
    )
    states = sorted({state for by_state in attempts.values() for state in by_state})
    table.add_column("connector")
    for state in states:
        table.add_column(state, justify="right")
    for connector, by_state in sorted(attempts.items()):
        table.add_row(connector, *(f"{by_state.get(state, 0):,}" for state in states))
    return table


def write_report(path: Path, report: dict[str, Any]) -> None:
    path.write_text(json.dumps(report, indent=2, default=str))


def show(report: dict[str, Any], verdicts: list[Verdict], console: Console | None = None) -> None:
    console = console or Console(width=160)
    console.print(verdict_table(verdicts))
    console.print(fault_table(report["options"]["faults"], report["faults"]["injected"]))
    console.print(worker_table(report["workers"]))
    console.print(attempt_table(report["attempts"], report["cadence"], report["es_bulk_requests"]))
    for line in report["summary"]:
        console.print(line)
