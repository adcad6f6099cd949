"""What operators see and do — the push console and the command line: views, and audited actions.

Views are read-only and bounded (paged, or over a time window); every action is one transaction
that also writes who did it, and when, to `push_audit`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bugzilla_push.errors import BugzillaPushError
from bugzilla_push.model import PushRow, Result, bug_id_of_row
from bugzilla_push.store.dialect import BACKLOG_COLUMNS
from bugzilla_push.store.known import require_connector
from bugzilla_push.store.records import LogEntry

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bugzilla_push.store.base import Store
    from bugzilla_push.store.records import ConnectorStatus

MAX_PAGE = 500
BUG_SCAN_LIMIT = 5000  # candidate rows read when filtering the log by bug id


class NotFound(BugzillaPushError, LookupError):
    """The dead letter, backlog row or message does not exist (any more)."""


@dataclass(frozen=True)
class Page:
    """One page of rows, newest first, and whether there are more."""

    rows: list[dict[str, Any]]
    has_more: bool


class Operations:
    """The console's and the CLI's view of the push tables.

    Actions that name a connector refuse a name that is neither in `enabled` nor known from the
    push tables (`UnknownConnector`), unless called with `force=True`.

    :param store: the push tables
    :param clock: naive-UTC "now"
    :param enabled: the enabled connectors (the Variable `bugzilla_push_connectors`)
    """

    def __init__(self, store: Store, clock: Callable[[], datetime], enabled: Sequence[str] = ()) -> None:
        self.store = store
        self.clock = clock
        self.enabled = list(enabled)

    # -- views --------------------------------------------------------------------------------

    def overview(self, connectors: Sequence[str] = ()) -> dict[str, Any]:
        """Queue depth and age, and each connector's state, backlog, backoff, errors and last success."""
        status, now = self.store.status(connectors), self.clock()
        rows = [_overview_row(c, now) for name, c in status.connectors.items() if name != "*"]
        return {
            "now": now,
            "pending": status.pending,
            "pending_oldest_ts": status.pending_oldest_ts,
            "connectors": rows,
            "open_batch": status.open_batch,
            "last_run": status.last_run,
        }

    def history(self, hours: int = 24, bucket_minutes: int = 10) -> dict[str, Any]:
        """Per connector: messages delivered and backlog depth per time bucket, over the last hours."""
        d, now = self.store.dialect, self.clock()
        bucket = timedelta(minutes=bucket_minutes)
        start = _floor(now - timedelta(hours=hours), bucket)
        count = int((now - start) / bucket) + 1
        edges = [start + i * bucket for i in range(count)]
        sent: dict[str, list[int]] = defaultdict(lambda: [0] * count)
        depth: dict[str, list[int | None]] = defaultdict(lambda: [None] * count)
        for ts, name, n_sent, n_depth in self.store.query(
            "SELECT sampled_ts, connector, sent, depth FROM push_stats WHERE sampled_ts >= %(since)s "
            "ORDER BY sampled_ts",
            {"since": d.to_db(start)},
        ):
            i = min(int((d.from_db_required(ts) - start) / bucket), count - 1)
            if name != "*":
                sent[name][i] += n_sent
            depth[name][i] = max(depth[name][i] or 0, n_depth)
        connectors = sorted(set(sent) | (set(depth) - {"*"}))
        return {
            "bucket_minutes": bucket_minutes,
            "buckets": edges,
            "pending": depth["*"] if "*" in depth else [None] * count,
            "connectors": {name: {"sent": sent[name], "backlog": depth[name]} for name in connectors},
        }

    def dead_letters(self, connector: str | None = None, limit: int = 50, offset: int = 0) -> Page:
        where, params = ("WHERE connector = %(c)s", {"c": connector}) if connector else ("", {})
        rows = self.store.query(
            "SELECT id, message_id, connector, push_ts, routing_key, change_set, reason, failed_ts "
            f"FROM push_dead_letter {where} ORDER BY id DESC LIMIT %(n)s OFFSET %(o)s",
            {**params, "n": _limit(limit) + 1, "o": max(offset, 0)},
        )
        keys = (
            "id",
            "message_id",
            "connector",
            "push_ts",
            "routing_key",
            "change_set",
            "reason",
            "failed_ts",
        )
        return self._page(rows, keys, limit)

    def log(
        self,
        connector: str | None = None,
        result: int | None = None,
        routing_key: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        bug_id: int | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> Page:
        """`push_log`, newest first, filtered; page on with `before_id` (the last row's id)."""
        d = self.store.dialect
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if connector:
            clauses.append("connector = %(c)s")
            params["c"] = connector
        if result is not None:
            clauses.append("result = %(r)s")
            params["r"] = int(Result(result))
        if routing_key:
            # '!' escapes: a backslash is no escape character in SQLite and is one in MySQL literals.
            clauses.append("routing_key LIKE %(k)s ESCAPE '!'")
            params["k"] = routing_key.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
        if since:
            clauses.append("processed_ts >= %(since)s")
            params["since"] = d.to_db(since)
        if until:
            clauses.append("processed_ts < %(until)s")
            params["until"] = d.to_db(until)
        if before_id:
            clauses.append("id < %(before)s")
            params["before"] = before_id
        if bug_id is not None:
            ids = self.message_ids_for_bug(bug_id)
            if not ids:
                return Page([], False)
            marks = ", ".join(f"%(m{i})s" for i in range(len(ids)))
            clauses.append(f"message_id IN ({marks})")
            params.update({f"m{i}": m for i, m in enumerate(ids)})
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.store.query(
            "SELECT id, message_id, connector, routing_key, change_set, push_ts, processed_ts, result, data "
            f"FROM push_log {where} ORDER BY id DESC LIMIT %(n)s",
            {**params, "n": _limit(limit) + 1},
        )
        page = self._page(
            rows,
            (
                "id",
                "message_id",
                "connector",
                "routing_key",
                "change_set",
                "push_ts",
                "processed_ts",
                "result",
                "data",
            ),
            limit,
        )
        for row in page.rows:
            row["result_name"] = Result(row["result"]).name
        return page

    def pending(self, limit: int = 50, after_id: int | None = None) -> Page:
        """List the messages waiting in `push`, oldest first; page on with `after_id` (the last row's id)."""
        rows = self.store.query(
            "SELECT id, push_ts, routing_key, change_set FROM push WHERE id > %(after)s "
            "ORDER BY id LIMIT %(n)s",
            {"after": after_id or 0, "n": _limit(limit) + 1},
        )
        return self._page(rows, ("message_id", "push_ts", "routing_key", "change_set"), limit)

    def backlog(self, connector: str, limit: int = 50, after_id: int | None = None) -> Page:
        """List a connector's waiting messages in the order it will send them; page on with `after_id`."""
        rows = self.store.query(
            "SELECT message_id, push_ts, routing_key, change_set, attempts, attempt_ts, last_error "
            "FROM push_backlog WHERE connector = %(c)s AND message_id > %(after)s "
            "ORDER BY message_id LIMIT %(n)s",
            {"c": connector, "after": after_id or 0, "n": _limit(limit) + 1},
        )
        return self._page(
            rows,
            ("message_id", "push_ts", "routing_key", "change_set", "attempts", "attempt_ts", "last_error"),
            limit,
        )

    def message_ids_for_bug(self, bug_id: int) -> list[int]:
        """Push ids of messages about a bug, among those still stored (pending, backlog, dead, archive)."""
        pattern = f'%"id":{bug_id}%'
        found: set[int] = set()
        for table, id_column in (
            ("push", "id"),
            ("push_backlog", "message_id"),
            ("push_dead_letter", "message_id"),
            ("push_archive", "message_id"),
        ):
            for message_id, push_ts, payload, change_set, key in self.store.query(
                f"SELECT {id_column}, push_ts, payload, change_set, routing_key FROM {table} "
                f"WHERE REPLACE(payload, ' ', '') LIKE %(p)s "
                f"ORDER BY {id_column} DESC LIMIT {BUG_SCAN_LIMIT}",
                {"p": pattern},
            ):
                if bug_id_of_row(PushRow(message_id, push_ts, payload, change_set, key)) == bug_id:
                    found.add(message_id)
        return sorted(found)

    def message(self, message_id: int) -> dict[str, Any]:
        """One message wherever it is: its payload (as stored), where it waits, and its log."""
        d = self.store.dialect
        row = None
        where: list[dict[str, Any]] = []
        for table, id_column, extra in (
            ("push", "id", "NULL, NULL, NULL"),
            ("push_backlog", "message_id", "connector, attempts, last_error"),
            ("push_dead_letter", "message_id", "connector, id, reason"),
            ("push_archive", "message_id", "NULL, NULL, NULL"),
        ):
            for found in self.store.query(
                f"SELECT push_ts, payload, change_set, routing_key, {extra} FROM {table} "
                f"WHERE {id_column} = %(m)s",
                {"m": message_id},
            ):
                row = row or found
                place = {
                    "push": "pending",
                    "push_backlog": "backlog",
                    "push_dead_letter": "dead letter",
                    "push_archive": "archive",
                }[table]
                entry: dict[str, Any] = {"place": place}
                if table == "push_backlog":
                    entry.update(connector=found[4], attempts=found[5], last_error=found[6])
                elif table == "push_dead_letter":
                    entry.update(connector=found[4], dead_letter_id=found[5], reason=found[6])
                where.append(entry)
        if row is None:
            raise NotFound(
                f"message {message_id} is not stored any more (delivered and past its archive time)"
            )
        log_rows = self.store.query(
            "SELECT id, connector, processed_ts, result, data FROM push_log WHERE message_id = %(m)s "
            "ORDER BY id DESC LIMIT 200",
            {"m": message_id},
        )
        return {
            "message_id": message_id,
            "push_ts": d.from_db(row[0]),
            "payload": row[1],
            "change_set": row[2],
            "routing_key": row[3],
            "where": where,
            "log": [
                {
                    "id": i,
                    "connector": c,
                    "processed_ts": d.from_db(ts),
                    "result": r,
                    "result_name": Result(r).name,
                    "data": data,
                }
                for i, c, ts, r, data in log_rows
            ],
        }

    def audit_log(self, limit: int = 50, offset: int = 0) -> Page:
        rows = self.store.query(
            "SELECT id, action_ts, actor, action, connector, message_id, detail FROM push_audit "
            "ORDER BY id DESC LIMIT %(n)s OFFSET %(o)s",
            {"n": _limit(limit) + 1, "o": max(offset, 0)},
        )
        return self._page(
            rows, ("id", "action_ts", "actor", "action", "connector", "message_id", "detail"), limit
        )

    # -- actions ------------------------------------------------------------------------------

    def require(self, connector: str, force: bool = False) -> None:
        """Refuse a name that is neither enabled nor known from the tables (a typo), unless forced."""
        require_connector(self.store, connector, self.enabled, force)

    def pause(self, connector: str, actor: str, reason: str, force: bool = False) -> None:
        self.require(connector, force)
        self.store.set_paused(connector, True, actor, self.clock(), reason=reason)

    def resume(self, connector: str, actor: str, force: bool = False) -> None:
        self.require(connector, force)
        self.store.set_paused(connector, False, actor, self.clock())

    def reset_backoff(self, connector: str, actor: str, force: bool = False) -> None:
        """Let the connector try again on the next run (its backlog stays as it is)."""
        self.require(connector, force)
        with self.store.transaction() as cur:
            self.store.execute(cur, "DELETE FROM push_backoff WHERE connector = %(c)s", {"c": connector})
            self.store.audit(cur, self.clock(), actor, "reset_backoff", connector)

    def retry_dead_letter(self, dead_letter_id: int, actor: str) -> dict[str, Any]:
        """Move a dead letter back to its connector's backlog, to be sent on the next run."""
        with self.store.transaction() as cur:
            message_id, connector, _ = self._dead_letter(cur, dead_letter_id)
            select = (
                "SELECT message_id, push_ts, payload, change_set, routing_key, connector, 0 "
                "FROM push_dead_letter WHERE id = %(i)s"
            )
            self.store.execute(
                cur,
                self.store.dialect.insert_ignore("push_backlog", BACKLOG_COLUMNS, select),
                {"i": dead_letter_id},
            )
            self.store.execute(cur, "DELETE FROM push_dead_letter WHERE id = %(i)s", {"i": dead_letter_id})
            self.store.audit(cur, self.clock(), actor, "retry_dead_letter", connector, message_id)
        return {"message_id": message_id, "connector": connector}

    def drop_dead_letter(self, dead_letter_id: int, actor: str) -> dict[str, Any]:
        with self.store.transaction() as cur:
            message_id, connector, reason = self._dead_letter(cur, dead_letter_id)
            self.store.execute(cur, "DELETE FROM push_dead_letter WHERE id = %(i)s", {"i": dead_letter_id})
            self.store.audit(cur, self.clock(), actor, "drop_dead_letter", connector, message_id, reason)
        return {"message_id": message_id, "connector": connector}

    def _dead_letter(self, cur: Any, dead_letter_id: int) -> tuple[int, str, str]:
        """Lock a dead letter for the caller's transaction; return its message id, connector and reason."""
        found = self.store.execute(
            cur,
            "SELECT message_id, connector, reason FROM push_dead_letter WHERE id = %(i)s"
            + self.store.dialect.for_update,
            {"i": dead_letter_id},
        ).fetchone()
        if found is None:
            raise NotFound(f"dead letter {dead_letter_id} does not exist (retried or dropped already?)")
        return found[0], found[1], found[2]

    def connector_dead_letters(
        self, connector: str, message_ids: Sequence[int] = (), force: bool = False
    ) -> list[int]:
        """Return the ids of a connector's dead letters (all, or those of the push ids given), oldest first.

        :raises NotFound: a push id given has no dead letter for this connector
        """
        self.require(connector, force)
        found = dict(
            self.store.query(
                "SELECT message_id, id FROM push_dead_letter WHERE connector = %(c)s ORDER BY id",
                {"c": connector},
            )
        )
        if not message_ids:
            return sorted(found.values())
        missing = sorted(set(message_ids) - set(found))
        if missing:
            raise NotFound(
                f"{connector} has no dead letter for message(s) {', '.join(map(str, missing))} "
                "(retried or dropped already?)"
            )
        return sorted(found[m] for m in set(message_ids))

    def drop_backlog_message(self, connector: str, message_id: int, actor: str) -> None:
        """Give up on one waiting message: it is logged IGNORED with who dropped it, and never sent."""
        self.require(connector)
        now = self.clock()
        with self.store.transaction() as cur:
            found = self.store.execute(
                cur,
                "SELECT message_id, push_ts, payload, change_set, routing_key FROM push_backlog "
                "WHERE connector = %(c)s AND message_id = %(m)s" + self.store.dialect.for_update,
                {"c": connector, "m": message_id},
            ).fetchone()
            if found is None:
                raise NotFound(
                    f"message {message_id} is not in {connector}'s backlog (sent or dropped already?)"
                )
            self.store.execute(
                cur,
                "DELETE FROM push_backlog WHERE connector = %(c)s AND message_id = %(m)s",
                {"c": connector, "m": message_id},
            )
            push_ts = self.store.dialect.from_db_required(found[1])
            row = PushRow(message_id, push_ts, found[2], found[3], found[4])
            dropped = LogEntry(row, Result.IGNORED, f"dropped from the backlog by {actor}")
            self.store.write_log(cur, connector, [dropped], now)
            self.store.audit(cur, now, actor, "drop_backlog_message", connector, message_id)

    # -- helpers ------------------------------------------------------------------------------

    def _page(self, rows: list[tuple[Any, ...]], keys: Sequence[str], limit: int) -> Page:
        d = self.store.dialect
        limit = _limit(limit)
        out = []
        for row in rows[:limit]:
            item = dict(zip(keys, row, strict=True))
            for key, value in item.items():
                if key.endswith("_ts") and value is not None:
                    item[key] = d.from_db(value)
            out.append(item)
        return Page(out, len(rows) > limit)


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE))


def _floor(ts: datetime, bucket: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1)
    return epoch + ((ts - epoch) // bucket) * bucket


def _overview_row(c: ConnectorStatus, now: datetime) -> dict[str, Any]:
    """Return a connector's status in the console's words (`attempts`, `backlog_oldest_ts`)."""
    return {
        "connector": c.connector,
        "state": c.state(now),
        "paused_reason": c.paused_reason,
        "paused_by": c.paused_by,
        "paused_ts": c.paused_ts,
        "backlog": c.backlog,
        "backlog_oldest_ts": c.oldest_ts,
        "attempts": c.backoff_attempts,
        "next_attempt_ts": c.next_attempt_ts if c.backing_off(now) else None,
        "last_error": c.last_error,
        "dead_letters": c.dead_letters,
        "last_success_ts": c.last_success_ts,
    }
