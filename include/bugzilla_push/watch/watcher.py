"""The watcher: a :class:`Coalescer` of MAX(id) reads, and :class:`PushWatcher`, which never gives up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Literal

from bugzilla_push.store.postgres import NOTIFY_CHANNEL
from bugzilla_push.watch.config import WatchConfig
from bugzilla_push.watch.sources import Source, open_source

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from bugzilla_push.dburl import DbTarget

log = logging.getLogger(__name__)


class Coalescer:
    """Decides when to report growth of MAX(id): only past the last report, at most once per interval.

    Pure (the caller passes the time), so the rules are tested without sleeping.

    :param min_interval: seconds between two reports
    :param baseline: the id already accounted for (MAX(id) when watching began)
    """

    def __init__(self, min_interval: float, baseline: int = 0) -> None:
        self.min_interval = min_interval
        self.high = baseline
        self.latest = baseline
        self.last_report: float | None = None
        self.notified = False

    def seen(self, max_id: int | None) -> None:
        """Record a MAX(id) read; a smaller one (rows deleted, table emptied) changes nothing."""
        if max_id is not None and max_id > self.latest:
            self.latest = max_id

    def commit_notified(self) -> None:
        """Record a NOTIFY: a commit happened, even if MAX(id) did not grow.

        A lower id can commit after a higher one, as two Bugzilla transactions may finish out of order.
        """
        self.notified = True

    @property
    def pending(self) -> bool:
        return self.latest > self.high or self.notified

    def delay(self, now: float) -> float:
        """Return seconds until a report may go out (0: now)."""
        if self.last_report is None:
            return 0.0
        return max(0.0, self.last_report + self.min_interval - now)

    def take(self, now: float) -> int | None:
        """Return the id to report now, if any, and count it as reported."""
        if not self.pending or self.delay(now) > 0:
            return None
        self.high, self.last_report, self.notified = self.latest, now, False
        return self.high


class PushWatcher:
    """Yields MAX(id) of `push` each time it grew, coalesced; see the module docstring.

    :param target: the database
    :param config: intervals and timeouts
    :param clock: monotonic seconds (injectable for tests)
    :param sleep: asyncio.sleep (injectable for tests)
    :param opener: opens a :class:`Source` (injectable for tests)
    """

    def __init__(
        self,
        target: DbTarget,
        config: WatchConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        opener: Callable[[DbTarget, WatchConfig], Awaitable[Source]] = open_source,
    ) -> None:
        self.target = target
        self.config = (config or WatchConfig()).validate()
        self.clock, self.sleep, self.opener = clock, sleep, opener
        self.coalescer: Coalescer | None = None
        self.strategy: Literal["listen", "poll"] | None = None

    async def events(self) -> AsyncIterator[int]:
        """Yield "rows up to this id are committed", forever."""
        backoff = self.config.backoff_initial
        while True:
            source: Source | None = None
            try:
                source = await self.opener(self.target, self.config)
                latest = await source.max_id()
                if self.coalescer is None:  # first connection: what is there now is not news
                    self.coalescer = Coalescer(self.config.min_interval, latest or 0)
                else:  # after an outage: report rows committed meanwhile
                    self.coalescer.seen(latest)
                backoff = self.config.backoff_initial
                listening = await source.notify_installed()
                self._announce("listen" if listening else "poll")
                steps = self._listen(source) if listening else self._poll(source)
                async for max_id in steps:
                    yield max_id
                # Returning means the trigger appeared or vanished: reopen with the other strategy.
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure is survivable: reopen later
                log.warning(
                    "watching push on %s failed (%s: %s); reconnecting in %.1f s",
                    self.target.kind,
                    type(exc).__name__,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                    backoff,
                )
                await self.sleep(backoff)
                backoff = min(backoff * 2, self.config.backoff_max)
            finally:
                if source is not None:
                    await _close_quietly(source)

    def _announce(self, strategy: Literal["listen", "poll"]) -> None:
        if strategy != self.strategy:
            log.info(
                "watching push on %s: %s",
                self.target.kind,
                f"LISTEN {NOTIFY_CHANNEL} (notify trigger installed)"
                if strategy == "listen"
                else f"polling MAX(id) every {self.config.poll_interval:g} s",
            )
        self.strategy = strategy

    def _report(self) -> int | None:
        assert self.coalescer is not None
        return self.coalescer.take(self.clock())

    async def _poll(self, source: Source) -> AsyncIterator[int]:
        co = self.coalescer
        assert co is not None
        next_check = self.clock() + self.config.safety_interval
        while True:
            if (max_id := self._report()) is not None:
                yield max_id
            # A pending report waits out min_interval; otherwise look again after poll_interval.
            await self.sleep(co.delay(self.clock()) if co.pending else self.config.poll_interval)
            co.seen(await source.max_id())
            if self.clock() >= next_check:
                next_check = self.clock() + self.config.safety_interval
                if await source.notify_installed():
                    return

    async def _listen(self, source: Source) -> AsyncIterator[int]:
        co = self.coalescer
        assert co is not None
        await source.listen()
        co.seen(await source.max_id())  # commits between the first read and LISTEN
        next_check = self.clock() + self.config.safety_interval
        while True:
            if (max_id := self._report()) is not None:
                yield max_id
            now = self.clock()
            if co.pending:  # reported less than min_interval ago: let the burst gather
                await self.sleep(co.delay(now))
                notified = await source.wait_notify(0)
            else:
                notified = await source.wait_notify(max(0.0, next_check - now))
            if notified and co.delay(self.clock()) > 0:
                await self.sleep(co.delay(self.clock()))
                await source.wait_notify(0)
            safety = self.clock() >= next_check
            if notified:
                co.commit_notified()
            if notified or safety:
                co.seen(await source.max_id())
            if safety:
                next_check = self.clock() + self.config.safety_interval
                if not await source.notify_installed():
                    log.warning("the notify trigger on push is gone; polling instead")
                    return


async def _close_quietly(source: Source) -> None:
    # The connection is being discarded anyway.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(source.close(), 5)
