"""The store: set-based access to the push tables, one SQL dialect per database.

SQL common to every database is written here once, in pyformat (`%(name)s`); what differs lives in
the dialect modules (:mod:`.dialect`). Every write goes through :meth:`Store.transaction`; every
step of delivery is one :class:`Commit`.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from bugzilla_push.backoff import Backoff
from bugzilla_push.errors import BugzillaPushError
from bugzilla_push.model import PushRow, Result
from bugzilla_push.ranges import IdRanges
from bugzilla_push.store.dialect import (
    ARCHIVE_COLUMNS,
    BACKLOG_COLUMNS,
    DEAD_COLUMNS,
    LOG_COLUMNS,
    MAX_RANGES_PER_STATEMENT,
    ROW_COLUMNS,
    Dialect,
    range_predicate,
)
from bugzilla_push.store.records import (
    Batch,
    Commit,
    ConnectorState,
    Counts,
    LogEntry,
    NewMessage,
    Progress,
    QueueStatus,
    RunState,
)
from bugzilla_push.store.schema import apply_migrations, current_version
from bugzilla_push.store.session import Session
from bugzilla_push.store.status import pending, queue_status

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from contextlib import AbstractContextManager
    from datetime import datetime


class LockTimeout(BugzillaPushError, RuntimeError):
    """Another process holds the lock (it is delivering to this connector right now)."""


class Store(Session):
    """The push tables in one database, through one DB-API connection (one thread at a time).

    :param conn: an open DB-API connection in autocommit mode; transactions are explicit
    :param dialect: the database's SQL dialect
    """

    def __init__(self, conn: Any, dialect: Dialect) -> None:
        super().__init__(conn, dialect)
        self._held_locks: set[str] = set()

    def close(self) -> None:
        for name in list(self._held_locks):
            self.unlock(name)
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        return current_version(self)

    def create_schema(self) -> list[str]:
        """Create or upgrade the tables (idempotent); return the statements run."""
        return apply_migrations(self)

    # -- locks ------------------------------------------------------------------------------

    @contextmanager
    def lock(self, name: str, timeout: float, poll: float = 0.2) -> Iterator[None]:
        """Hold the named lock for the block; raise :class:`LockTimeout` after `timeout` seconds.

        Session locks (advisory locks, `GET_LOCK`, file locks) vanish with the process or the
        connection, so a killed deliverer never leaves a connector locked.
        """
        deadline = time.monotonic() + timeout
        while not self.dialect.try_lock(self.conn, name):
            if time.monotonic() >= deadline:
                raise LockTimeout(f"{name!r} is locked by another process (waited {timeout:.0f} s)")
            time.sleep(poll)
        self._held_locks.add(name)
        try:
            yield
        finally:
            self.unlock(name)

    def is_locked_elsewhere(self, name: str) -> bool:
        """Whether another session holds the named lock (if not, it is taken and given back at once)."""
        if not self.dialect.try_lock(self.conn, name):
            return True
        self.dialect.unlock(self.conn, name)
        return False

    def connector_lock(self, connector: str, timeout: float) -> AbstractContextManager[None]:
        """Hold the connector's lock: one deliverer (or finalizer) at a time per connector."""
        return self.lock(f"connector:{connector}", timeout)

    def unlock(self, name: str) -> None:
        if name in self._held_locks:
            self._held_locks.discard(name)
            # A dead connection has released its locks already.
            with suppress(Exception):
                self.dialect.unlock(self.conn, name)

    # -- producer ---------------------------------------------------------------------------

    def enqueue(self, messages: Iterable[NewMessage], now: datetime) -> int:
        """Insert messages into `push` in one transaction, as Bugzilla's producer would."""
        rows = [
            (self.dialect.to_db(m.push_ts or now), m.payload, m.change_set, m.routing_key) for m in messages
        ]
        with self.transaction() as cur:
            self.dialect.bulk_insert(cur, "push", ("push_ts", "payload", "change_set", "routing_key"), rows)
        return len(rows)

    # -- batches ----------------------------------------------------------------------------

    def open_batch(
        self, owner: str, batch_size: int, connectors: Sequence[str], selected: Sequence[str], now: datetime
    ) -> Batch:
        """Return the open batch (adopting it) or read a new one from `push`.

        At most one batch is open at a time (a unique `open_slot`), so two runs started together
        work on the same rows instead of delivering them twice; the connector locks then make
        sure only one of them delivers to each connector.
        """
        for _attempt in range(3):
            with self.transaction() as cur:
                found = self.execute(
                    cur,
                    "SELECT id, ranges, connectors, selected, owner, created_ts FROM push_run "
                    "WHERE open_slot = 1" + self.dialect.for_update,
                ).fetchone()
                if found is not None:
                    self.execute(
                        cur,
                        "UPDATE push_run SET owner = %(owner)s WHERE id = %(id)s",
                        {"owner": owner, "id": found[0]},
                    )
                    return self._open_batch_row(found, owner)
            try:
                return self._create_batch(owner, batch_size, connectors, selected, now)
            except Exception as exc:  # a concurrent run opened one first: adopt it
                if not self.dialect.is_unique_violation(exc):
                    raise
        raise RuntimeError("could not open or adopt a batch after 3 attempts")

    def _create_batch(
        self, owner: str, batch_size: int, connectors: Sequence[str], selected: Sequence[str], now: datetime
    ) -> Batch:
        with self.transaction() as cur:
            ids = [
                r[0]
                for r in self.execute(
                    cur, "SELECT id FROM push ORDER BY id LIMIT %(n)s", {"n": batch_size}
                ).fetchall()
            ]
            if not ids:  # nothing pending: no run record, connectors only work their backlogs
                return Batch.empty(connectors, selected, owner, now)
            ranges = IdRanges.from_ids(ids)
            self.execute(
                cur,
                "INSERT INTO push_run (owner, open_slot, state, created_ts, first_id, last_id, size, ranges,"
                " connectors, selected) VALUES (%(owner)s, 1, 'open', %(now)s, %(first)s, %(last)s, %(size)s,"
                " %(ranges)s, %(connectors)s, %(selected)s)",
                {
                    "owner": owner,
                    "now": self.dialect.to_db(now),
                    "first": ranges.first,
                    "last": ranges.last,
                    "size": len(ids),
                    "ranges": ranges.to_json(),
                    "connectors": json.dumps(list(connectors)),
                    "selected": json.dumps(list(selected)),
                },
            )
            batch_id = self.execute(cur, "SELECT id FROM push_run WHERE open_slot = 1").fetchone()[0]
            self.dialect.bulk_insert(
                cur,
                "push_run_connector",
                ("run_id", "connector", "state", "sent", "ignored", "dead", "held", "updated_ts"),
                [
                    (batch_id, c, str(RunState.PENDING), 0, 0, 0, 0, self.dialect.to_db(now))
                    for c in connectors
                ],
            )
        return Batch(batch_id, ranges, tuple(connectors), tuple(selected), owner, now)

    def batch_is_open(self, batch_id: int) -> bool:
        rows = self.query("SELECT open_slot FROM push_run WHERE id = %(id)s", {"id": batch_id})
        return bool(rows) and rows[0][0] == 1

    def open_batch_of(self, owner: str) -> Batch | None:
        """Return the open batch if `owner` (a run) holds it, else None."""
        rows = self.query(
            "SELECT id, ranges, connectors, selected, owner, created_ts FROM push_run "
            "WHERE open_slot = 1 AND owner = %(owner)s",
            {"owner": owner},
        )
        return self._open_batch_row(rows[0], owner) if rows else None

    def _open_batch_row(self, found: Sequence[Any], owner: str) -> Batch:
        """Make the open batch of a `push_run` row (id, ranges, connectors, selected, owner, created_ts)."""
        return Batch(
            id=found[0],
            ranges=IdRanges.from_json(found[1]),
            connectors=tuple(json.loads(found[2])),
            selected=tuple(json.loads(found[3])),
            owner=owner,
            created_ts=self.dialect.from_db_required(found[5]),
            adopted=True,
        )

    def finished_connectors(self, batch_id: int) -> set[str]:
        """Return the connectors done with the batch (delivered it, or kept it in their backlog)."""
        rows = self.query(
            "SELECT connector, state FROM push_run_connector WHERE run_id = %(run)s", {"run": batch_id}
        )
        return {name for name, state in rows if RunState(state).finished}

    def has_pending(self) -> bool:
        """Whether any row waits in `push` (one index probe, for polling)."""
        return bool(self.query("SELECT id FROM push ORDER BY id LIMIT 1"))

    def progress(self, batch_id: int, connector: str) -> Progress:
        rows = self.query(
            "SELECT state, through_id, sent, ignored, dead, held, error FROM push_run_connector "
            "WHERE run_id = %(run)s AND connector = %(c)s",
            {"run": batch_id, "c": connector},
        )
        if not rows:
            raise KeyError(f"connector {connector!r} is not part of batch {batch_id}")
        state, through, *counts, error = rows[0]
        return Progress(connector, RunState(state), through, Counts(*counts), error)

    def batch_rows(self, batch: Batch, after_id: int, limit: int) -> list[PushRow]:
        """Read the batch's rows after `after_id`, oldest first (rows outside the batch are skipped)."""
        last = batch.ranges.last
        if last is None:
            return []
        rows: list[PushRow] = []
        while len(rows) < limit and after_id < last:
            fetched = self.query(
                f"SELECT {ROW_COLUMNS} FROM push WHERE id > %(after)s AND id <= %(last)s "
                "ORDER BY id LIMIT %(n)s",
                {"after": after_id, "last": last, "n": limit - len(rows)},
            )
            if not fetched:
                break
            after_id = fetched[-1][0]
            rows.extend(self._row(r) for r in fetched if r[0] in batch.ranges)
        return rows

    def _row(self, r: Sequence[Any], attempts: int = 0) -> PushRow:
        return PushRow(r[0], self.dialect.from_db_required(r[1]), r[2], r[3], r[4], attempts)

    def close_batch(self, batch: Batch, now: datetime, archive: bool = True) -> int:
        """Archive the batch's rows (for replay), delete them from `push` and close the batch.

        Returns the number of rows deleted.
        """
        deleted = 0
        with self.transaction() as cur:
            # Claim the batch first: of two closers (lingering tasks finishing together, finalize), the
            # second waits on this row and then finds it closed, and leaves the first one's count alone.
            claimed = self.execute(
                cur,
                "UPDATE push_run SET open_slot = NULL WHERE id = %(id)s AND open_slot = 1",
                {"id": batch.id},
            ).rowcount
            if not claimed:
                return 0
            for part in batch.ranges.chunks(MAX_RANGES_PER_STATEMENT):
                predicate, params = range_predicate(part)
                if archive:
                    select = f"SELECT {ROW_COLUMNS}, %(now)s FROM push WHERE {predicate}"
                    self.execute(
                        cur,
                        self.dialect.insert_ignore("push_archive", ARCHIVE_COLUMNS, select),
                        {**params, "now": self.dialect.to_db(now)},
                    )
                deleted += self.execute(cur, f"DELETE FROM push WHERE {predicate}", params).rowcount
            self.execute(
                cur,
                "UPDATE push_run SET state = 'done', finished_ts = %(now)s, "
                "deleted = %(n)s "
                "WHERE id = %(id)s",
                {"now": self.dialect.to_db(now), "n": deleted, "id": batch.id},
            )
        return deleted

    # -- backlog and backoff ---------------------------------------------------------------

    def pending(self) -> tuple[int, datetime | None]:
        """Return how many rows wait in `push`, and the oldest one's `push_ts`."""
        return pending(self)

    def backlog_rows(self, connector: str, limit: int) -> list[PushRow]:
        """Read the connector's oldest backlog rows, in push-id order."""
        rows = self.query(
            f"SELECT {ROW_COLUMNS.replace('id,', 'message_id,', 1)}, attempts FROM push_backlog "
            "WHERE connector = %(c)s ORDER BY message_id LIMIT %(n)s",
            {"c": connector, "n": limit},
        )
        return [self._row(r, attempts=r[5]) for r in rows]

    def backlog_error(self, connector: str) -> str | None:
        """Return the last error of the connector's oldest waiting message (what held it up)."""
        rows = self.query(
            "SELECT last_error FROM push_backlog WHERE connector = %(c)s ORDER BY message_id LIMIT 1",
            {"c": connector},
        )
        return rows[0][0] if rows else None

    def backlog_oldest(self, connector: str) -> datetime | None:
        rows = self.query("SELECT MIN(push_ts) FROM push_backlog WHERE connector = %(c)s", {"c": connector})
        return self.dialect.from_db(rows[0][0]) if rows else None

    def backlog_depth(self, connector: str) -> int:
        rows = self.query("SELECT COUNT(*) FROM push_backlog WHERE connector = %(c)s", {"c": connector})
        return int(rows[0][0])

    def backoff(self, connector: str) -> Backoff:
        rows = self.query(
            "SELECT attempts, next_attempt_ts FROM push_backoff WHERE connector = %(c)s", {"c": connector}
        )
        return Backoff(rows[0][0], self.dialect.from_db(rows[0][1])) if rows else Backoff()

    # -- the one write path of delivery ----------------------------------------------------

    def record(self, commit: Commit) -> None:
        """Write one step of delivery atomically; see :class:`Commit`."""
        d, c = self.dialect, commit.connector
        now = d.to_db(commit.now)
        with self.transaction() as cur:
            if commit.logs:
                self.write_log(cur, c, commit.logs, commit.now)
            if commit.dead:
                self._insert_dead(cur, c, commit.dead, now)
            if commit.hold:
                for part in commit.hold.chunks(MAX_RANGES_PER_STATEMENT):
                    predicate, params = range_predicate(part)
                    select = f"SELECT {ROW_COLUMNS}, %(c)s, 0 FROM push WHERE {predicate}"
                    self.execute(
                        cur, d.insert_ignore("push_backlog", BACKLOG_COLUMNS, select), {**params, "c": c}
                    )
                    if commit.blocked is not None:
                        self._log_blocked(cur, c, predicate, params, now, commit.blocked)
            if commit.backlog_done:
                for start in range(0, len(commit.backlog_done), 1000):
                    ids = commit.backlog_done[start : start + 1000]
                    marks = ", ".join(f"%(m{i})s" for i in range(len(ids)))
                    self.execute(
                        cur,
                        f"DELETE FROM push_backlog WHERE connector = %(c)s AND message_id IN ({marks})",
                        {"c": c, **{f"m{i}": m for i, m in enumerate(ids)}},
                    )
            if commit.failed:
                self.execute(
                    cur,
                    "UPDATE push_backlog SET attempts = attempts + 1, attempt_ts = %(now)s, "
                    "last_error = %(err)s "
                    "WHERE connector = %(c)s AND message_id = %(m)s",
                    {"now": now, "err": commit.failed[1], "c": c, "m": commit.failed[0]},
                )
            if commit.backoff is not None:
                self._write_backoff(cur, c, commit.backoff)
            if commit.progress is not None:
                batch_id, through, state = commit.progress
                n = commit.counts
                self.execute(
                    cur,
                    "UPDATE push_run_connector SET through_id = %(through)s, state = %(state)s,"
                    " sent = sent + %(sent)s, ignored = ignored + %(ignored)s, dead = dead + %(dead)s,"
                    " held = held + %(held)s, updated_ts = %(now)s, error = %(error)s"
                    " WHERE run_id = %(run)s AND connector = %(c)s",
                    {
                        "through": through,
                        "state": str(state),
                        "sent": n.sent,
                        "ignored": n.ignored,
                        "dead": n.dead,
                        "held": n.held,
                        "now": now,
                        "error": commit.error,
                        "run": batch_id,
                        "c": c,
                    },
                )

    def write_log(self, cur: Any, connector: str, entries: Iterable[LogEntry], now: datetime) -> None:
        """Append `push_log` rows for delivery attempts, inside the caller's transaction."""
        d = self.dialect
        processed = d.to_db(now)
        rows = [
            (
                e.row.id,
                e.row.change_set,
                e.row.routing_key,
                connector,
                d.to_db(e.row.push_ts),
                processed,
                int(e.result),
                e.data,
            )
            for e in entries
        ]
        d.bulk_insert(cur, "push_log", LOG_COLUMNS, rows)

    def _log_blocked(
        self, cur: Any, connector: str, predicate: str, params: dict[str, Any], now: Any, why: str
    ) -> None:
        """Log each held row as BLOCKED, straight from `push` (no payloads read)."""
        select = (
            "SELECT id, change_set, routing_key, %(c)s, push_ts, %(now)s, %(result)s, %(why)s "
            f"FROM push WHERE {predicate}"
        )
        self.execute(
            cur,
            f"INSERT INTO push_log ({', '.join(LOG_COLUMNS)}) {select}",
            {**params, "c": connector, "now": now, "result": int(Result.BLOCKED), "why": why},
        )

    def _insert_dead(self, cur: Any, connector: str, dead: list[tuple[PushRow, str]], now: Any) -> None:
        d = self.dialect
        rows = [
            (r.id, connector, d.to_db(r.push_ts), r.payload, r.change_set, r.routing_key, reason, now)
            for r, reason in dead
        ]
        # A dead letter written again after a crash keeps the first one.
        marks = ", ".join(["%s"] * len(DEAD_COLUMNS))
        sql = d.insert_ignore("push_dead_letter", ", ".join(DEAD_COLUMNS), f"VALUES ({marks})")
        cur.executemany(d.sql(sql), rows)

    def _write_backoff(self, cur: Any, connector: str, backoff: Backoff) -> None:
        self.execute(
            cur,
            self.dialect.upsert("push_backoff", ("connector", "next_attempt_ts", "attempts"), ("connector",)),
            {
                "connector": connector,
                "next_attempt_ts": self.dialect.to_db(backoff.next_attempt_ts),
                "attempts": backoff.attempts,
            },
        )

    # -- statistics, for the console's charts and the metrics --------------------------------

    STATS_INSERT = (
        "INSERT INTO push_stats (sampled_ts, connector, state, sent, ignored, dead, held, transient, "
        "depth, oldest_ts, millis) "
    )

    def record_stats(
        self, now: datetime, connector: str, state: str, counts: Counts, transient: int, millis: int
    ) -> None:
        """Sample a connector after a delivery: what it did, and its backlog depth and oldest message."""
        # The name goes in twice: PostgreSQL gives a parameter one type, and these two uses differ.
        self.execute_one(
            self.STATS_INSERT
            + "SELECT %(now)s, %(name)s, %(state)s, %(sent)s, %(ignored)s, %(dead)s, %(held)s, "
            "%(transient)s, COUNT(*), MIN(push_ts), %(millis)s FROM push_backlog WHERE connector = %(c)s",
            {
                "now": self.dialect.to_db(now),
                "name": connector,
                "c": connector,
                "state": state[:16],
                "sent": counts.sent,
                "ignored": counts.ignored,
                "dead": counts.dead,
                "held": counts.held,
                "transient": transient,
                "millis": millis,
            },
        )

    def record_queue_stats(self, now: datetime, millis: int = 0) -> None:
        """Sample the pending queue (connector '*')."""
        self.execute_one(
            self.STATS_INSERT
            + "SELECT %(now)s, '*', 'queue', 0, 0, 0, 0, 0, COUNT(*), MIN(push_ts), %(millis)s FROM push",
            {"now": self.dialect.to_db(now), "millis": millis},
        )

    # -- operator state ---------------------------------------------------------------------

    def connector_state(self, connector: str) -> ConnectorState | None:
        rows = self.query(
            "SELECT paused, reason, changed_by, changed_ts FROM push_connector_state WHERE connector = %(c)s",
            {"c": connector},
        )
        if not rows:
            return None
        paused, reason, by, ts = rows[0]
        return ConnectorState(connector, bool(paused), reason, by, self.dialect.from_db_required(ts))

    def set_paused(
        self, connector: str, paused: bool, actor: str, now: datetime, reason: str | None = None
    ) -> None:
        """Pause or resume a connector, and record who did it; resuming also clears its backoff."""
        with self.transaction() as cur:
            self.execute(
                cur,
                self.dialect.upsert(
                    "push_connector_state",
                    ("connector", "paused", "reason", "changed_by", "changed_ts"),
                    ("connector",),
                ),
                {
                    "connector": connector,
                    "paused": int(paused),
                    "reason": reason,
                    "changed_by": actor,
                    "changed_ts": self.dialect.to_db(now),
                },
            )
            if not paused:
                self.execute(cur, "DELETE FROM push_backoff WHERE connector = %(c)s", {"c": connector})
            self.audit(cur, now, actor, "pause" if paused else "resume", connector, detail=reason)

    def audit(
        self,
        cur: Any,
        now: datetime,
        actor: str,
        action: str,
        connector: str | None = None,
        message_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        """Record an operator action inside the caller's transaction."""
        self.execute(
            cur,
            "INSERT INTO push_audit (action_ts, actor, action, connector, message_id, detail) "
            "VALUES (%(ts)s, %(actor)s, %(action)s, %(c)s, %(m)s, %(detail)s)",
            {
                "ts": self.dialect.to_db(now),
                "actor": actor[:250],
                "action": action,
                "c": connector,
                "m": message_id,
                "detail": detail,
            },
        )

    # -- status -----------------------------------------------------------------------------

    def status(self, connectors: Sequence[str] = ()) -> QueueStatus:
        """Pending queue, backlogs, backoff and dead letters, for `status`, `check` and the console."""
        return queue_status(self, connectors)
