"""Pulse publishing throughput across a network: this connector against bare pika, in one run.

Three publishers send the same realistic Bugzilla messages (from `BugzillaSimulator`), persistent,
to a durable topic exchange with a durable queue bound to it (`#`), as a Pulse consumer would have:

- **bare pipelined**: a minimal pika `SelectConnection` publisher keeping `--window` messages
  unconfirmed from first to last;
- **one confirm per message**: `BlockingConnection` + `confirm_delivery()`, waiting for each
  confirm before the next publish, as BMO's connector would with confirms;
- **connector**: `PulseConnector.send()` with the same window, called with `--chunks` messages at a
  time as the engine does (the connector's `chunk_size`, 2000 by default). Each call returns only
  once all its messages are confirmed, so every chunk ends by draining the pipeline.

Each `--delay-ms` is a link to the broker: `direct` (no proxy), or the TCP proxy of
`tests.doubles.tcp_proxy`, in a process of its own, delaying every chunk that many milliseconds
each way (1: a 2 ms round trip, as within one region). Over a link with latency, one confirm per
message pays a round trip per message; pipelining hides it. The measured AMQP round trip of each
link (a `Basic.Qos` call) is reported beside it.

Every (link, publisher) pair runs once per round, `--repeat` rounds: the links in an order rotating
by round, and on each link bare, connector, one-by-one, reversed every other round, so that the
machine's load hits all alike and bare and connector always run side by side. The queue is purged
before each run.
Reported: median rates, and the median of the per-round ratios. Targets at a 2 ms round trip:
the connector at ≥ 0.8× bare pipelined and ≥ 20× one confirm per message. Prints a table, the
load average, and one JSON line.

    .venv/bin/python bench/bench_pulse.py [--delay-ms direct,0,1] [--messages 10000] [--window 1000]
                                          [--chunks 2000 500] [--queue durable|transient|none]
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pika
from pika import spec
from pika.adapters.select_connection import SelectConnection

from bugzilla_push.connectors import ConnectionInfo, build_connector
from bugzilla_push.connectors.pulse.connector import PulseOptions
from bugzilla_push.model import PushRow, parse_message
from bugzilla_push.samples import BugzillaSimulator

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from bugzilla_push.model import PushMessage

ROOT = Path(__file__).resolve().parents[1]
HOST = os.environ.get("BUGZILLA_PUSH_TEST_AMQP_HOST", "127.0.0.1")
PORT = int(os.environ.get("BUGZILLA_PUSH_TEST_AMQP_PORT", "5672"))
PUSH_TS = datetime(2026, 11, 2, 9, 0, 0)
BARE, ONE_BY_ONE = "bare pipelined", "one confirm per message"


@dataclass(frozen=True)
class Sample:
    push_id: int
    routing_key: str
    body: bytes


@dataclass(frozen=True)
class Link:
    """A way to the broker: direct, or through a delaying proxy listening on `port`."""

    label: str
    port: int


@contextlib.contextmanager
def open_link(delay: str) -> Iterator[Link]:
    """`direct`, or a proxy process delaying each chunk `delay` ms each way, for as long as the block runs."""
    if delay == "direct":
        yield Link(link_label(delay), PORT)
        return
    command = [
        sys.executable,
        "-m",
        "tests.doubles.tcp_proxy",
        "--upstream",
        f"{HOST}:{PORT}",
        "--delay-ms",
        delay,
    ]
    with subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proxy:
        assert proxy.stdin is not None
        assert proxy.stdout is not None
        try:
            yield Link(link_label(delay), int(proxy.stdout.readline().split()[1]))
        finally:
            proxy.stdin.close()  # the proxy serves until its standard input closes
            proxy.wait(timeout=30)


def link_label(delay: str) -> str:
    return delay if delay == "direct" else f"{float(delay):g} ms each way"


def round_trip(port: int, calls: int = 50) -> float:
    """Median seconds of one AMQP call through the link: `Basic.Qos`, which the broker answers at once."""
    with pika.BlockingConnection(pika.ConnectionParameters(HOST, port)) as conn:
        channel = conn.channel()
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            channel.basic_qos(prefetch_count=1)
            times.append(time.perf_counter() - started)
        return statistics.median(times)


def properties(sample: Sample) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type="application/json",
        delivery_mode=2,
        message_id=str(sample.push_id),
        timestamp=calendar.timegm(PUSH_TS.timetuple()),
    )


def bare_pipelined(port: int, samples: list[Sample], exchange: str, window: int) -> float:
    """Publish with up to `window` unconfirmed; return seconds from first publish to last confirm."""
    state = {"next": 0, "confirmed": 0, "t0": 0.0, "t1": 0.0}
    unconfirmed: deque[int] = deque()  # tags in publish order
    acked_alone: set[int] = set()  # acked without `multiple`, ahead of older ones

    def pump(channel: pika.channel.Channel) -> None:
        while state["next"] < len(samples) and len(unconfirmed) - len(acked_alone) < window:
            sample = samples[state["next"]]
            channel.basic_publish(exchange, sample.routing_key, sample.body, properties(sample))
            state["next"] += 1
            unconfirmed.append(state["next"])

    def on_confirm(frame: pika.frame.Method) -> None:
        tag = frame.method.delivery_tag
        if not isinstance(frame.method, spec.Basic.Ack):
            raise RuntimeError("nack in the benchmark")
        if frame.method.multiple:
            while unconfirmed and unconfirmed[0] <= tag:
                oldest = unconfirmed.popleft()
                if oldest in acked_alone:
                    acked_alone.discard(oldest)
                else:
                    state["confirmed"] += 1
        else:
            acked_alone.add(tag)
            state["confirmed"] += 1
            while unconfirmed and unconfirmed[0] in acked_alone:
                acked_alone.discard(unconfirmed.popleft())
        if state["confirmed"] == len(samples):
            state["t1"] = time.perf_counter()
            conn.close()
        else:
            pump(channel_ref[0])

    channel_ref: list[pika.channel.Channel] = []

    def on_select_ok(_frame: object) -> None:
        state["t0"] = time.perf_counter()
        pump(channel_ref[0])

    def on_channel(channel: pika.channel.Channel) -> None:
        channel_ref.append(channel)
        channel.confirm_delivery(on_confirm, callback=on_select_ok)

    conn = SelectConnection(
        pika.ConnectionParameters(HOST, port),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_close_callback=lambda c, exc: c.ioloop.stop(),
    )
    conn.ioloop.start()
    conn.ioloop.close()
    return state["t1"] - state["t0"]


def one_confirm_each(port: int, samples: list[Sample], exchange: str) -> float:
    with pika.BlockingConnection(pika.ConnectionParameters(HOST, port)) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        started = time.perf_counter()
        for sample in samples:
            channel.basic_publish(exchange, sample.routing_key, sample.body, properties(sample))
        return time.perf_counter() - started


def connector_send(connector: object, messages: list[PushMessage], chunk: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(messages), chunk):
        outcomes = connector.send(messages[start : start + chunk])  # type: ignore[attr-defined]
        if len(outcomes) != len(messages[start : start + chunk]) or any(o.result != 1 for o in outcomes):
            raise RuntimeError(f"connector did not deliver everything: {outcomes[-1]}")
    return time.perf_counter() - started


def main() -> int:
    args = parse_args()
    delays = [d.strip() for d in args.delay_ms.split(",")]
    generated = BugzillaSimulator(seed=42, private_ratio=0.0).messages(args.messages)
    rows = [
        PushRow(n, PUSH_TS, json.dumps(m["payload"]), m["change_set"], m["routing_key"])
        for n, m in enumerate(generated, start=1)
    ]
    messages = [parse_message(row, 16 * 1024 * 1024) for row in rows]
    samples = [Sample(r.id, r.routing_key, r.payload.encode("utf-8")) for r in rows]

    exchange, queue = f"exchange/guest/bench-{uuid.uuid4().hex[:8]}", f"bench-pulse-{uuid.uuid4().hex[:8]}"
    admin = pika.BlockingConnection(pika.ConnectionParameters(HOST, PORT, heartbeat=0))
    channel = admin.channel()
    channel.exchange_declare(exchange, "topic", durable=True)
    channel.queue_declare(queue, durable=args.queue == "durable", arguments={"x-expires": 30 * 60 * 1000})
    if args.queue != "none":
        channel.queue_bind(queue, exchange, "#")
    load_before = os.getloadavg()
    try:
        rates, round_trips = measure(
            args, delays, samples, messages, exchange, lambda: channel.queue_purge(queue)
        )
    finally:
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        admin.close()
    report(args, delays, samples, rates, round_trips, (load_before, os.getloadavg()))
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--delay-ms",
        default="direct,0,1",
        help="links to compare, comma-separated: `direct`, or a proxy's delay each way in ms",
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--one-confirm-messages", type=int, default=2_000, help="fewer: it is slow")
    parser.add_argument(
        "--window", type=int, default=1000, help="unconfirmed messages, for bare and connector"
    )
    parser.add_argument(
        "--chunks",
        type=int,
        nargs="+",
        default=[PulseOptions.model_fields["chunk_size"].default],
        help="send() sizes; default: the connector's chunk_size",
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--queue",
        choices=["durable", "transient", "none"],
        default="durable",
        help="bound to the exchange: a durable queue (messages go to disk), a non-durable one, or none",
    )
    return parser.parse_args()


def measure(
    args: argparse.Namespace,
    delays: list[str],
    samples: list[Sample],
    messages: list[PushMessage],
    exchange: str,
    purge: Callable[[], object],
) -> tuple[dict[tuple[str, str], list[float]], dict[str, list[float]]]:
    """Run every (link, publisher) pair once a round; return their rates and each link's round trips."""
    one_n = min(args.one_confirm_messages, len(samples))
    with contextlib.ExitStack() as stack:
        links = [stack.enter_context(open_link(delay)) for delay in delays]
        groups: list[list[tuple[str, str, Callable[[], float], int]]] = []  # per link: bare, connectors, one
        for link in links:
            extra = {"exchange": exchange, "confirm_window": args.window}
            info = ConnectionInfo("pulse", "amqp", HOST, link.port, "guest", "guest", "/", extra)
            connector = stack.enter_context(build_connector(info))
            connector_send(connector, messages[:100], 100)  # connect and declare before timing
            group = [
                (
                    link.label,
                    BARE,
                    partial(bare_pipelined, link.port, samples, exchange, args.window),
                    len(samples),
                )
            ]
            for chunk in args.chunks:
                send = partial(connector_send, connector, messages, chunk)
                group.append((link.label, connector_name(chunk), send, len(messages)))
            one = partial(one_confirm_each, link.port, samples[:one_n], exchange)
            groups.append([*group, (link.label, ONE_BY_ONE, one, one_n)])
        rates: dict[tuple[str, str], list[float]] = {
            (run[0], run[1]): [] for group in groups for run in group
        }
        round_trips: dict[str, list[float]] = {link.label: [] for link in links}
        for round_ in range(args.repeat):
            for link in links:
                round_trips[link.label].append(round_trip(link.port))
            # Interleaved, so that a busy moment of the machine hits all alike: the links in an order
            # rotating by round; on each, bare and connector side by side, in turn first (A B B A).
            shift = round_ % len(groups)
            for group in groups[shift:] + groups[:shift]:
                for label, name, run, count in group if round_ % 2 == 0 else reversed(group):
                    purge()
                    rates[label, name].append(count / run())
    return rates, round_trips


def connector_name(chunk: int) -> str:
    return f"connector, chunk {chunk}"


def report(
    args: argparse.Namespace,
    delays: list[str],
    samples: list[Sample],
    rates: dict[tuple[str, str], list[float]],
    round_trips: dict[str, list[float]],
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> None:
    """Print the table, the proxy's own cost, the load average and one JSON line."""
    median = {key: statistics.median(values) for key, values in rates.items()}
    # The ratio of each round (runs moments apart, under the same load), then the median of those:
    # steadier than a ratio of medians on a machine whose load changes between rounds.
    table = [
        {
            "link": label,
            "chunk": chunk,
            "round_trip_ms": round(statistics.median(trips) * 1000, 2),
            "bare_msg_per_s": round(median[label, BARE]),
            "connector_msg_per_s": round(median[label, connector_name(chunk)]),
            "one_by_one_msg_per_s": round(median[label, ONE_BY_ONE]),
            "connector_vs_bare": round(_ratio(rates[label, connector_name(chunk)], rates[label, BARE]), 3),
            "connector_vs_one_by_one": round(
                _ratio(rates[label, connector_name(chunk)], rates[label, ONE_BY_ONE]), 2
            ),
        }
        for label, trips in round_trips.items()
        for chunk in args.chunks
    ]
    one_n = min(args.one_confirm_messages, len(samples))
    mean_size = sum(len(s.body) for s in samples) / len(samples)
    print(
        f"{len(samples):,} persistent messages of {mean_size:,.0f} bytes on average ({one_n:,} one by one); "
        f"queue: {args.queue}; window {args.window}; {args.repeat} interleaved rounds; "
        "medians of rates and of per-round ratios"
    )
    columns = ("link", "round trip", "bare", "connector", "one-by-one", "conn ÷ bare", "conn ÷ one-by-one")
    print(f"{columns[0]:<28}" + "".join(f"{c:>18}" for c in columns[1:]))
    for row in table:
        link = row["link"] + (f", chunk {row['chunk']}" if len(args.chunks) > 1 else "")
        rates_shown = ("bare_msg_per_s", "connector_msg_per_s", "one_by_one_msg_per_s")
        print(
            f"{link:<28}{row['round_trip_ms']:>15.2f} ms"
            + "".join(f"{row[k]:>12,} msg/s" for k in rates_shown)
            + f"{row['connector_vs_bare']:>18.2f}{row['connector_vs_one_by_one']:>18.1f}"
        )
    overhead = None
    if "direct" in delays and "0" in delays:
        overhead = round(_ratio(rates[link_label("0"), BARE], rates[link_label("direct"), BARE]), 3)
        print(f"the proxy's own cost: bare pipelined through it at 0 ms ÷ direct = {overhead:.2f}")
    before, after = (" ".join(f"{x:.1f}" for x in values) for values in load)
    print(f"load average (1, 5, 15 min): before {before}, after {after}; {os.cpu_count()} CPUs")
    print("targets at a 2 ms round trip: connector ≥ 0.80 × bare pipelined, ≥ 20 × one confirm per message")
    print(
        json.dumps(
            {
                "benchmark": "pulse",
                "messages": len(samples),
                "one_confirm_messages": one_n,
                "queue": args.queue,
                "mean_bytes": round(mean_size),
                "window": args.window,
                "repeat": args.repeat,
                "table": table,
                "proxy_at_0_vs_direct": overhead,
                "load_average": {"before": load[0], "after": load[1]},
                "runs": {f"{label}: {name}": [round(x) for x in v] for (label, name), v in rates.items()},
                "round_trips_ms": {k: [round(x * 1000, 3) for x in v] for k, v in round_trips.items()},
            }
        )
    )


def _ratio(values: list[float], reference: list[float]) -> float:
    """The median of the per-round ratios."""
    return statistics.median(v / r for v, r in zip(values, reference, strict=True))


if __name__ == "__main__":
    sys.exit(main())
