"""Step 3 of a run: account for every connector, close the batch, and say which connectors failed it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bugzilla_push.reports import FinalizeReport
from bugzilla_push.self_pause import SELF
from bugzilla_push.store.records import Commit, Counts, RunState

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime

    from bugzilla_push.config import DeliveryConfig
    from bugzilla_push.store import Batch, Store

log = logging.getLogger(__name__)


def close_batch(
    store: Store, batch: Batch, clock: Callable[[], datetime], config: DeliveryConfig, sample: bool = True
) -> FinalizeReport:
    """Put what each unfinished connector did not reach into its backlog, then delete the batch's rows."""
    report = FinalizeReport(batch.id)
    if batch.is_empty:
        store.record_queue_stats(clock())
        return report
    if not store.batch_is_open(batch.id):
        report.already_closed = True
        return report
    for name in batch.connectors:
        if store.progress(batch.id, name).finished:
            continue
        with store.connector_lock(name, config.lock_timeout):
            progress = store.progress(batch.id, name)
            if progress.finished:
                continue
            after = progress.through_id if progress.through_id is not None else (batch.ranges.first or 1) - 1
            hold = batch.ranges.after(after)
            reason = (
                "not in this run's connectors" if name not in batch.selected else "delivery did not finish"
            )
            store.record(
                Commit(
                    name,
                    clock(),
                    hold=hold,
                    counts=Counts(held=len(hold)),
                    progress=(batch.id, batch.ranges.last, RunState.HELD),
                    error=reason,
                )
            )
            report.held[name] = len(hold)
            if hold:
                log.warning("%s: %s; %s rows kept in its backlog", name, reason, f"{len(hold):,}")
    report.deleted = store.close_batch(batch, clock(), archive=config.archive_days > 0)
    if sample:  # not for each segment a lingering run closes: its finalize samples the queue once
        store.record_queue_stats(clock())
    log.info("batch %d closed: %s rows delivered and removed from push", batch.id, f"{report.deleted:,}")
    return report


def judge_run(
    store: Store, batch: Batch, reports: Sequence[Mapping[str, Any] | None], report: FinalizeReport
) -> None:
    """Log what each connector did; list in `report` the selected ones that failed, or were paused."""
    delivered = {r["connector"]: r for r in reports if r}
    for name in batch.connectors:
        if done := delivered.get(name):
            log.info(
                "%s: %s, sent %d, ignored %d, dead-lettered %d, held %d, backlog %d",
                name,
                done["state"],
                done["sent"],
                done["ignored"],
                done["dead"],
                done["held"],
                done["backlog_left"],
            )
    for name in sorted(set(batch.selected) - delivered.keys()):
        state = store.connector_state(name)
        # Paused before this run: skipped on purpose. Paused by the engine during it: a failure to show.
        if state and state.paused and not (state.changed_by == SELF and state.changed_ts >= batch.created_ts):
            report.paused.append(name)
            log.warning("%s: paused; its messages wait in its backlog", name)
    report.failed = [c for c in batch.selected if c not in delivered and c not in report.paused]
