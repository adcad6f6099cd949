"""The delivery engine: decides ack, dead letter, backlog and backoff; the store and connectors act.

One run is three steps, each a task in the DAG:

1. :meth:`Engine.open_batch` fixes the rows of this run (or adopts an unfinished batch);
2. :meth:`Engine.deliver`, once per connector, under that connector's lock: backlog first
   (respecting backoff), then the batch's rows in push-id order, committing progress every chunk;
   at the first transient failure the rest of the batch goes into the connector's backlog;
3. :meth:`Engine.finalize` puts whatever a failed connector did not reach into its backlog, then
   deletes the batch's rows from `push`.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bugzilla_push.backoff import Backoff, next_backoff
from bugzilla_push.clock import utcnow
from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors.base import ConnectorFatal, ConnectorPaused, Outcome, redact
from bugzilla_push.model import InvalidMessage, Result, bug_id_of_row, parse_message
from bugzilla_push.reports import DeliveryReport, FinalizeReport
from bugzilla_push.store.records import (
    PROGRESS_DELIVERING,
    PROGRESS_DONE,
    PROGRESS_HELD,
    Commit,
    Counts,
    LogEntry,
)
from bugzilla_push.store.replays import Replays

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from bugzilla_push.connectors.base import Connector
    from bugzilla_push.model import PushRow
    from bugzilla_push.store import Batch, Store
    from bugzilla_push.store.records import ConnectorState

log = logging.getLogger(__name__)

SELF = "bugzilla-push"  # the actor recorded when a connector pauses itself

# Outcomes after which nothing more is sent: the message and all after it wait in the backlog.
RETRY_LATER = frozenset({Result.TRANSIENT, Result.UNKNOWN, Result.BLOCKED})


def connector_lock(name: str) -> str:
    return f"connector:{name}"


@dataclass
class _Attempt:
    """The outcome of offering some rows to a connector: what to log, and where it stopped."""

    logs: list[LogEntry] = field(default_factory=list)
    dead: list[tuple[PushRow, str]] = field(default_factory=list)
    done_ids: list[int] = field(default_factory=list)
    counts: Counts = Counts()
    stopped_at: PushRow | None = None
    stop_reason: str | None = None
    fatal: ConnectorFatal | None = None  # set: the connector must stop; rows from stopped_at wait


class Engine:
    """Runs delivery against a store.

    :param store: the push tables
    :param config: batch and chunk sizes, backoff, limits
    :param clock: returns naive UTC "now" (tests move it)
    :param rng: jitter source (tests seed it)
    """

    def __init__(
        self,
        store: Store,
        config: DeliveryConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.config = (config or DeliveryConfig()).validate()
        self.clock = clock
        self.rng = rng or random.Random()

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

    # -- step 2 -------------------------------------------------------------------------------

    def deliver(self, batch: Batch, connector: Connector) -> DeliveryReport:
        """Deliver the connector's backlog, then the batch; see the module docstring."""
        name = connector.name
        report = DeliveryReport(name, batch.id, first_id=batch.ranges.first, last_id=batch.ranges.last)
        started = time.monotonic()
        try:
            with self.store.lock(connector_lock(name), self.config.lock_timeout):
                self._deliver_locked(batch, connector, report)
        finally:
            report.seconds = time.monotonic() - started
            self._sample(report)
        report.backlog_left = self.store.backlog_depth(name)
        return report

    def _sample(self, report: DeliveryReport) -> None:
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
                report.state = "batch_closed"  # another run finished this batch already
                return
            progress = self.store.progress(batch.id, name)
            if progress.finished:
                report.state = "already_done"
                return
            after = progress.through_id if progress.through_id is not None else (batch.ranges.first or 1) - 1
        state = self.store.connector_state(name)
        if state is not None and state.paused:
            report.state, report.error = "paused", state.reason
            if after is not None:
                self._hold(batch, name, after, report, blocked=_paused_because(state))
            return
        backoff = self.store.backoff(name)
        connector.observe_backoff(backoff.attempts)
        try:
            blocked, backoff = self._drain_backlog(connector, backoff, report)
            if after is not None and blocked:
                self._hold(batch, name, after, report)
            elif after is not None:
                self._send_batch(batch, connector, after, backoff, report)
            if not blocked and report.state != "backing_off":
                self._replay(connector, report)  # live messages first; replays in slices after them
        except ConnectorFatal as exc:
            self._stop(batch, name, after, report, redact(str(exc)))
            if isinstance(exc, ConnectorPaused):
                self.store.set_paused(name, True, SELF, self.clock(), reason=report.error)
                report.state = "paused"
            raise

    def _stop(self, batch: Batch, name: str, after: int | None, report: DeliveryReport, error: str) -> None:
        """After a connector-fatal error: keep everything not accounted for, back off, say why.

        Backing off means an operator's fix is picked up on a later run without hammering a broken
        destination every minute. The first waiting message gets a TRANSIENT log row with the error.
        """
        report.state, report.error = "failed", error
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
                commit.progress = (batch.id, batch.ranges.last, PROGRESS_HELD)
                head = head or self.store.batch_rows(batch, resume, 1)
        if head:
            commit.failed = (head[0].id, error)
            commit.logs = [LogEntry(head[0], Result.TRANSIENT, f"connector-fatal: {error}")]
        self._record(commit, report)

    def _chunk(self, connector: Connector) -> int:
        return connector.chunk_size or self.config.chunk_size

    def _replay(self, connector: Connector, report: DeliveryReport) -> None:
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
                attempt = self._attempt(connector, wanted) if wanted else _Attempt()
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
        self, connector: Connector, backoff: Backoff, report: DeliveryReport
    ) -> tuple[bool, Backoff]:
        """Send the backlog oldest first. Return (still blocked, backoff state)."""
        name = connector.name
        if not self.store.backlog_rows(name, 1):
            return False, backoff
        if backoff.active(self.clock()):
            report.state = "backing_off"
            report.next_attempt_ts = backoff.next_attempt_ts.isoformat() if backoff.next_attempt_ts else None
            return True, backoff
        while rows := self.store.backlog_rows(name, self._chunk(connector)):
            attempt = self._attempt(connector, rows)
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
        self, batch: Batch, connector: Connector, after: int, backoff: Backoff, report: DeliveryReport
    ) -> None:
        name = connector.name
        while rows := self.store.batch_rows(batch, after, self._chunk(connector)):
            attempt = self._attempt(connector, rows)
            commit = Commit(name, self.clock(), logs=attempt.logs, dead=attempt.dead, counts=attempt.counts)
            if attempt.fatal is not None:
                accounted = (
                    [r.id for r in rows[: rows.index(attempt.stopped_at)]] if attempt.stopped_at else []
                )
                if accounted:  # what the destination answered before the error
                    commit.progress = (batch.id, accounted[-1], PROGRESS_DELIVERING)
                    self._record(commit, report)
                raise attempt.fatal
            if attempt.stopped_at is not None:
                failed = attempt.stopped_at
                commit.hold = batch.ranges.after(failed.id - 1)
                commit.failed = (failed.id, attempt.stop_reason or "transient failure")
                commit.backoff = next_backoff(backoff, commit.now, self.config, self.rng)
                commit.progress = (batch.id, batch.ranges.last, PROGRESS_DONE)
                commit.counts = commit.counts + Counts(held=len(commit.hold))
                self._record(commit, report, blocked_by=commit.backoff)
                return
            if backoff.attempts:
                commit.backoff = backoff = Backoff()
            after = rows[-1].id
            commit.progress = (batch.id, after, PROGRESS_DELIVERING)
            self._record(commit, report)
        self._record(
            Commit(name, self.clock(), progress=(batch.id, batch.ranges.last, PROGRESS_DONE)), report
        )

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
            progress=(batch.id, batch.ranges.last, PROGRESS_DONE),
        )
        if report.state == "done":
            report.state = "blocked"
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
            report.state = "backing_off"
            report.transient += 1
            report.error = commit.failed[1] if commit.failed else None
            ts = blocked_by.next_attempt_ts
            report.next_attempt_ts = ts.isoformat() if ts else None

    def _attempt(self, connector: Connector, rows: Sequence[PushRow]) -> _Attempt:
        """Validate, filter and send `rows` (in order) and classify what happened to each."""
        outcomes: list[Outcome | None] = [None] * len(rows)
        to_send = []
        for i, row in enumerate(rows):
            try:
                message = parse_message(row, self.config.max_payload_bytes)
            except InvalidMessage as exc:
                outcomes[i] = Outcome(Result.ERROR, f"invalid message: {exc}")
                continue
            if connector.should_send(message):
                to_send.append((i, message))
            else:
                outcomes[i] = Outcome(Result.IGNORED)
        fatal = None
        if to_send:
            try:
                answers = self._send(connector, [m for _, m in to_send])
            except ConnectorFatal as exc:
                fatal, answers = exc, exc.outcomes
            for (i, _), outcome in zip(to_send, answers, strict=False):
                outcomes[i] = outcome
        attempt = self._classify(rows, outcomes, quiet_stop=fatal is not None)
        attempt.fatal = fatal
        return attempt

    def _send(self, connector: Connector, messages: list[Any]) -> list[Outcome]:
        try:
            outcomes = connector.send(messages)
        except ConnectorFatal:
            raise
        except Exception as exc:  # noqa: BLE001 - BMO's rule: an exception is a transient failure
            log.warning("%s raised %s; treating it as transient", connector.name, type(exc).__name__)
            return [Outcome(Result.TRANSIENT, redact(f"{type(exc).__name__}: {exc}"))]
        if len(outcomes) > len(messages):
            raise RuntimeError(
                f"{connector.name} returned {len(outcomes)} outcomes for {len(messages)} messages"
            )
        if len(outcomes) < len(messages) and (not outcomes or outcomes[-1].result not in RETRY_LATER):
            # The contract says a short answer ends with a transient outcome; anything else is a
            # connector bug, and the safe reading of it is "not sent yet".
            outcomes = [*outcomes, Outcome(Result.UNKNOWN, "connector returned no outcome")]
        return outcomes

    def _classify(
        self, rows: Sequence[PushRow], outcomes: list[Outcome | None], quiet_stop: bool = False
    ) -> _Attempt:
        """Account for rows in order up to the first that must wait (logged unless `quiet_stop`)."""
        attempt = _Attempt()
        sent_n = ignored = dead = 0
        logs, done, dead_letters = attempt.logs, attempt.done_ids, attempt.dead
        ok, skipped = Result.OK, Result.IGNORED  # identity tests: an IntEnum hashes in Python, slowly
        for row, outcome in zip(rows, outcomes, strict=True):
            result = outcome.result if outcome is not None else None
            if result is ok:
                sent_n += 1
            elif result is skipped:
                ignored += 1
            elif result is Result.ERROR:
                dead += 1
                dead_letters.append((row, outcome.detail or "permanent error"))
            else:
                # TRANSIENT, UNKNOWN, BLOCKED or no answer: it and everything after it wait.
                outcome = outcome or Outcome(Result.UNKNOWN, "connector returned no outcome")
                if not quiet_stop:
                    logs.append(LogEntry(row, outcome.result, outcome.detail))
                attempt.stopped_at, attempt.stop_reason = row, outcome.detail or outcome.result.name.lower()
                break
            logs.append(LogEntry(row, result, outcome.detail))
            done.append(row.id)
        attempt.counts = Counts(sent=sent_n, ignored=ignored, dead=dead)
        return attempt

    # -- step 3 -------------------------------------------------------------------------------

    def finalize(self, batch: Batch) -> FinalizeReport:
        """Account for every connector, then delete the batch's rows from `push`."""
        report = FinalizeReport(batch.id)
        if batch.is_empty:
            self.store.record_queue_stats(self.clock())
            return report
        if not self.store.batch_is_open(batch.id):
            report.already_closed = True
            return report
        for name in batch.connectors:
            if self.store.progress(batch.id, name).finished:
                continue
            with self.store.lock(connector_lock(name), self.config.lock_timeout):
                progress = self.store.progress(batch.id, name)
                if progress.finished:
                    continue
                after = (
                    progress.through_id if progress.through_id is not None else (batch.ranges.first or 1) - 1
                )
                hold = batch.ranges.after(after)
                reason = (
                    "not in this run's connectors"
                    if name not in batch.selected
                    else "delivery did not finish"
                )
                self.store.record(
                    Commit(
                        name,
                        self.clock(),
                        hold=hold,
                        counts=Counts(held=len(hold)),
                        progress=(batch.id, batch.ranges.last, PROGRESS_HELD),
                        error=reason,
                    )
                )
                report.held[name] = len(hold)
                if hold:
                    log.warning("%s: %s; %s rows kept in its backlog", name, reason, f"{len(hold):,}")
        report.deleted = self.store.close_batch(batch, self.clock(), archive=self.config.archive_days > 0)
        self.store.record_queue_stats(self.clock())
        log.info("batch %d closed: %s rows delivered and removed from push", batch.id, f"{report.deleted:,}")
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
