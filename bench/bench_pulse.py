"""Pulse publishing throughput: this connector against bare pika, on one broker, in one run.

Three publishers send the same realistic Bugzilla messages (from `BugzillaSimulator`), persistent,
to a durable topic exchange with a durable queue bound to it (`#`), as a Pulse consumer would have:

- **bare pipelined**: a minimal pika `SelectConnection` publisher keeping `--window` messages
  unconfirmed from first to last (the connector's target is at least 80 % of it);
- **one confirm per message**: `BlockingConnection` + `confirm_delivery()`, waiting for each
  confirm before the next publish, as BMO's connector would with confirms (target: at least 10×);
- **connector**: `PulseConnector.send()` with the same window, called with `--chunks` messages at a
  time as the engine does (`chunk_size`, 500 by default). Each call returns only once all its
  messages are confirmed, so every chunk ends by draining the pipeline: small chunks cost more.

Each is run `--repeat` times, interleaved in a rotating order, on a warm connection; the queue is
purged before each run. Reported: the median rate of each, and the median of the per-round ratios.
Prints a table and one JSON line.

    .venv/bin/python bench/bench_pulse.py [--messages 10000] [--window 1000] [--chunks 500 5000]
                                          [--queue durable|transient|none]
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import statistics
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

import pika
from pika import spec
from pika.adapters.select_connection import SelectConnection

from bugzilla_push.connectors import ConnectionInfo, build_connector
from bugzilla_push.model import PushRow, parse_message
from bugzilla_push.samples import BugzillaSimulator

if TYPE_CHECKING:
    from collections.abc import Callable

HOST = os.environ.get("BUGZILLA_PUSH_TEST_AMQP_HOST", "127.0.0.1")
PORT = int(os.environ.get("BUGZILLA_PUSH_TEST_AMQP_PORT", "5672"))
PUSH_TS = datetime(2026, 11, 2, 9, 0, 0)


@dataclass(frozen=True)
class Sample:
    push_id: int
    routing_key: str
    body: bytes


def properties(sample: Sample) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type="application/json",
        delivery_mode=2,
        message_id=str(sample.push_id),
        timestamp=calendar.timegm(PUSH_TS.timetuple()),
    )


def bare_pipelined(samples: list[Sample], exchange: str, window: int) -> float:
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
        pika.ConnectionParameters(HOST, PORT),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_close_callback=lambda c, exc: c.ioloop.stop(),
    )
    conn.ioloop.start()
    conn.ioloop.close()
    return state["t1"] - state["t0"]


def one_confirm_each(samples: list[Sample], exchange: str) -> float:
    with pika.BlockingConnection(pika.ConnectionParameters(HOST, PORT)) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        started = time.perf_counter()
        for sample in samples:
            channel.basic_publish(exchange, sample.routing_key, sample.body, properties(sample))
        return time.perf_counter() - started


def connector_send(connector: object, messages: list, chunk: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(messages), chunk):
        outcomes = connector.send(messages[start : start + chunk])  # type: ignore[attr-defined]
        if len(outcomes) != len(messages[start : start + chunk]) or any(o.result != 1 for o in outcomes):
            raise RuntimeError(f"connector did not deliver everything: {outcomes[-1]}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--one-confirm-messages", type=int, default=2_000, help="fewer: it is slow")
    parser.add_argument(
        "--window", type=int, default=1000, help="unconfirmed messages, for bare and connector"
    )
    parser.add_argument(
        "--chunks", type=int, nargs="+", default=[500, 5000], help="send() sizes; 500 is the engine's default"
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--queue",
        choices=["durable", "transient", "none"],
        default="durable",
        help="bound to the exchange: a durable queue (messages go to disk), a non-durable one, or none",
    )
    args = parser.parse_args()

    generated = BugzillaSimulator(seed=42, private_ratio=0.0).messages(args.messages)
    rows = [
        PushRow(n, PUSH_TS, json.dumps(m["payload"]), m["change_set"], m["routing_key"])
        for n, m in enumerate(generated, start=1)
    ]
    messages = [parse_message(row, 16 * 1024 * 1024) for row in rows]
    samples = [Sample(r.id, r.routing_key, r.payload.encode("utf-8")) for r in rows]
    mean_size = sum(len(s.body) for s in samples) / len(samples)

    exchange, queue = f"exchange/guest/bench-{uuid.uuid4().hex[:8]}", f"bench-pulse-{uuid.uuid4().hex[:8]}"
    admin = pika.BlockingConnection(pika.ConnectionParameters(HOST, PORT, heartbeat=0))
    channel = admin.channel()
    channel.exchange_declare(exchange, "topic", durable=True)
    channel.queue_declare(queue, durable=args.queue == "durable", arguments={"x-expires": 30 * 60 * 1000})
    if args.queue != "none":
        channel.queue_bind(queue, exchange, "#")
    extra = {"exchange": exchange, "confirm_window": args.window}
    connector = build_connector(ConnectionInfo("pulse", "amqp", HOST, PORT, "guest", "guest", "/", extra))
    connector_send(connector, messages[:100], 100)  # connect and declare before timing

    one_n = min(args.one_confirm_messages, len(samples))
    runs: list[tuple[str, Callable[[], float], int]] = [
        ("bare pipelined", lambda: bare_pipelined(samples, exchange, args.window), len(samples)),
        ("one confirm per message", lambda: one_confirm_each(samples[:one_n], exchange), one_n),
    ]
    for chunk in args.chunks:
        runs.append(
            (f"connector, chunk {chunk}", partial(connector_send, connector, messages, chunk), len(messages))
        )
    rates: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    try:
        for round_ in range(args.repeat):
            # Interleaved, so that a busy moment of the machine hits all alike, and in a rotating
            # order, so that none always follows the purge of the biggest queue.
            shift = round_ % len(runs)
            for name, run, count in runs[shift:] + runs[:shift]:
                channel.queue_purge(queue)
                rates[name].append(count / run())
    finally:
        connector.close()
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        admin.close()

    median = {name: statistics.median(values) for name, values in rates.items()}
    # The ratio of each round (runs moments apart, under the same load), then the median of those:
    # steadier than a ratio of medians on a machine whose load changes between rounds.
    ratios = {
        name: {
            "vs_bare_pipelined": round(
                statistics.median(_per_round(rates[name], rates["bare pipelined"])), 3
            ),
            "vs_one_confirm_per_message": round(
                statistics.median(_per_round(rates[name], rates["one confirm per message"])), 2
            ),
        }
        for name in median
        if name.startswith("connector")
    }
    print(
        f"{len(samples):,} persistent messages of {mean_size:,.0f} bytes on average; queue: {args.queue}; "
        f"window {args.window}; {args.repeat} interleaved rounds; medians of rates and of per-round ratios"
    )
    print(f"{'publisher':<26}{'msg/s':>9}   {'× bare':>7} {'× one-by-one':>13}   runs")
    for name, values in rates.items():
        ratio = ratios.get(name)
        cols = (
            f"{ratio['vs_bare_pipelined']:>7.2f} {ratio['vs_one_confirm_per_message']:>13.1f}"
            if ratio
            else " " * 21
        )
        print(f"{name:<26}{median[name]:>9,.0f}   {cols}   {', '.join(f'{v:,.0f}' for v in values)}")
    print("targets: ≥ 0.80 × bare pipelined, ≥ 10 × one confirm per message")
    print(
        json.dumps(
            {
                "benchmark": "pulse",
                "messages": len(samples),
                "queue": args.queue,
                "mean_bytes": round(mean_size),
                "window": args.window,
                "repeat": args.repeat,
                "msg_per_s": {k: round(v) for k, v in median.items()},
                "runs": {k: [round(x) for x in v] for k, v in rates.items()},
                "ratios": ratios,
            }
        )
    )
    return 0


def _per_round(values: list[float], reference: list[float]) -> list[float]:
    return [v / r for v, r in zip(values, reference, strict=True)]


if __name__ == "__main__":
    sys.exit(main())
