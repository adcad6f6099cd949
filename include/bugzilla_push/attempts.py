"""One offer of rows to a connector: validate, filter, send, and classify what happened (no store).

The engine (:mod:`bugzilla_push.engine`) decides what to do with an :class:`Attempt`: commit it,
back off, hold the rest, or stop the connector.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bugzilla_push.connectors.base import ConnectorFatal, Outcome, raise_if_fatal, redact
from bugzilla_push.model import InvalidMessage, Result, parse_message
from bugzilla_push.self_pause import ConnectorPaused
from bugzilla_push.store.records import Counts, LogEntry

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bugzilla_push.connectors.base import Connector
    from bugzilla_push.model import PushMessage, PushRow
    from bugzilla_push.self_pause import FailureStreak

log = logging.getLogger(__name__)

# Outcomes after which nothing more is sent: the message and all after it wait in the backlog.
RETRY_LATER = frozenset({Result.TRANSIENT, Result.UNKNOWN, Result.BLOCKED})
# The outcome of a message `should_send` turned down; told apart by identity (see `classify`).
FILTERED = Outcome.ignored()


@dataclass
class Attempt:
    """The outcome of offering some rows to a connector: what to log, and where it stopped."""

    logs: list[LogEntry] = field(default_factory=list)
    dead: list[tuple[PushRow, str]] = field(default_factory=list)
    done_ids: list[int] = field(default_factory=list)
    counts: Counts = Counts()
    stopped_at: PushRow | None = None
    stop_reason: str | None = None
    fatal: ConnectorFatal | None = None  # set: the connector must stop; rows from stopped_at wait


def offer(
    connector: Connector,
    rows: Sequence[PushRow],
    streak: FailureStreak,
    max_payload_bytes: int,
    last_error: Callable[[], str | None],
    parse: Callable[[PushRow, int], PushMessage] = parse_message,
) -> Attempt:
    """Validate, filter and send `rows` (in order) and classify what happened to each.

    :param last_error: what held the connector up, for the reason of a self-pause
    :param parse: validates a row (a :class:`~bugzilla_push.shared_batch.SharedBatch` parses once)
    """
    outcomes: list[Outcome | None] = [None] * len(rows)
    to_send = []
    for i, row in enumerate(rows):
        try:
            message = parse(row, max_payload_bytes)
        except InvalidMessage as exc:
            outcomes[i] = Outcome.rejected(f"invalid message: {exc}")
            continue
        if connector.should_send(message):
            to_send.append((i, message))
        else:
            outcomes[i] = FILTERED
    fatal = None
    if to_send:
        try:
            answers = send(connector, [m for _, m in to_send], streak, last_error)
        except ConnectorFatal as exc:
            fatal, answers = exc, exc.outcomes
        for (i, _), outcome in zip(to_send, answers, strict=False):
            outcomes[i] = outcome
    attempt = classify(rows, outcomes, quiet_stop=fatal is not None, log_filtered=connector.log_filtered)
    attempt.fatal = fatal
    return attempt


def send(
    connector: Connector,
    messages: Sequence[PushMessage],
    streak: FailureStreak,
    last_error: Callable[[], str | None],
) -> list[Outcome]:
    """Offer `messages` to the connector, minding its self-pause setting (:mod:`self_pause`).

    With a limit, the connector gets at most as many messages per call as may still fail before the
    limit is reached, so the rest can be held back in time. Raises :class:`ConnectorFatal` (with the
    outcomes before it) for a connector-fatal answer, and :class:`ConnectorPaused` to pause it.
    """
    if not streak.limit:
        return send_once(connector, messages)
    if streak.pause_due:
        raise ConnectorPaused(streak.pause_reason(connector, last_error()))
    outcomes: list[Outcome] = []
    while len(outcomes) < len(messages):
        if streak.room <= 0:
            return [*outcomes, streak.hold_back()]
        part = messages[len(outcomes) : len(outcomes) + streak.room]
        try:
            answers = send_once(connector, part)
        except ConnectorFatal as exc:
            exc.outcomes = [*outcomes, *exc.outcomes]
            raise
        streak.add(answers)
        outcomes += answers
        if len(answers) < len(part) or any(a.result in RETRY_LATER for a in answers):
            break
    return outcomes


def send_once(connector: Connector, messages: Sequence[PushMessage]) -> list[Outcome]:
    """Call the connector's `send` once and hold it to the contract (see :class:`Connector`)."""
    try:
        outcomes = raise_if_fatal(connector.send(messages))
    except ConnectorFatal:
        raise
    except Exception as exc:  # noqa: BLE001 - BMO's rule: an exception is a transient failure
        log.warning("%s raised %s; treating it as transient", connector.name, type(exc).__name__)
        return [Outcome.transient(redact(f"{type(exc).__name__}: {exc}"))]
    if len(outcomes) > len(messages):
        raise RuntimeError(f"{connector.name} returned {len(outcomes)} outcomes for {len(messages)} messages")
    if len(outcomes) < len(messages) and (not outcomes or outcomes[-1].result not in RETRY_LATER):
        # The contract says a short answer ends with a transient outcome; anything else is a
        # connector bug, and the safe reading of it is "not sent yet".
        outcomes = [*outcomes, Outcome.unknown("connector returned no outcome")]
    return outcomes


def classify(
    rows: Sequence[PushRow],
    outcomes: list[Outcome | None],
    quiet_stop: bool = False,
    log_filtered: bool = True,
) -> Attempt:
    """Account for rows in order up to the first that must wait (logged unless `quiet_stop`).

    `log_filtered` False: a row whose outcome is :data:`FILTERED` counts as ignored, with no log row.
    """
    attempt = Attempt()
    sent_n = ignored = dead = 0
    logs, done, dead_letters = attempt.logs, attempt.done_ids, attempt.dead
    ok, skipped = Result.OK, Result.IGNORED  # identity tests: an IntEnum hashes in Python, slowly
    for row, outcome in zip(rows, outcomes, strict=True):
        result = outcome.result if outcome is not None else None
        if outcome is None or not (result is ok or result is skipped or result is Result.ERROR):
            # TRANSIENT, UNKNOWN, BLOCKED or no answer: it and everything after it wait.
            outcome = outcome or Outcome.unknown("connector returned no outcome")
            if not quiet_stop:
                logs.append(LogEntry(row, outcome.result, outcome.detail))
            attempt.stopped_at, attempt.stop_reason = row, outcome.detail or outcome.result.name.lower()
            break
        if result is ok:
            sent_n += 1
        elif result is skipped:
            ignored += 1
            if outcome is FILTERED and not log_filtered:
                done.append(row.id)
                continue
        else:
            dead += 1
            dead_letters.append((row, outcome.detail or "permanent error"))
        logs.append(LogEntry(row, outcome.result, outcome.detail))
        done.append(row.id)
    attempt.counts = Counts(sent=sent_n, ignored=ignored, dead=dead)
    return attempt
