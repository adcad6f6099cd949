"""The delivery engine: decides ack, dead letter, backlog and backoff; the store and connectors act.

One run is three steps, each a task in the DAG:

1. :meth:`Engine.open_batch` fixes the rows of this run (or adopts an unfinished batch);
2. :meth:`Engine.deliver`, once per connector, under that connector's lock: backlog first
   (respecting backoff), then the batch's rows in push-id order, committing progress every chunk
   that wrote anything;
   at the first transient failure the rest of the batch goes into the connector's backlog;
3. :meth:`Engine.finalize` puts whatever a failed connector did not reach into its backlog,
   deletes the batch's rows from `push`, and says which connectors failed the run.

A live run may go on between steps 2 and 3 with more batches, one after another
(:mod:`bugzilla_push.linger`).

Connectors only send and classify (:class:`~bugzilla_push.connectors.base.Outcome`); the policy is
here: backlog, backoff, dead letters, stopping a connector-fatal connector, and self-pause
(:mod:`bugzilla_push.self_pause`).
"""

from __future__ import annotations

import logging
import random
import time
from typing import TYPE_CHECKING, Any

from bugzilla_push.attempts import Attempt, offer
from bugzilla_push.backoff import Backoff, next_backoff
from bugzilla_push.clock import utcnow
from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors.base import ConnectorFatal, redact
from bugzilla_push.finalize import close_batch, judge_run
from bugzilla_push.model import Result, bug_id_of_row, parse_message
from bugzilla_push.reports import DeliveryReport, DeliveryState, FinalizeReport
from bugzilla_push.self_pause import SELF, ConnectorPaused, FailureStreak
from bugzilla_push.store import Batch
from bugzilla_push.store.records import Commit, Counts, LogEntry, RunState
from bugzilla_push.store.replays import Replays

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime

    from bugzilla_push.connectors.base import Connector
    from bugzilla_push.model import PushRow
    from bugzilla_push.shared_batch import SharedBatch
    from bugzilla_push.store import Store
    from bugzilla_push.store.records import ConnectorState
    from bugzilla_push.store.replays import Selector

log = logging.getLogger(__name__)


class Engine:
    """Runs delivery against a store.

    :param store: the push tables
    :param config: batch and chunk sizes, backoff, limits
    :param clock: returns naive UTC "now" (tests move it)
    :param rng: jitter source (tests seed it)
    :param shared: the batch's rows as read and parsed for several connectors at once (group delivery)
    """

    def __init__(
        self,
        store: Store,
        config: DeliveryConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        shared: SharedBatch | None = None,
    ) -> None:
        self.store = store
        self.config = (config or DeliveryConfig()).validate()
        self.clock = clock
        self.rng = rng or random.Random()
        self.shared = shared

    # -- step 1 -------------------------------------------------------------------------------

    def open_batch(
        self, owner: str, connectors: Sequence[str], selected: Sequence[str] | None = None
    ) -> Batch:
        """Fix this run's rows: the oldest `batch_size` pending ids, or an unfinished batch."""
        chosen = list(selected) if selected else list(connectors)
        batch = self.store.open_batch(owner, self.config.batch_size, list(connectors), chosen, self.clock())
        verb = "adopted unfinished" if batch.adopted else "opened"
        span = f"ids {batch.ranges.first}–{batch.ranges.last}" if batch.ranges else "no pending rows"
        log.info(
            "%s batch %d: %s rows, %s; connectors %s",
            verb,
            batch.id,
            f"{batch.size:,}",
            span,
            ", ".join(batch.selected) or "none",
        )
        return batch

    def open_run(
        self,
        owner: str,
        connectors: Sequence[str],
        selected: Sequence[str] | None = None,
        replay: Selector | None = None,
        requested_by: str | None = None,
        backfill: bool = False,
    ) -> Batch:
        """Start a run: record the replay it asks for, then fix its rows (see :meth:`open_batch`).

        A backfill run takes no rows from `push`: its connectors work their backlogs and the replay
        of its data interval only. Raises :class:`~bugzilla_push.store.replays.ReplayError` for a
        replay that cannot be made.
        """
        chosen = list(selected or connectors)
        if replay is not None:
            replay_id = Replays(self.store).create(self.clock(), requested_by or owner, chosen, replay)
            log.info("replay #%d of %s to %s", replay_id, replay.describe(), ", ".join(chosen))
        if backfill:
            return Batch.empty(connectors, chosen, owner, self.clock())
        return self.open_batch(owner, connectors, chosen)

    # -- step 2 -------------------------------------------------------------------------------

    def deliver(self, batch: Batch, connector: Connector, sample: bool = True) -> DeliveryReport:
        """Deliver the connector's backlog, then the batch; see the module docstring.

        `sample`: record the delivery for the console's charts (a lingering run records its
        segments once, added up, with :meth:`sample`).
        """
        name = connector.name
        report = DeliveryReport(name, batch.id, first_id=batch.ranges.first, last_id=batch.ranges.last)
        started = time.monotonic()
        try:
            with self.store.connector_lock(name, self.config.lock_timeout):
                self._deliver_locked(batch, connector, report)
        finally:
            report.seconds = time.monotonic() - started
            if sample:
                self.sample(report)
        report.backlog_left = self.store.backlog_depth(name)
        return report

    def sample(self, report: DeliveryReport) -> None:
        """Record what this delivery did, for the console's charts (a failure here fails nothing)."""
        try:
            counts = Counts(report.sent, report.ignored, report.dead, report.held)
            self.store.record_stats(
                self.clock(),
                report.connector,
                report.state,
                counts,
                report.transient,
                int(report.seconds * 1000),
            )
        except Exception as exc:  # noqa: BLE001 - the delivery itself is committed either way
            log.warning("%s: could not record statistics: %s", report.connector, exc)

    def _deliver_locked(self, batch: Batch, connector: Connector, report: DeliveryReport) -> None:
        name = connector.name
        after: int | None = None  # where this connector resumes in the batch; None: no batch rows to deliver
        if not batch.is_empty:
            if not self.store.batch_is_open(batch.id):
                report.state = DeliveryState.BATCH_CLOSED  # another run finished this batch already
                return
            progress = self.store.progress(batch.id, name)
            if progress.finished:
                report.state = DeliveryState.ALREADY_DONE
                return
            after = progress.through_id if progress.through_id is not None else (batch.ranges.first or 1) - 1
        state = self.store.connector_state(name)
        if state is not None and state.paused:
            report.state, report.error = DeliveryState.PAUSED, state.reason
            if after is not None:
                self._hold(batch, name, after, report, blocked=_paused_because(state))
            return
        backoff = self.store.backoff(name)
        streak = FailureStreak(connector.pause_after, backoff.attempts)
        try:
            blocked, backoff = self._drain_backlog(connector, backoff, report, streak)
            if after is not None and blocked:
                self._hold(batch, name, after, report)
            elif after is not None:
                self._send_batch(batch, connector, after, backoff, report, streak)
            if not blocked and report.state != DeliveryState.BACKING_OFF:
                self._replay(connector, report, streak)  # live messages first; replays in slices after them
        except ConnectorFatal as exc:
            self._stop(batch, name, after, report, redact(str(exc)))
            if isinstance(exc, ConnectorPaused):
                self.store.set_paused(name, True, SELF, self.clock(), reason=report.error)
                report.state = DeliveryState.PAUSED
            raise

    def _stop(self, batch: Batch, name: str, after: int | None, report: DeliveryReport, error: str) -> None:
        """After a connector-fatal error: keep everything not accounted for, back off, say why.

        Backing off means an operator's fix is picked up on a later run without hammering a broken
        destination every minute. The first waiting message gets a TRANSIENT log row with the error.
        """
        report.state, report.error = DeliveryState.FAILED, error
        now = self.clock()
        commit = Commit(
            name, now, error=error, backoff=next_backoff(self.store.backoff(name), now, self.config, self.rng)
        )
        head = self.store.backlog_rows(name, 1)
        if after is not None:
            done = self.store.progress(batch.id, name)
            if not done.finished:
                resume = done.through_id if done.through_id is not None else after
                commit.hold = batch.ranges.after(resume)
                commit.counts = Counts(held=len(commit.hold))
                commit.progress = (batch.id, batch.ranges.last, RunState.HELD)
                head = head or self.store.batch_rows(batch, resume, 1)
        if head:
            commit.failed = (head[0].id, error)
            commit.logs = [LogEntry(head[0], Result.TRANSIENT, f"connector-fatal: {error}")]
        self._record(commit, report)

    def _chunk(self, connector: Connector) -> int:
        return connector.chunk_size or self.config.chunk_size

    def _offer(self, connector: Connector, rows: Sequence[PushRow], streak: FailureStreak) -> Attempt:
        return offer(
            connector,
            rows,
            streak,
            self.config.max_payload_bytes,
            lambda: self.store.backlog_error(connector.name),
            self.shared.message if self.shared else parse_message,
        )

    def _batch_rows(self, batch: Batch, after: int, limit: int) -> list[PushRow]:
        if self.shared is not None:
            return self.shared.rows(self.store, batch, after, limit)
        return self.store.batch_rows(batch, after, limit)

    def _replay(self, connector: Connector, report: DeliveryReport, streak: FailureStreak) -> None:
        """Send a slice of the connector's replays: archived messages, in their original order.

        A replayed message that fails is only logged (it was delivered or dead-lettered the first
        time); a transient failure ends this run's slice where it happened.
        """
        replays, budget = Replays(self.store), self.config.replay_batch
        for job in replays.active(connector.name):
            after = job.through_id or 0
            while budget > 0:
                rows = replays.rows(job.selector, after, min(self._chunk(connector), budget))
                if not rows:
                    replays.record(
                        job, self.clock(), job.through_id if after == 0 else after, 0, [], done=True
                    )
                    break
                budget -= len(rows)
                wanted = [r for r in rows if _about_bugs(r, job.selector.bug_ids)]
                attempt = self._offer(connector, wanted, streak) if wanted else Attempt()
                stop = attempt.stopped_at
                through = rows[-1].id if stop is None else _before(rows, stop, after)
                replays.record(
                    job,
                    self.clock(),
                    through,
                    attempt.counts.sent,
                    attempt.logs,
                    done=False,
                    error=attempt.stop_reason if stop is not None else None,
                )
                report.replayed += attempt.counts.sent
                if attempt.fatal is not None:
                    raise attempt.fatal
                if stop is not None:
                    return
                after = through
            if budget <= 0:
                return

    def _drain_backlog(
        self, connector: Connector, backoff: Backoff, report: DeliveryReport, streak: FailureStreak
    ) -> tuple[bool, Backoff]:
        """Send the backlog oldest first. Return (still blocked, backoff state)."""
        name = connector.name
        if not self.store.backlog_rows(name, 1):
            return False, backoff
        if backoff.active(self.clock()):
            report.state = DeliveryState.BACKING_OFF
            report.next_attempt_ts = backoff.next_attempt_ts.isoformat() if backoff.next_attempt_ts else None
            return True, backoff
        while rows := self.store.backlog_rows(name, self._chunk(connector)):
            attempt = self._offer(connector, rows, streak)
            commit = Commit(
                name,
                self.clock(),
                logs=attempt.logs,
                dead=attempt.dead,
                backlog_done=attempt.done_ids,
                counts=attempt.counts,
            )
            if attempt.fatal is not None:
                self._record(commit, report, from_backlog=True)  # what the destination answered first
                raise attempt.fatal
            if attempt.stopped_at is not None:
                commit.failed = (attempt.stopped_at.id, attempt.stop_reason or "transient failure")
                commit.backoff = backoff = next_backoff(backoff, commit.now, self.config, self.rng)
                self._record(commit, report, from_backlog=True, blocked_by=commit.backoff)
                return True, backoff
            if backoff.attempts:
                commit.backoff = backoff = Backoff()  # a success resets the backoff
            self._record(commit, report, from_backlog=True)
        return False, backoff

    def _send_batch(
        self,
        batch: Batch,
        connector: Connector,
        after: int,
        backoff: Backoff,
        report: DeliveryReport,
        streak: FailureStreak,
    ) -> None:
        name = connector.name
        # A chunk that wrote nothing (every row filtered out, unlogged) commits no progress of its
        # own: its counts and position go with the next commit. After a crash such rows are only
        # filtered again, so hundreds of webhooks cost no transaction per chunk each for nothing.
        quiet, quiet_through = Counts(), None
        while rows := self._batch_rows(batch, after, self._chunk(connector)):
            attempt = self._offer(connector, rows, streak)
            commit = Commit(
                name, self.clock(), logs=attempt.logs, dead=attempt.dead, counts=attempt.counts + quiet
            )
            if attempt.fatal is not None:
                accounted = (
                    [r.id for r in rows[: rows.index(attempt.stopped_at)]] if attempt.stopped_at else []
                )
                if accounted:  # what the destination answered before the error
                    commit.progress = (batch.id, accounted[-1], RunState.DELIVERING)
                    self._record(commit, report)
                elif quiet_through is not None:
                    progress = (batch.id, quiet_through, RunState.DELIVERING)
                    self._record(Commit(name, commit.now, counts=quiet, progress=progress), report)
                raise attempt.fatal
            if attempt.stopped_at is not None:
                failed = attempt.stopped_at
                commit.hold = batch.ranges.after(failed.id - 1)
                commit.failed = (failed.id, attempt.stop_reason or "transient failure")
                commit.backoff = next_backoff(backoff, commit.now, self.config, self.rng)
                commit.progress = (batch.id, batch.ranges.last, RunState.DONE)
                commit.counts = commit.counts + Counts(held=len(commit.hold))
                self._record(commit, report, blocked_by=commit.backoff)
                return
            if backoff.attempts:
                commit.backoff = backoff = Backoff()
            after = rows[-1].id
            if not (commit.logs or commit.dead or commit.backoff is not None):
                quiet, quiet_through = commit.counts, after
                continue
            quiet, quiet_through = Counts(), None
            commit.progress = (batch.id, after, RunState.DELIVERING)
            self._record(commit, report)
        done = (batch.id, batch.ranges.last, RunState.DONE)
        self._record(Commit(name, self.clock(), counts=quiet, progress=done), report)

    def _hold(
        self, batch: Batch, name: str, after: int, report: DeliveryReport, blocked: str | None = None
    ) -> None:
        """Queue the batch's rows after `after` behind the connector's backlog, unsent.

        `blocked` (a paused connector) logs each of them as BLOCKED with that reason.
        """
        hold = batch.ranges.after(after)
        commit = Commit(
            name,
            self.clock(),
            hold=hold,
            blocked=blocked,
            counts=Counts(held=len(hold)),
            progress=(batch.id, batch.ranges.last, RunState.DONE),
        )
        if report.state == DeliveryState.DONE:
            report.state = DeliveryState.BLOCKED
        self._record(commit, report)

    def _record(
        self,
        commit: Commit,
        report: DeliveryReport,
        from_backlog: bool = False,
        blocked_by: Backoff | None = None,
    ) -> None:
        self.store.record(commit)
        report.add(commit.counts, from_backlog)
        if blocked_by is not None:
            report.state = DeliveryState.BACKING_OFF
            report.transient += 1
            report.error = commit.failed[1] if commit.failed else None
            ts = blocked_by.next_attempt_ts
            report.next_attempt_ts = ts.isoformat() if ts else None

    # -- step 3 -------------------------------------------------------------------------------

    def finalize(
        self,
        batch: Batch,
        reports: Sequence[Mapping[str, Any] | None] | None = None,
        closing: Batch | None = None,
        sample: bool = True,
    ) -> FinalizeReport:
        """Account for every connector, delete the batch's rows from `push`, and judge the run.

        `reports` are what the run's deliveries returned (:meth:`DeliveryReport.to_dict`; None for
        one that raised or was skipped). A selected connector without one failed the run
        (:attr:`FinalizeReport.failed`), unless it was paused before the run started: skipped on
        purpose. One the engine paused during the run did fail. Without `reports` nothing is judged.
        `closing`: the batch to close instead, when the run went on past `batch`
        (:mod:`bugzilla_push.linger`); the run is still judged by its first batch's connectors.
        """
        report = close_batch(self.store, closing or batch, self.clock, self.config, sample)
        if reports is not None:
            judge_run(self.store, batch, reports, report)
        return report


def _before(rows: Sequence[PushRow], stop: PushRow, start: int) -> int:
    """Return the id of the row just before `stop` in `rows`, or `start` if `stop` is the first."""
    index = rows.index(stop)
    return rows[index - 1].id if index else start


def _about_bugs(row: PushRow, bug_ids: Sequence[int]) -> bool:
    """Whether a replay candidate is about one of the bugs (no bug ids: every candidate is)."""
    return not bug_ids or bug_id_of_row(row) in bug_ids


def _paused_because(state: ConnectorState) -> str:
    """Say who paused the connector and why, for the BLOCKED log rows of the messages it holds."""
    why = f": {state.reason}" if state.reason else ""
    return f"connector paused by {state.changed_by}{why}"
