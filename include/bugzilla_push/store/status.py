"""The status of the queue and of each connector: what `status`, `check` and the console show."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bugzilla_push.store.records import ConnectorStatus, QueueStatus

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.store.session import Session


def queue_status(store: Session, connectors: Sequence[str] = ()) -> QueueStatus:
    """Read pending queue, backlogs, backoff, dead letters, the open batch and the last run."""
    d = store.dialect
    pending, oldest = store.query("SELECT COUNT(*), MIN(push_ts) FROM push")[0]
    states: dict[str, dict[str, Any]] = {c: {} for c in connectors}
    for name, depth, first_ts in store.query(
        "SELECT connector, COUNT(*), MIN(push_ts) FROM push_backlog GROUP BY connector"
    ):
        states.setdefault(name, {}).update(backlog=depth, oldest_ts=d.from_db(first_ts))
    for name, attempts, next_ts in store.query(
        "SELECT connector, attempts, next_attempt_ts FROM push_backoff"
    ):
        if attempts:
            states.setdefault(name, {}).update(backoff_attempts=attempts, next_attempt_ts=d.from_db(next_ts))
    for name, count in store.query("SELECT connector, COUNT(*) FROM push_dead_letter GROUP BY connector"):
        states.setdefault(name, {}).update(dead_letters=count)
    for name, error in store.query(
        "SELECT connector, last_error FROM push_backlog b WHERE last_error IS NOT NULL AND message_id = "
        "(SELECT MIN(message_id) FROM push_backlog o WHERE o.connector = b.connector)"
    ):
        states.setdefault(name, {}).update(last_error=error)
    for name, paused, reason, by, ts in store.query(
        "SELECT connector, paused, reason, changed_by, changed_ts FROM push_connector_state"
    ):
        pause = {"paused": True, "paused_reason": reason, "paused_by": by, "paused_ts": d.from_db(ts)}
        states.setdefault(name, {}).update(pause if paused else {})
    open_rows = store.query(
        "SELECT id, owner, created_ts, size, first_id, last_id FROM push_run WHERE open_slot = 1"
    )
    last_rows = store.query(
        "SELECT id, owner, created_ts, finished_ts, size, deleted FROM push_run WHERE state = 'done' "
        "ORDER BY id DESC LIMIT 1"
    )
    open_batch = last_run = None
    if open_rows:
        i, owner, created, size, first, last = open_rows[0]
        open_batch = {
            "id": i,
            "owner": owner,
            "created_ts": d.from_db(created),
            "size": size,
            "first_id": first,
            "last_id": last,
        }
    if last_rows:
        i, owner, created, finished, size, deleted = last_rows[0]
        per_connector = {
            name: {
                "state": state,
                "sent": sent,
                "ignored": ignored,
                "dead": dead,
                "held": held,
                "error": error,
            }
            for name, state, sent, ignored, dead, held, error in store.query(
                "SELECT connector, state, sent, ignored, dead, held, error FROM push_run_connector "
                "WHERE run_id = %(id)s ORDER BY connector",
                {"id": i},
            )
        }
        for name in per_connector:
            states.setdefault(name, {})
        last_run = {
            "id": i,
            "owner": owner,
            "created_ts": d.from_db(created),
            "finished_ts": d.from_db(finished),
            "size": size,
            "deleted": deleted,
            "connectors": per_connector,
        }
    for name, ts in store.query(
        "SELECT connector, MAX(sampled_ts) FROM push_stats WHERE sent > 0 GROUP BY connector"
    ):
        if name in states:
            states[name].update(last_success_ts=d.from_db(ts))
    dead_letters = [
        {"message_id": m, "connector": c, "routing_key": k, "reason": r, "failed_ts": d.from_db(ts)}
        for m, c, k, r, ts in store.query(
            "SELECT message_id, connector, routing_key, reason, failed_ts FROM push_dead_letter "
            "ORDER BY id DESC LIMIT 5"
        )
    ]
    return QueueStatus(
        recent_dead_letters=dead_letters,
        pending=pending,
        pending_oldest_ts=d.from_db(oldest),
        connectors={name: ConnectorStatus(name, **fields) for name, fields in sorted(states.items())},
        open_batch=open_batch,
        last_run=last_run,
    )
