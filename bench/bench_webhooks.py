"""Hundreds of Bugzilla webhooks: 1, 30 and 300 rows of Bugzilla's `webhooks` table, one DAG run each.

    .venv/bin/python bench/bench_webhooks.py [--webhooks 1 30 300] [--messages 10000] [--every 1000]

Each measurement is one run of the DAG's task bodies in this process — `read_pending`, the one
`deliver` item `bugzilla_webhooks` (every webhook, `workers` at once), `finalize` — on a fresh
PostgreSQL source database with Bugzilla's tables (`webhooks`, `products`, `components`, `bugs`,
groups, `push_options`) and the push tables, `--messages` realistic messages pending (the sample
simulator, today's payload shape). Two workloads:

- split: the bugs are filed over 30 products × 10 components. One webhook watches every product;
  30 watch one product each; 300 one component each. Every configuration posts the same messages
  once each: what grows is the number of webhooks reading, filtering and logging the batch.
- every: every webhook watches every product (event `create,change,comment,attachment`), so each
  gets the whole stream (`--every` messages): N webhooks post N × that many.

Receivers are one asyncio HTTP server in a process of its own (`--serve`), a path per webhook;
`--slow-share` of the webhooks answer after 20–50 ms. With `--hang`, the largest configuration
runs once more with one more webhook whose receiver never answers: the others' completion (the
last answer any of them got) is compared with the run without it. The bare floor is one httpx
client POSTing the same payloads to one receiver path, one after the other, in this process.

Reported per run: wall time and this process's CPU seconds (all threads) of the deliver item and
of the whole run, messages posted and answered, ratios to one webhook, the deliver items the run
planned. A table, one JSON line, and the JSON under var/bench/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "include"))

import httpx  # noqa: E402

from bugzilla_push.cli import parse_enqueue_input  # noqa: E402
from bugzilla_push.clock import utcnow  # noqa: E402
from bugzilla_push.model import bug_of  # noqa: E402
from bugzilla_push.samples import BugzillaSimulator  # noqa: E402
from bugzilla_push.store import Store, open_store  # noqa: E402
from scripts.stack_support import admin_url, create_database, drop_database  # noqa: E402
from tests.bugzilla_tables import ddl  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

CONN = "bugzilla_db"
PRODUCTS, COMPONENTS = 30, 10
CATALOGUE = {
    f"Product {p:02d}": [f"Component {p:02d}.{c}" for c in range(COMPONENTS)] for p in range(PRODUCTS)
}
OWNERS = 10  # webhooks belong to this many users (each reads what its owner may see)
EVENTS = "create,change,comment,attachment"


# -- the receivers (a process of their own) -------------------------------------------------------


def serve() -> None:
    """Run the receivers until killed; print the port first."""
    import asyncio

    import uvloop
    from aiohttp import web

    counts: dict[str, int] = {}
    last: dict[str, float] = {}

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        kind = request.match_info["kind"]
        if kind == "hang":
            await asyncio.Event().wait()  # never set: the client gives up at its timeout
        if kind == "slow":
            await asyncio.sleep(int(request.match_info["rest"].rsplit("/", 1)[-1]) / 1000)
        counts[request.path] = counts.get(request.path, 0) + 1
        last[request.path] = time.time()
        return web.json_response({"ok": True})

    async def stats(_: web.Request) -> web.Response:
        return web.json_response({"counts": counts, "last": last})

    async def reset(_: web.Request) -> web.Response:
        counts.clear()
        last.clear()
        return web.json_response({})

    async def main() -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/stats", stats)
        app.router.add_post("/reset", reset)
        app.router.add_post("/{kind}/{rest:.*}", answer)
        runner = web.AppRunner(app, access_log=None, keepalive_timeout=3600)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
        await site.start()
        server = site._server
        assert server is not None
        print(server.sockets[0].getsockname()[1], flush=True)  # type: ignore[attr-defined]
        await asyncio.Event().wait()

    uvloop.run(main())


@contextlib.contextmanager
def receivers() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}", proc
    finally:
        proc.terminate()
        proc.wait(10)


def receiver_cpu(proc: subprocess.Popen[str]) -> float:
    import psutil

    times = psutil.Process(proc.pid).cpu_times()
    return times.user + times.system


# -- the source database --------------------------------------------------------------------------


def stream(count: int) -> list[dict[str, Any]]:
    return list(BugzillaSimulator(seed=14, private_ratio=0.05, products=CATALOGUE).messages(count))


@dataclass(frozen=True)
class Hook:
    """A webhook row to write: its product and component ids (None: Any) and its receiver path."""

    id: int
    owner: int
    path: str
    product: int | None
    component: int | None


def plan_hooks(n: int, workload: str, slow_share: float, hang: bool, rng: random.Random) -> list[Hook]:
    """The webhooks of one configuration; ids of slow ones picked at random, the hanging one last."""
    slow = set(rng.sample(range(1, n + 1), round(n * slow_share)))
    hooks = []
    for i in range(1, n + 1):
        product = component = None
        if workload == "split" and n > 1:
            if n <= PRODUCTS:
                product = 1 + (i - 1) % PRODUCTS
            else:
                product, component = 1 + (i - 1) // COMPONENTS % PRODUCTS, i
        path = f"/slow/{i}/{rng.randint(20, 50)}" if i in slow else f"/ok/{i}"
        hooks.append(Hook(i, 1 + i % OWNERS, path, product, component))
    if hang:
        hooks.append(Hook(n + 1, 1, f"/hang/{n + 1}", None, None))
    return hooks


def bulk(store: Store, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    with store.transaction() as cur:
        store.dialect.bulk_insert(cur, table, columns, rows)


def fill(url: str, messages: list[dict[str, Any]], hooks: list[Hook], base: str) -> None:
    """Create the push tables and Bugzilla's, the webhooks, products, bugs, and the pending messages."""
    now = datetime(2026, 11, 2, 9, 0)
    with open_store(url) as store:
        store.create_schema()
        with store.transaction() as cur:
            for statement in ddl("postgresql"):
                store.execute(cur, statement)
        users = [(u, f"user{u}@example.org", f"user {u}", now) for u in range(1, OWNERS + 1)]
        bulk(store, "profiles", ("userid", "login_name", "realname", "modification_ts"), users)
        names = list(CATALOGUE)
        bulk(store, "products", ("id", "name", "description"), [(p, n, n) for p, n in enumerate(names, 1)])
        components = [
            (p * COMPONENTS + c + 1 - COMPONENTS, name, p, 1, name)
            for p, product in enumerate(names, 1)
            for c, name in enumerate(CATALOGUE[product])
        ]
        bulk(store, "components", ("id", "name", "product_id", "initialowner", "description"), components)
        bugs = {}
        for m in messages:
            bug = bug_of(m["payload"])
            if bug and bug["id"] not in bugs:
                bugs[bug["id"]] = bug
        product_ids = {n: i for i, n in enumerate(names, 1)}
        bulk(
            store,
            "bugs",
            (
                "bug_id", "assigned_to", "bug_severity", "bug_status", "bug_type", "creation_ts", "delta_ts",
                "short_desc", "op_sys", "priority", "product_id", "rep_platform", "reporter", "version",
                "component_id", "everconfirmed",
            ),
            [
                (i, 1, "--", "NEW", "defect", now, now, "a bug", "Unspecified", "--",
                 product_ids[_name(b["product"])], "Unspecified", 1, "unspecified", 1, 1)
                for i, b in bugs.items()
            ],
        )  # fmt: skip
        bulk(
            store,
            "webhooks",
            ("id", "user_id", "name", "url", "event", "product_id", "component_id"),
            [(h.id, h.owner, f"hook {h.id}", base + h.path, EVENTS, h.product, h.component) for h in hooks],
        )
        store.enqueue(parse_enqueue_input("\n".join(json.dumps(m) for m in messages)), utcnow())


def _name(value: Any) -> str:
    return str(value["name"] if isinstance(value, dict) else value)


# -- one run ---------------------------------------------------------------------------------------


@dataclass
class Run:
    """What one DAG run did and cost."""

    workload: str
    webhooks: int
    hanging: bool
    messages: int
    deliver_items: int
    posted: int
    answered: int
    deliver_s: float
    deliver_cpu_s: float
    run_s: float
    run_cpu_s: float
    receiver_cpu_s: float
    others_done_s: float
    states: dict[str, int]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_run(
    workload: str, n: int, messages: list[dict[str, Any]], args: argparse.Namespace, hang: bool = False
) -> Run:
    from bugzilla_push.airflow import tasks

    hooks = plan_hooks(n, workload, args.slow_share, hang, random.Random(n))
    name = create_database("bench_webhooks")
    url = admin_url(name)
    try:
        with receivers() as (base, proc):
            fill(url, messages, hooks, base)
            env = {
                "AIRFLOW_CONN_BUGZILLA_DB": url,
                "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "bugzilla_webhooks",
                "AIRFLOW_CONN_BUGZILLA_WEBHOOKS": json.dumps(
                    {"conn_type": "http", "extra": {"timeout": args.timeout, "workers": args.workers}}
                ),
            }
            cpu_before = receiver_cpu(proc)
            with mock.patch.dict(os.environ, env):
                started, cpu0 = time.monotonic(), cpu()
                wall0 = time.time()
                plan = tasks.read_pending({}, tasks.RunInfo(f"bench_{n}", "manual"), CONN)
                d0, dc0 = time.monotonic(), cpu()
                reports = [tasks.deliver(item["connector"], item["batch"], CONN) for item in plan]
                deliver_s, deliver_cpu = time.monotonic() - d0, cpu() - dc0
                with contextlib.suppress(Exception):  # the hanging webhook fails the run, as it should
                    tasks.finalize(plan, reports, CONN)
                run_s, run_cpu = time.monotonic() - started, cpu() - cpu0
            stats = httpx.get(base + "/stats").json()
            receiver_s = receiver_cpu(proc) - cpu_before
        states: dict[str, int] = {}
        for report in reports:
            for r in report.get("webhooks", [report]):
                states[r["state"]] = states.get(r["state"], 0) + 1
        sent = sum(r.get("sent", 0) for report in reports for r in report.get("webhooks", [report]))
        others = [t for p, t in stats["last"].items() if not p.startswith("/hang/")]
        return Run(
            workload,
            n,
            hang,
            len(messages),
            len(plan),
            sent,
            sum(stats["counts"].values()),
            round(deliver_s, 2),
            round(deliver_cpu, 2),
            round(run_s, 2),
            round(run_cpu, 2),
            round(receiver_s, 2),
            round(max(others) - wall0, 2) if others else 0.0,
            states,
        )
    finally:
        drop_database(name)


def bare(messages: list[dict[str, Any]]) -> tuple[float, float]:
    """One httpx client POSTing every payload to one receiver path in turn: (seconds, CPU seconds)."""
    bodies = [json.dumps(m["payload"]).encode() for m in messages]
    with receivers() as (base, _), httpx.Client(timeout=30) as client:
        client.post(base + "/ok/0", content=b"{}")
        started, cpu0 = time.monotonic(), cpu()
        for body in bodies:
            client.post(base + "/ok/0", content=body, headers={"Content-Type": "application/json"})
        return round(time.monotonic() - started, 2), round(cpu() - cpu0, 2)


# -- report ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--webhooks", type=int, nargs="+", default=[1, 30, 300])
    parser.add_argument("--messages", type=int, default=10_000, help="split workload: the stream's length")
    parser.add_argument("--every", type=int, default=1_000, help="every workload: messages (0: skip it)")
    parser.add_argument("--slow-share", type=float, default=0.1, help="webhooks answering in 20–50 ms")
    parser.add_argument("--workers", type=int, default=8, help="the connection's `workers` (default 8)")
    parser.add_argument("--timeout", type=float, default=5.0, help="the connection's `timeout`, seconds")
    parser.add_argument("--hang", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0

    import logging

    logging.getLogger("bugzilla_push").setLevel(logging.ERROR)  # the hanging webhook's warnings are expected
    load0 = os.getloadavg()
    runs: list[Run] = []
    split = stream(args.messages)
    floor_s, floor_cpu = bare(split)
    for n in args.webhooks:
        runs.append(one_run("split", n, split, args))
        print(_line(runs[-1]), file=sys.stderr)
    if args.hang:
        runs.append(one_run("split", max(args.webhooks), split, args, hang=True))
        print(_line(runs[-1]), file=sys.stderr)
    if args.every:
        every = split[: args.every]
        for n in args.webhooks:
            runs.append(one_run("every", n, every, args))
            print(_line(runs[-1]), file=sys.stderr)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "args": {k: v for k, v in vars(args).items() if k != "serve"},
        "load_before": [round(x, 2) for x in load0],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "bare_http": {"messages": len(split), "seconds": floor_s, "cpu_s": floor_cpu},
        "runs": [asdict(r) for r in runs],
    }
    print_table(report, runs)
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"webhooks-{datetime.now(UTC):%Y%m%d-%H%M%S}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))
    return 0


def _line(r: Run) -> str:
    return (
        f"{r.workload} {r.webhooks}{' +hang' if r.hanging else ''}: deliver {r.deliver_s} s "
        f"({r.deliver_cpu_s} CPU s), run {r.run_s} s, posted {r.posted}, states {r.states}"
    )


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return done.stdout.strip()


def print_table(report: dict[str, Any], runs: list[Run]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"bugzilla_webhooks, one deliver item (bare HTTP floor: {report['bare_http']})")
    for column in (
        "workload", "webhooks", "messages", "deliver items", "posted", "deliver s", "deliver CPU s",
        "÷ 1 webhook", "posts/s", "run s", "run CPU s", "receiver CPU s", "others done s", "states",
    ):  # fmt: skip
        table.add_column(column, justify="right")
    base = {r.workload: r for r in runs if r.webhooks == 1 and not r.hanging}
    for r in runs:
        one = base.get(r.workload)
        ratio = f"{r.deliver_s / one.deliver_s:.2f}" if one and one.deliver_s else "–"
        table.add_row(
            r.workload, f"{r.webhooks}{' + 1 hanging' if r.hanging else ''}", f"{r.messages:,}",
            str(r.deliver_items), f"{r.posted:,}", f"{r.deliver_s}", f"{r.deliver_cpu_s}", ratio,
            f"{r.posted / r.deliver_s:,.0f}" if r.deliver_s else "–", f"{r.run_s}", f"{r.run_cpu_s}",
            f"{r.receiver_cpu_s}", f"{r.others_done_s}",
            ", ".join(f"{k} {v}" for k, v in sorted(r.states.items())),
        )  # fmt: skip
    Console(width=200).print(table)


if __name__ == "__main__":
    sys.exit(main())
