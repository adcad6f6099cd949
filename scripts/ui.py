"""`make ui`: Airflow's web UI on the embedded default, with a trickle of sample messages, until Ctrl-C.

It starts Airflow's scheduler, dag-processor, triggerer and API server (scripts/airflow_stack.py,
LocalExecutor) on `make run`'s set-up: SQLite for Airflow's metadata (var/airflow.db) and for
Bugzilla's push tables (var/bugzilla.db, unless AIRFLOW_CONN_BUGZILLA_DB says otherwise), and the
file connector. Bugzilla is played by the sample generator: the first-run set at once, then a few
messages every few seconds, as `bugzilla-push samples | bugzilla-push enqueue` would insert them,
so the watcher starts runs on commits. It prints the URL, the user and the password
(SimpleAuthManager writes it to var/simple_auth_manager_passwords.json.generated on its first
start), and Ctrl-C (or SIGTERM) stops every process it started, each in its own process group.

    python -m scripts.ui [--port 8080] [--no-samples] [--state var]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bugzilla_push.cli import parse_enqueue_input
from bugzilla_push.connectors.base import redact
from bugzilla_push.engine import utcnow
from bugzilla_push.samples import BugzillaSimulator, first_run_samples
from bugzilla_push.store import open_store
from scripts.airflow_stack import AirflowStack
from scripts.stack_support import ROOT

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import FrameType

DEFAULT_STATE = ROOT / "var"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"  # airflow.cfg's name, under the state folder


def insert_samples(url: str, messages: Iterable[dict]) -> int:
    """Insert messages into `push` as `bugzilla-push samples | bugzilla-push enqueue` does."""
    lines = "\n".join(json.dumps(m, separators=(",", ":")) for m in messages)
    with open_store(url) as store:
        return store.enqueue(parse_enqueue_input(lines), utcnow())


@dataclass
class Trickle:
    """A thread that inserts `batch` generated messages every `interval` seconds until stopped.

    :param url: the source database
    """

    url: str
    interval: float = 5.0
    batch: int = 3
    inserted: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Trickle:
        self._thread = threading.Thread(target=self._run, name="samples", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        # A seed of its own each start: a restarted `make ui` goes on with other bugs.
        messages = BugzillaSimulator(seed=time.time_ns() % 1_000_000).messages(10**9)
        while not self._stop.wait(self.interval):
            try:
                self.inserted += insert_samples(self.url, [next(messages) for _ in range(self.batch)])
            except Exception as exc:  # noqa: BLE001 - a locked or missing database: say so, try again
                print(f"samples: could not insert ({exc}); trying again", file=sys.stderr, flush=True)


def embedded_default(state: Path) -> tuple[str, dict[str, str]]:
    """The source database's URL and the connections and Variable of `make run`'s set-up, under `state`."""
    source = os.environ.get("AIRFLOW_CONN_BUGZILLA_DB") or f"sqlite:///{state / 'bugzilla.db'}"
    env = {"AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "file"}
    env |= {k: v for k, v in os.environ.items() if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env["AIRFLOW_CONN_BUGZILLA_DB"] = source
    if state != DEFAULT_STATE and "AIRFLOW_CONN_FILE" not in env:
        # The file connector writes under $AIRFLOW_HOME/var by default: keep another state folder whole.
        env["AIRFLOW_CONN_FILE"] = json.dumps(
            {"conn_type": "fs", "extra": {"path": str(state / "bugzilla_push" / "file.jsonl")}}
        )
    return source, env


def is_embedded(source: str, state: Path) -> bool:
    """Whether `source` is the embedded default's SQLite file: the only database samples go into."""
    prefix = "sqlite:///"
    if not source.startswith(prefix):
        return False
    return Path(source[len(prefix) :]).resolve() == (state / "bugzilla.db").resolve()


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM stop the stack (SIGINT too when it was inherited ignored, as `cmd &` does)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def supervise(stack: AirflowStack) -> None:
    """Wait for Ctrl-C; if a component exits by itself, say which and stop (raising SystemExit)."""
    while True:
        for name, proc in stack.processes.items():
            if proc.poll() is not None:
                log = stack.workdir / f"{name}.log"
                tail = log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"{name} exited with {proc.returncode}; the end of {log}:\n{tail}")
        time.sleep(1)


def show(stack: AirflowStack, state: Path, source: str, trickle: Trickle | None) -> None:
    where = state.relative_to(ROOT) if state.is_relative_to(ROOT) else state
    lines = [
        "",
        f"Airflow:          {stack.url}/dags/bugzilla_push",
        f"The push console: {stack.url}/plugin/bugzilla-push",
        f"Log in as admin, password {stack.password}",
        f"  (SimpleAuthManager's generated file: {where / PASSWORDS_FILE})",
        f"Source database:  {redact(source)}",
        "Samples:          "
        + (
            f"{trickle.batch} messages every {trickle.interval:g} s (none: make ui SAMPLES=0)"
            if trickle
            else "off (make ui SAMPLES=0, or a source database other than the embedded default)"
        ),
        f"Logs:             {where}/<component>.log and {where}/logs/",
        "Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8080))
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="state folder (default: var/)")
    parser.add_argument("--no-samples", dest="samples", action="store_false", help="no sample messages")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between sample batches")
    parser.add_argument("--batch", type=int, default=3, help="messages per sample batch")
    args = parser.parse_args(argv)
    state = args.state.resolve()
    if port_in_use(args.port):
        print(f"port {args.port} is in use: try `make ui PORT={args.port + 1}`", file=sys.stderr)
        return 2
    state.mkdir(parents=True, exist_ok=True)
    stop_on_signals()
    source, env = embedded_default(state)
    with open_store(source) as store:
        store.create_schema()
    # Never play Bugzilla in a database that is not this folder's own, such as a real Bugzilla's.
    args.samples = args.samples and is_embedded(source, state)
    if args.samples:
        print(f"enqueued {insert_samples(source, first_run_samples())} first-run sample messages", flush=True)
    stack = AirflowStack(
        state,
        env=env,
        metadata_url=f"sqlite:///{state / 'airflow.db'}",
        port=args.port,
        password_file=state / PASSWORDS_FILE,
    )
    print(f"starting Airflow (scheduler, dag-processor, triggerer, API server) in {state} …", flush=True)
    trickle = Trickle(source, args.interval, args.batch) if args.samples else None
    try:
        # Commits from the start: the first one after the watcher starts begins a run at once.
        with trickle or contextlib.nullcontext():
            stack.start()
            show(stack, state, source, trickle)
            supervise(stack)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping …", flush=True)
        stack.stop()
        print("stopped every process `make ui` started", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
