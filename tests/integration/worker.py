"""A stand-alone deliverer and producer for the concurrency and crash tests.

Runs the same engine calls as the DAG's three tasks, in a process the tests can start twice at once
or SIGKILL at any moment:

    python -m tests.integration.worker deliver --db URL --out DIR [--flaky] [--until-empty]
    python -m tests.integration.worker produce --db URL --count N
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bugzilla_push.clock import utcnow
from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors.base import Outcome
from bugzilla_push.connectors.file import FileConnector
from bugzilla_push.engine import Engine
from bugzilla_push.model import PushMessage, Result
from bugzilla_push.store import open_store
from tests.support import enqueue_samples

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

CONNECTORS = ("alpha", "beta")


class FlakyFileConnector(FileConnector):
    """Test double: a file connector whose destination fails transiently now and then."""

    def __init__(self, name: str, path: Path, rng: random.Random) -> None:
        super().__init__(name, path, fsync=True)
        self.rng = rng

    def send(self, batch: Sequence[PushMessage]) -> list[Outcome]:
        if self.rng.random() < 0.1:
            cut = self.rng.randrange(len(batch))
            outcomes = super().send(batch[:cut]) if cut else []
            return [*outcomes, Outcome(Result.TRANSIENT, "flaky destination")]
        return super().send(batch)


def warped_clock(epoch: float, warp: float) -> Callable[[], datetime]:
    """A clock running `warp` times faster than real time since `epoch` (shared by every worker of a
    test, so it never goes backwards between processes): backoffs pass quickly."""
    start = datetime(2026, 1, 1)
    return lambda: start + timedelta(seconds=(time.time() - epoch) * warp)


def deliver(args: argparse.Namespace) -> int:
    config = DeliveryConfig(batch_size=args.batch, chunk_size=args.chunk, lock_timeout=30)
    rng = random.Random()
    out = Path(args.out)
    clock = warped_clock(args.epoch, args.warp) if args.epoch else utcnow
    with open_store(args.db) as store:
        engine = Engine(store, config, clock=clock)
        print("ready", flush=True)
        connectors = [
            FlakyFileConnector(n, out / f"{n}.jsonl", rng)
            if args.flaky
            else FileConnector(n, out / f"{n}.jsonl")
            for n in CONNECTORS
        ]
        stats = {"batches": 0, "adopted": 0, "sent": 0, "skipped": 0}
        for cycle in range(args.cycles):
            batch = engine.open_batch(f"{args.owner}-{cycle}", list(CONNECTORS))
            stats["batches"] += not batch.is_empty
            stats["adopted"] += batch.adopted
            for connector in connectors:
                report = engine.deliver(batch, connector)
                stats["sent"] += report.sent
                stats["skipped"] += report.state in ("already_done", "batch_closed")
            engine.finalize(batch)
            if args.until_empty and (not args.stop_file or Path(args.stop_file).exists()):
                status = store.status(CONNECTORS)
                if status.pending == 0 and all(c.backlog == 0 for c in status.connectors.values()):
                    break
            if batch.is_empty:
                time.sleep(0.02)  # nothing new: only backlogs left, or waiting for the producer
        print(json.dumps(stats), flush=True)
    return 0


def produce(args: argparse.Namespace) -> int:
    with open_store(args.db) as store:
        done = 0
        while done < args.count:
            step = min(args.step, args.count - done)
            enqueue_samples(store, step, seed=done + args.seed)
            done += step
            time.sleep(args.pause)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("deliver")
    d.add_argument("--db", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--owner", default="worker")
    d.add_argument("--cycles", type=int, default=10_000)
    d.add_argument("--batch", type=int, default=100)
    d.add_argument("--chunk", type=int, default=20)
    d.add_argument("--flaky", action="store_true")
    d.add_argument("--until-empty", action="store_true", help="stop once push and the backlogs are empty")
    d.add_argument(
        "--stop-file", help="with --until-empty: only once this file exists (the producer is done)"
    )
    d.add_argument("--epoch", type=float, default=0.0, help="run a warped clock from this time.time()")
    d.add_argument("--warp", type=float, default=100.0)
    d.set_defaults(func=deliver)
    p = sub.add_parser("produce")
    p.add_argument("--db", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--step", type=int, default=25)
    p.add_argument("--pause", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=produce)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
