"""`python -m scripts.chaos --duration 600 --rate 50 --faults 20 --seed 1 [--executor local|celery]`."""

from __future__ import annotations

import argparse
import sys

from scripts.chaos.run import Options, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.chaos",
        description="Run bugzilla_push on a real Airflow stack under faults and check every connector.",
    )
    parser.add_argument("--duration", type=float, default=600, help="seconds of producing (600)")
    parser.add_argument("--rate", type=float, default=50, help="messages per second (50)")
    parser.add_argument("--faults", type=int, default=20, help="faults of EACH kind, at least (20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--executor", choices=("local", "celery"), default="local")
    parser.add_argument("--schedule", choices=("event", "minute"), default="event")
    parser.add_argument("--drain-timeout", type=float, default=900, help="seconds to wait for the drain")
    parser.add_argument(
        "--pump",
        action="store_true",
        help="also trigger a run through the REST API whenever none is queued or running (for "
        "--schedule minute; the event schedule starts runs on commits by itself)",
    )
    parser.add_argument("--run-id", default="", help="default: the time and a random suffix")
    parser.add_argument(
        "--linger", type=float, default=None, help="linger_seconds (default: the shipped one)"
    )
    args = parser.parse_args(argv)
    outcome = run(
        Options(
            args.duration,
            args.rate,
            args.faults,
            args.seed,
            args.executor,
            args.schedule,
            args.drain_timeout,
            args.run_id,
            args.pump,
            args.linger,
        )
    )
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())
