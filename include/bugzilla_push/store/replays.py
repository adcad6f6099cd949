"""Replays: archived messages sent again, in their original order, to chosen connectors.

An operator (or an Airflow backfill) asks for a replay by time window, bug ids or push ids; each
connector works through it in slices after its live delivery, remembering how far it got, so a
long replay never holds live messages up for more than one slice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bugzilla_push.errors import BugzillaPushError
from bugzilla_push.model import PushRow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.store.base import Store
    from bugzilla_push.store.records import LogEntry

MAX_IDS = 10_000  # bug ids or push ids in one replay


class ReplayError(BugzillaPushError, ValueError):
    """A replay request that cannot be carried out; the message says what to change."""


@dataclass(frozen=True)
class Selector:
    """Which archived messages to replay: all the given conditions must hold.

    :param since: push time at or after (UTC)
    :param until: push time before (UTC)
    :param bug_ids: messages about these bugs
    :param push_ids: exactly these messages
    """

    since: datetime | None = None
    until: datetime | None = None
    bug_ids: tuple[int, ...] = field(default_factory=tuple)
    push_ids: tuple[int, ...] = field(default_factory=tuple)

    def validate(self) -> Selector:
        if not (self.since or self.until or self.bug_ids or self.push_ids):
            raise ReplayError("a replay needs a time window, bug ids or push ids")
        if self.since and self.until and self.since >= self.until:
            raise ReplayError(f"the replay window is empty: {self.since} is not before {self.until}")
        if len(self.bug_ids) > MAX_IDS or len(self.push_ids) > MAX_IDS:
            raise ReplayError(f"at most {MAX_IDS:,} bug ids or push ids in one replay")
        return self

    def to_json(self) -> str:
        return json.dumps(
            {
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "bug_ids": list(self.bug_ids),
                "push_ids": list(self.push_ids),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Selector:
        raw = json.loads(text)
        return cls(
            since=datetime.fromisoformat(raw["since"]) if raw.get("since") else None,
            until=datetime.fromisoformat(raw["until"]) if raw.get("until") else None,
            bug_ids=tuple(raw.get("bug_ids") or ()),
            push_ids=tuple(raw.get("push_ids") or ()),
        )

    def describe(self) -> str:
        parts = []
        if self.since or self.until:
            parts.append(f"pushed {self.since or '…'} to {self.until or '…'}")
        if self.bug_ids:
            parts.append(
                f"bugs {', '.join(map(str, self.bug_ids[:10]))}{'…' if len(self.bug_ids) > 10 else ''}"
            )
        if self.push_ids:
            parts.append(f"{len(self.push_ids):,} push ids")
        return "; ".join(parts)


@dataclass(frozen=True)
class ReplayJob:
    """A replay still to do for one connector, and how far that connector got."""

    id: int
    connector: str
    selector: Selector
    through_id: int | None


class Replays:
    """Replay requests and their progress (`push_replay`, `push_replay_connector`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, now: datetime, actor: str, connectors: Sequence[str], selector: Selector) -> int:
        """Record a replay request for the connectors; return its id."""
        selector.validate()
        if not connectors:
            raise ReplayError("a replay needs at least one connector")
        d = self.store.dialect
        with self.store.transaction() as cur:
            replay_id = d.insert_returning_id(
                cur,
                "INSERT INTO push_replay (created_ts, requested_by, connectors, selector, state) "
                "VALUES (%(now)s, %(actor)s, %(connectors)s, %(selector)s, 'active')",
                {
                    "now": d.to_db(now),
                    "actor": actor[:250],
                    "connectors": json.dumps(list(connectors)),
                    "selector": selector.to_json(),
                },
            )
            d.bulk_insert(
                cur,
                "push_replay_connector",
                ("replay_id", "connector", "state", "through_id", "sent", "error", "updated_ts"),
                [(replay_id, c, "active", None, 0, None, d.to_db(now)) for c in connectors],
            )
            self.store.audit(
                cur,
                now,
                actor,
                "replay",
                None,
                None,
                f"#{replay_id} to {', '.join(connectors)}: {selector.describe()}",
            )
        return replay_id

    def active(self, connector: str) -> list[ReplayJob]:
        rows = self.store.query(
            "SELECT r.id, r.selector, c.through_id FROM push_replay r JOIN push_replay_connector c "
            "ON c.replay_id = r.id WHERE c.connector = %(c)s AND c.state = 'active' ORDER BY r.id",
            {"c": connector},
        )
        return [ReplayJob(i, connector, Selector.from_json(sel), through) for i, sel, through in rows]

    def rows(self, selector: Selector, after_id: int, limit: int) -> list[PushRow]:
        """Read the archived rows the selector picks, after `after_id`, oldest first.

        Bug ids are only narrowed down here (by the payload's text); the engine checks each
        candidate's bug id after decoding it.
        """
        d = self.store.dialect
        clauses = ["message_id > %(after)s"]
        params: dict[str, Any] = {"after": after_id, "n": limit}
        if selector.since:
            clauses.append("push_ts >= %(since)s")
            params["since"] = d.to_db(selector.since)
        if selector.until:
            clauses.append("push_ts < %(until)s")
            params["until"] = d.to_db(selector.until)
        if selector.push_ids:
            clauses.append(f"message_id IN ({', '.join(str(int(i)) for i in selector.push_ids)})")
        if selector.bug_ids:
            likes = " OR ".join(
                f"REPLACE(payload, ' ', '') LIKE %(b{n})s" for n in range(len(selector.bug_ids))
            )
            clauses.append(f"({likes})")
            params.update({f"b{n}": f'%"id":{int(b)}%' for n, b in enumerate(selector.bug_ids)})
        rows = self.store.query(
            "SELECT message_id, push_ts, payload, change_set, routing_key FROM push_archive "
            f"WHERE {' AND '.join(clauses)} ORDER BY message_id LIMIT %(n)s",
            params,
        )
        return [PushRow(r[0], d.from_db_required(r[1]), r[2], r[3], r[4]) for r in rows]

    def record(
        self,
        job: ReplayJob,
        now: datetime,
        through_id: int | None,
        sent: int,
        logs: list[LogEntry],
        done: bool,
        error: str | None = None,
    ) -> None:
        """Save a connector's progress through a replay, with the log of what it sent, at once."""
        d = self.store.dialect
        with self.store.transaction() as cur:
            if logs:
                marked = [
                    e._replace(data=f"replay #{job.id}" + (f": {e.data}" if e.data else "")) for e in logs
                ]
                self.store.write_log(cur, job.connector, marked, now)
            self.store.execute(
                cur,
                "UPDATE push_replay_connector SET through_id = %(through)s, sent = sent + %(sent)s, "
                "state = %(state)s, error = %(error)s, updated_ts = %(now)s "
                "WHERE replay_id = %(id)s AND connector = %(c)s",
                {
                    "through": through_id,
                    "sent": sent,
                    "state": "done" if done else "active",
                    "error": error,
                    "now": d.to_db(now),
                    "id": job.id,
                    "c": job.connector,
                },
            )
            if done:
                self.store.execute(
                    cur,
                    "UPDATE push_replay SET state = 'done', finished_ts = %(now)s WHERE id = %(id)s "
                    "AND NOT EXISTS (SELECT 1 FROM push_replay_connector "
                    "WHERE replay_id = %(id)s AND state = 'active')",
                    {"now": d.to_db(now), "id": job.id},
                )

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """List the latest replays with each connector's progress, newest first."""
        d = self.store.dialect
        jobs = self.store.query(
            "SELECT id, created_ts, requested_by, selector, state, finished_ts FROM push_replay "
            "ORDER BY id DESC LIMIT %(n)s",
            {"n": limit},
        )
        out = []
        for i, created, actor, selector, state, finished in jobs:
            progress = self.store.query(
                "SELECT connector, state, through_id, sent, error FROM push_replay_connector "
                "WHERE replay_id = %(i)s ORDER BY connector",
                {"i": i},
            )
            out.append(
                {
                    "id": i,
                    "created_ts": d.from_db(created),
                    "requested_by": actor,
                    "state": state,
                    "finished_ts": d.from_db(finished),
                    "selector": Selector.from_json(selector).describe(),
                    "connectors": [
                        dict(zip(("connector", "state", "through_id", "sent", "error"), p, strict=True))
                        for p in progress
                    ],
                }
            )
        return out
