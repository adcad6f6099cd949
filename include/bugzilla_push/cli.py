"""`bugzilla-push`: the operator's command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from bugzilla_push.bugzilla import BugzillaReader
from bugzilla_push.bugzilla.producer import ProducerWarning, producer_warnings
from bugzilla_push.clock import utcnow
from bugzilla_push.connectors.base import ConnectorConfigError
from bugzilla_push.errors import BugzillaPushError
from bugzilla_push.model import (
    CHANGE_SET_MAX,
    CONNECTOR_NAME_RULE,
    ROUTING_KEY_MAX,
    is_connector_name,
    routing_key_for,
)
from bugzilla_push.store import NewMessage, Store, open_store
from bugzilla_push.store.known import UnknownConnector
from bugzilla_push.store.operations import NotFound, Operations
from bugzilla_push.store.records import waiting

if TYPE_CHECKING:
    from datetime import datetime

    from bugzilla_push.store.records import QueueStatus

NAGIOS = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


class InputError(BugzillaPushError, ValueError):
    """Bad `enqueue` input; the message names the line."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"bugzilla-push: {exc}; nothing was enqueued", file=sys.stderr)
        return 2
    except UnknownConnector as exc:
        print(f"bugzilla-push: {exc}. Nothing was changed (--force acts on it anyway).", file=sys.stderr)
        return 2
    except NotFound as exc:
        print(f"bugzilla-push: {exc}; nothing was changed", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - any failure becomes an exit code and one line
        if args.command == "check":
            print(f"UNKNOWN - {type(exc).__name__}: {exc}")
            return 3
        print(f"bugzilla-push: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bugzilla-push", description=__doc__)
    parser.add_argument(
        "--db",
        default=os.environ.get("BUGZILLA_PUSH_DB"),
        help="database URL (postgresql://… or sqlite:///…); default: the Airflow connection --conn-id "
        "(env BUGZILLA_PUSH_DB)",
    )
    parser.add_argument("--conn-id", default="bugzilla_db", help="Airflow connection of the database")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("schema", help="create or upgrade the push tables (idempotent)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("enqueue", help="insert messages as Bugzilla would (JSON lines or a JSON array)")
    p.add_argument("file", nargs="?", default="-", help="file to read, '-' for stdin")
    p.set_defaults(func=cmd_enqueue)

    p = sub.add_parser("status", help="pending queue, backlogs, backoff, dead letters, last run")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "check", help="Nagios-style health check (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)"
    )
    p.add_argument(
        "--connector",
        action="append",
        default=[],
        type=connector_name,
        help="connector to check (repeatable; default all)",
    )
    p.add_argument("--warn", type=int, default=500, help="warn at this many waiting messages (BMO: 500)")
    p.add_argument("--crit", type=int, default=750, help="critical at this many waiting messages (BMO: 750)")
    p.add_argument(
        "--warn-age",
        type=int,
        default=600,
        help="warn when the oldest waiting message is this many seconds old",
    )
    p.add_argument("--crit-age", type=int, default=1800, help="critical at this age, in seconds")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("pause", help="pause a connector: its messages wait in its backlog until resumed")
    _connector_argument(p)
    p.add_argument(
        "--reason", required=True, help="why, for the other operators (shown in status and the console)"
    )
    p.set_defaults(func=cmd_pause)

    p = sub.add_parser("resume", help="resume a paused connector and clear its backoff")
    _connector_argument(p)
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser(
        "retry", help="move a connector's dead letters back to its backlog, sent (in order) on the next run"
    )
    _connector_argument(p)
    p.add_argument(
        "--message",
        type=int,
        action="append",
        default=[],
        help="push id of a dead letter to retry (repeatable; default: all of the connector's)",
    )
    p.set_defaults(func=cmd_dead_letters)

    p = sub.add_parser("drop", help="forget a connector's dead letters (the audit trail keeps their reasons)")
    _connector_argument(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--message", type=int, action="append", default=[], help="push id of a dead letter (repeatable)"
    )
    which.add_argument("--all", action="store_true", help="all of the connector's dead letters")
    p.set_defaults(func=cmd_dead_letters)

    p = sub.add_parser(
        "notify",
        help="opt in to commit notifications on PostgreSQL, so runs start within a second of a commit",
        description="Event-driven runs: the DAG's asset watcher starts a run when rows are committed to "
        "push. On PostgreSQL, `install` adds a statement-level AFTER INSERT trigger on push (function and "
        "trigger bugzilla_push_notify, NOTIFY channel bugzilla_push) so the watcher LISTENs instead of "
        "polling. This is opt-in because it adds a trigger to one of Bugzilla's own tables; `remove` takes "
        "it away again. Without it, and always on MySQL/MariaDB and SQLite, the watcher polls "
        "SELECT MAX(id) FROM push once a second.",
    )
    p.add_argument("action", choices=["install", "remove", "status"])
    p.set_defaults(func=cmd_notify)

    p = sub.add_parser("samples", help="print sample messages as JSON lines (for enqueue)")
    p.add_argument(
        "--count", type=int, default=0, help="a generated stream of this many (default: the first-run set)"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--shape",
        choices=["current", "legacy"],
        default="current",
        help="payload shape: current (BMO since 2021: names and logins, *_detail users, groups) or legacy "
        "(before: {id, name} objects, user objects, null for unset, bug_group)",
    )
    p.set_defaults(func=cmd_samples)
    return parser


def connector_name(text: str) -> str:
    """Return a connector name given on the command line, or refuse one no connector can have."""
    if not is_connector_name(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a connector name: a name is {CONNECTOR_NAME_RULE}")
    return text


def _connector_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("connector", type=connector_name)
    p.add_argument(
        "--force",
        action="store_true",
        help="act on a connector that is neither enabled nor known from the push tables (not a typo)",
    )


def connect(args: argparse.Namespace) -> Store:
    if args.db:
        return open_store(args.db)
    from bugzilla_push.airflow.hooks.bugzilla_db import BugzillaDbHook  # imports Airflow only when needed

    return BugzillaDbHook(args.conn_id).get_conn()


# -- commands -------------------------------------------------------------------------------


def cmd_schema(args: argparse.Namespace) -> int:
    with connect(args) as store:
        applied = store.create_schema()
        version = store.schema_version()
    print(
        f"schema at version {version}: " + (f"{len(applied)} statements applied" if applied else "up to date")
    )
    return 0


def cmd_enqueue(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()  # noqa: SIM115
    messages = parse_enqueue_input(text)
    with connect(args) as store:
        count = store.enqueue(messages, utcnow())
    print(f"enqueued {count} message(s)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with connect(args) as store:
        status = store.status()
    if args.json:
        print(json.dumps(status_dict(status), indent=2, default=str))
    else:
        print_status(status, sys.stdout)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    if args.crit < args.warn or args.crit_age < args.warn_age:
        raise ValueError("--crit must not be below --warn, nor --crit-age below --warn-age")
    with connect(args) as store:
        status = store.status(args.connector)
    code, text = check_status(
        status, args.connector, Thresholds(args.warn, args.crit, args.warn_age, args.crit_age), utcnow()
    )
    for warning in producer_warnings_of(args):
        code, text = max(code, warning.code), f"{warning.text}; {text}"
    print(f"{NAGIOS[code]} - {text}")
    return code


def producer_warnings_of(args: argparse.Namespace) -> list[ProducerWarning]:
    """Return what keeps Bugzilla from writing every change into push (read on a connection of its own)."""
    reader = BugzillaReader(lambda: connect(args))
    try:
        return producer_warnings(reader)
    finally:
        reader.close()


def operator() -> str:
    """Who is acting, for the audit trail: the local user of this command line."""
    import getpass

    return f"cli:{getpass.getuser()}"


def enabled_connectors() -> list[str]:
    """Read the Variable `bugzilla_push_connectors` as the DAG does (here: environment, secrets backends).

    A broken Variable is reported and read as empty: names known from the tables still work.
    """
    from bugzilla_push.airflow.connectors import enabled_connectors as read  # Airflow only when needed

    try:
        return read()
    except ConnectorConfigError as exc:
        print(f"bugzilla-push: warning: {exc}", file=sys.stderr)
        return []


def operations(store: Store) -> Operations:
    return Operations(store, utcnow, enabled_connectors())


def cmd_pause(args: argparse.Namespace) -> int:
    with connect(args) as store:
        operations(store).pause(args.connector, operator(), args.reason, force=args.force)
    print(f"{args.connector} is paused: its messages wait in its backlog until `bugzilla-push resume`")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    with connect(args) as store:
        state = store.connector_state(args.connector)
        operations(store).resume(args.connector, operator(), force=args.force)
    was = f" (paused by {state.changed_by}: {state.reason})" if state and state.paused else ""
    print(f"{args.connector} is resumed and its backoff cleared{was}")
    return 0


def cmd_dead_letters(args: argparse.Namespace) -> int:
    """`retry` or `drop` a connector's dead letters: each is its own audited transaction."""
    with connect(args) as store:
        ops = operations(store)
        act = ops.retry_dead_letter if args.command == "retry" else ops.drop_dead_letter
        ids = ops.connector_dead_letters(args.connector, args.message, force=args.force)
        for dead_letter_id in ids:
            act(dead_letter_id, operator())
    done = (
        "are back in its backlog; sent on the next run"
        if args.command == "retry"
        else "dropped (the audit trail keeps their reasons)"
    )
    print(f"{len(ids)} dead letter(s) of {args.connector} {done}")
    return 0


def cmd_notify(args: argparse.Namespace) -> int:
    from bugzilla_push.store import notify

    with connect(args) as store:
        if args.action == "status":
            if not notify.supported(store):
                print(f"notify trigger: not available. {notify.unsupported_reason(store)}.")
                return 0
            if notify.installed(store):
                print(
                    "notify trigger: installed on push (bugzilla_push_notify). The watcher LISTENs on "
                    "channel bugzilla_push (and polls MAX(id) every 30 s as a safety net)."
                )
            else:
                print(
                    "notify trigger: not installed. The watcher polls SELECT MAX(id) FROM push every second; "
                    "`bugzilla-push notify install` lets it LISTEN instead."
                )
            return 0
        if not notify.supported(store):
            reason = notify.unsupported_reason(store)
            if args.action == "remove":  # nothing can be there: already in the state asked for
                print(f"nothing to remove: {reason}.")
                return 0
            print(f"bugzilla-push: cannot install the notify trigger: {reason}.", file=sys.stderr)
            return 2
        if args.action == "install":
            was = notify.install(store)
            print(
                "notify trigger "
                + ("was already installed (refreshed)" if was else "installed")
                + " on push: the watcher will LISTEN on channel bugzilla_push (it notices within 30 s)"
            )
        else:
            was = notify.remove(store)
            print(
                ("notify trigger removed" if was else "notify trigger was not installed; nothing to remove")  # noqa: S608 - a message
                + ": the watcher polls SELECT MAX(id) FROM push every second"
            )
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    from bugzilla_push.samples import BugzillaSimulator, first_run_samples

    stream = (
        BugzillaSimulator(seed=args.seed, shape=args.shape).messages(args.count)
        if args.count
        else first_run_samples(args.shape)
    )
    for message in stream:
        print(json.dumps(message, separators=(",", ":")))
    return 0


# -- pieces the commands share (pure, tested on their own) ----------------------------------


def parse_enqueue_input(text: str) -> list[NewMessage]:
    """Parse messages from a JSON array or JSON lines.

    Each is a row (`payload`, `routing_key`, `change_set`) or a bare payload (`{"bug": …, "event": …}`)
    whose routing key and change set are taken from its event.
    """
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = [(n + 1, item) for n, item in enumerate(json.loads(stripped))]
        except json.JSONDecodeError as exc:
            raise InputError(f"the JSON array is not valid JSON: {exc}") from None
    else:
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise InputError(f"line {n} is not valid JSON: {exc}") from None
    return [_new_message(n, item) for n, item in items]


def _new_message(n: int, item: Any) -> NewMessage:
    if not isinstance(item, dict):
        raise InputError(f"message {n} is a JSON {type(item).__name__}, not an object")
    payload = item.get("payload", item)
    event = payload.get("event") if isinstance(payload, dict) else None
    event = event if isinstance(event, dict) else {}
    routing_key = item.get("routing_key") or (
        routing_key_for(event) if {"target", "action"} <= event.keys() else None
    )
    if not routing_key:
        raise InputError(f"message {n} has no routing_key and no event to derive one from")
    change_set = str(item.get("change_set") or event.get("change_set") or f"{os.getpid()}.{time.time():.5f}")
    if len(routing_key) > ROUTING_KEY_MAX or len(change_set) > CHANGE_SET_MAX:
        raise InputError(
            f"message {n}: routing_key is at most {ROUTING_KEY_MAX} and change_set "
            f"{CHANGE_SET_MAX} characters"
        )
    text = (
        payload
        if isinstance(payload, str)
        else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    )
    return NewMessage(payload=text, routing_key=routing_key, change_set=change_set)


def status_dict(status: QueueStatus) -> dict[str, Any]:
    return {
        "pending": status.pending,
        "pending_oldest_ts": status.pending_oldest_ts,
        "connectors": {name: vars(c) for name, c in status.connectors.items()},
        "open_batch": status.open_batch,
        "last_run": status.last_run,
        "recent_dead_letters": status.recent_dead_letters,
    }


def _age(ts: datetime | None) -> str:
    if ts is None:
        return "-"
    seconds = max(0, int((utcnow() - ts).total_seconds()))
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


def print_status(status: QueueStatus, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=None if out.isatty() else 120, no_color=not out.isatty())
    console.print(f"pending: {status.pending:,} message(s), oldest waiting {_age(status.pending_oldest_ts)}")
    if status.open_batch:
        b = status.open_batch
        console.print(
            f"open batch #{b['id']}: {b['size']:,} rows, ids {b['first_id']}–{b['last_id']}, run {b['owner']}"
        )
    run = status.last_run
    if run:
        console.print(
            f"last batch #{run['id']}: {run['deleted']:,} row(s) delivered and removed from push at "
            f"{run['finished_ts']:%Y-%m-%d %H:%M:%S} UTC"
        )
        table = Table(
            "connector",
            "state",
            "sent",
            "ignored",
            "dead-lettered",
            "held in backlog",
            title="what each connector did with the last batch",
        )
        for name, c in run.get("connectors", {}).items():
            table.add_row(
                name, c["state"], f"{c['sent']:,}", f"{c['ignored']:,}", f"{c['dead']:,}", f"{c['held']:,}"
            )
        console.print(table)
    now = utcnow()
    table = Table(
        "connector",
        "state",
        "backlog",
        "oldest",
        "backoff",
        "next attempt",
        "dead letters",
        "last error",
        title="connectors now",
    )
    for name, c in status.connectors.items():
        table.add_row(
            name,
            c.state(now) + (f" by {c.paused_by}: {c.paused_reason}" if c.paused else ""),
            f"{c.backlog:,}",
            _age(c.oldest_ts),
            str(c.backoff_attempts or "-"),
            f"{c.next_attempt_ts:%H:%M:%S}" if c.next_attempt_ts else "-",
            f"{c.dead_letters:,}",
            (c.last_error or "")[:60],
        )
    console.print(table)
    if status.recent_dead_letters:
        table = Table("push id", "connector", "routing key", "reason", title="latest dead letters")
        for d in status.recent_dead_letters:
            table.add_row(str(d["message_id"]), d["connector"], d["routing_key"], d["reason"])
        console.print(table)


@dataclass(frozen=True)
class Thresholds:
    """Nagios thresholds: waiting messages (BMO's 500 and 750) and the oldest one's age in seconds."""

    warn: int = 500
    crit: int = 750
    warn_age: int = 600
    crit_age: int = 1800


def check_status(
    status: QueueStatus, connectors: list[str], limits: Thresholds, now: datetime
) -> tuple[int, str]:
    """Nagios code and text: the worst of the pending queue's and each connector's depth and age."""
    code, parts = 0, []
    for what, (depth, age) in waiting(status, connectors, now).items():
        code = max(
            code,
            2
            if depth >= limits.crit or age >= limits.crit_age
            else 1
            if depth >= limits.warn or age >= limits.warn_age
            else 0,
        )
        parts.append(f"{what} {depth:,}" + (f" (oldest {age:,} s)" if age else ""))
    return code, (
        f"{', '.join(parts)} (warn {limits.warn:,} or {limits.warn_age:,} s, crit {limits.crit:,} or "
        f"{limits.crit_age:,} s)"
    )
