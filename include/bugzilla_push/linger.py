"""Lingering: a run goes on delivering what is committed after its batch, for a while.

Without it a message committed during a run waits for that run to end and for the next one to
start: a few scheduler hops and process starts, seconds each time. A lingering run instead works
through *segments*: its batch, then, as soon as every connector has finished a segment, the rows
committed meanwhile as the next one, until its deadline. Each segment is an ordinary batch (one open
at a time), so order, backlog, backoff, dead letters and crash recovery are exactly as for runs.

Every connector's task walks the segments on its own and the last one to finish a segment closes
it. A task that has ended (a connector-fatal error, a crash) would hold everyone up, so each task
marks that it is lingering with a session lock that dies with it (:class:`Presence`): a segment
opened later leaves such a connector out (its rows go to its backlog, as when a run fails it), and
one it had not finished is closed without it once it is gone. The first segment, the run's batch,
waits for every connector for a while (:data:`START_GRACE`), so a task that starts late loses
nothing to its backlog.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from contextlib import AbstractContextManager
    from datetime import datetime

    from bugzilla_push.engine import Engine
    from bugzilla_push.store import Batch, Store

log = logging.getLogger(__name__)

# How long the run's own batch waits for a connector whose task has not started (or has ended: a
# task that cannot even load its connector). After that its rows go to its backlog, and the others
# linger on without it.
START_GRACE = timedelta(seconds=10)


class Presence:
    """Which connectors have a task lingering: each task holds a session lock per key while it does.

    :param checker: a store to test the locks from; never the one that holds them (a session may
        take again a lock it holds, so it would see itself as gone)
    :param key_of: the key of a connector's task (several connectors may share a task and a key)
    """

    PREFIX = "linger:"

    def __init__(self, checker: Store, key_of: Callable[[str], str] = str) -> None:
        self.checker = checker
        self.key_of = key_of

    @classmethod
    def hold(cls, holder: Store, key: str, timeout: float) -> AbstractContextManager[None]:
        """Mark the key's task as lingering for the block (on `holder`, a store of its own)."""
        return holder.lock(cls.PREFIX + key, timeout)

    def alive(self, names: Iterable[str]) -> set[str]:
        """Return those of `names` whose task is lingering (each key is tested once)."""
        keys: dict[str, bool] = {}
        present = set()
        for name in names:
            key = self.key_of(name)
            if key not in keys:
                keys[key] = self.checker.is_locked_elsewhere(self.PREFIX + key)
            if keys[key]:
                present.add(name)
        return present


class Linger:
    """The segments one task delivers in a lingering run; see the module docstring.

    :param engine: the task's engine (its store polls, opens and closes segments)
    :param owner: the run (the owner of its batches)
    :param mine: the connectors this task delivers
    :param until: when to stop taking new segments (naive UTC, the engine's clock)
    :param presence: which connectors still have a task in the run
    :param poll: seconds between looks for new rows
    :param grace: how long the run's batch waits for a connector whose task is not there
    """

    def __init__(
        self,
        engine: Engine,
        owner: str,
        mine: Sequence[str],
        until: datetime,
        presence: Presence,
        poll: float,
        sleep: Callable[[float], None] = time.sleep,
        grace: timedelta = START_GRACE,
    ) -> None:
        self.engine, self.store = engine, engine.store
        self.owner, self.mine, self.until = owner, set(mine), until
        self.presence, self.poll, self.sleep, self.grace = presence, poll, sleep, grace
        self.seen_closed: set[int] = set()
        self.connectors: list[str] = []  # every connector of the run's batch, and those it delivers to
        self.chosen: list[str] = []

    def segments(self, first: Batch) -> Iterator[Batch]:
        """Yield the run's batch, then each later segment, until the deadline."""
        self.connectors, self.chosen = list(first.connectors), list(first.selected)
        yield first
        current, opened = first, 0
        while self.engine.clock() < self.until:
            starting = current is first and self.engine.clock() < first.created_ts + self.grace
            if self._closed(current, waits_for_all=starting):
                nxt = self._next()
                if nxt is not None:
                    current, opened = nxt, opened + 1
                    yield current
                    continue
            self.sleep(self.poll)
        # A segment another task opened just before the deadline: deliver it rather than leave it
        # to be kept in a backlog.
        late = self.store.open_batch_of(self.owner)
        if late is not None and late.id != current.id and self.mine & set(late.selected):
            opened += 1
            yield late
        log.info("lingered until %s: %d more segment(s) after the run's batch", self.until, opened)

    def _closed(self, batch: Batch, waits_for_all: bool) -> bool:
        """Whether the batch is closed, closing it if every connector is done or gone."""
        if batch.is_empty or batch.id in self.seen_closed:
            return True
        if not self.store.batch_is_open(batch.id):
            self.seen_closed.add(batch.id)  # an idle poll is then one query: is anything pending
            return True
        waiting = set(batch.selected) - self.store.finished_connectors(batch.id)
        if waiting and (waits_for_all or self.presence.alive(waiting)):
            return False
        self.engine.finalize(batch, sample=False)  # keeps a gone connector's rows in its backlog
        self.seen_closed.add(batch.id)
        return True

    def _next(self) -> Batch | None:
        """Open the next segment (or take the one another task opened); None if nothing is pending."""
        if not self.store.has_pending() or self.engine.clock() >= self.until:
            return None  # (the deadline again: the others may be leaving, and would miss this segment)
        present = self.presence.alive(self.chosen)
        selected = [c for c in self.chosen if c in present]
        batch = self.engine.open_batch(self.owner, self.connectors, selected)
        return None if batch.is_empty else batch
