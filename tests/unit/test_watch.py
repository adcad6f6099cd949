"""The push watcher's rules, on a scripted source and a fake clock: no real sleeping, no database."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.watch import Coalescer, PushWatcher, Source, WatchConfig, WatchTarget

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


# -- the coalescing rules ---------------------------------------------------------------------


def test_rows_present_when_watching_starts_are_not_news() -> None:
    co = Coalescer(1.0, baseline=500)
    co.seen(500)
    assert co.take(0.0) is None


def test_growth_is_reported_once() -> None:
    co = Coalescer(1.0, baseline=10)
    co.seen(12)
    assert co.take(0.0) == 12
    co.seen(12)
    assert co.take(5.0) is None


def test_deleted_rows_are_not_news_and_later_growth_is() -> None:
    co = Coalescer(1.0, baseline=10)
    co.seen(20)
    assert co.take(0.0) == 20
    co.seen(None)  # the DAG delivered and deleted everything: MAX(id) of an empty table
    co.seen(15)
    assert co.take(5.0) is None
    co.seen(21)
    assert co.take(6.0) == 21


def test_a_burst_is_coalesced_into_one_report_per_interval() -> None:
    co = Coalescer(1.0)
    reports = []
    for n in range(1, 51):  # 50 commits in one second, one every 20 ms
        now = n * 0.02
        co.seen(n)
        if (got := co.take(now)) is not None:
            reports.append((round(now, 2), got))
    assert reports == [(0.02, 1)]
    assert co.delay(1.0) == pytest.approx(0.02)
    assert co.take(1.02) == 50  # the rest of the burst, in one report, once the interval is over


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="poll_interval"):
        WatchConfig(poll_interval=0).validate()


# -- the watcher loop, on a scripted source ---------------------------------------------------


class Timeline:
    """Commits (time, new MAX(id)) and a clock that only moves when the watcher sleeps or waits."""

    def __init__(self, commits: list[tuple[float, int]], start_max: int = 0) -> None:
        self.commits = sorted(commits)
        self.start_max = start_max
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def max_id(self) -> int:
        return max([self.start_max] + [m for t, m in self.commits if t <= self.now])


class ScriptedSource(Source):
    def __init__(self, timeline: Timeline, trigger: bool, fail_after: int | None = None) -> None:
        self.timeline = timeline
        self.trigger = trigger
        self.queries = 0
        self.fail_after = fail_after
        self.heard = timeline.now  # notifications for commits after this time are still to come

    async def max_id(self) -> int | None:
        self.queries += 1
        if self.fail_after is not None and self.queries > self.fail_after:
            raise ConnectionError("server closed the connection unexpectedly")
        return self.timeline.max_id()

    async def notify_installed(self) -> bool:
        return self.trigger

    async def listen(self) -> None:
        self.heard = self.timeline.now

    async def wait_notify(self, timeout: float) -> bool:
        tl = self.timeline
        due = [t for t, _ in tl.commits if self.heard < t <= tl.now + timeout]
        if not due:
            tl.now += timeout
            await asyncio.sleep(0)
            return False
        tl.now = max(tl.now, max(t for t in due if t <= tl.now) if any(t <= tl.now for t in due) else due[0])
        self.heard = tl.now
        await asyncio.sleep(0)
        return True

    async def close(self) -> None:
        pass


def opener_of(sources: list[Source | Exception]) -> Callable[..., Awaitable[Source]]:
    async def open_(*_: object) -> Source:
        item = sources.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return open_


async def collect(watcher: PushWatcher, timeline: Timeline, until: float) -> list[tuple[float, int]]:
    got: list[tuple[float, int]] = []

    async def run() -> None:
        async for max_id in watcher.events():
            got.append((round(timeline.now, 3), max_id))
            if timeline.now >= until:
                return

    task = asyncio.ensure_future(run())
    while not task.done() and timeline.now < until:
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return got


def watcher_for(timeline: Timeline, sources: list[Source | Exception], **config: float) -> PushWatcher:
    return PushWatcher(
        WatchTarget("sqlite", {"path": "unused"}),
        WatchConfig(**config),
        clock=timeline.clock,
        sleep=timeline.sleep,
        opener=opener_of(sources),
    )


def test_polling_reports_growth_within_a_poll_interval() -> None:
    tl = Timeline([(2.5, 7), (10.2, 8)], start_max=5)
    events = asyncio.run(collect(watcher_for(tl, [ScriptedSource(tl, trigger=False)]), tl, until=15))
    assert events == [(3.0, 7), (11.0, 8)]


def test_polling_coalesces_a_burst() -> None:
    # 50 commits a second for three seconds: about one event a second, not 150.
    tl = Timeline([(1 + n * 0.02, n + 1) for n in range(150)])
    events = asyncio.run(collect(watcher_for(tl, [ScriptedSource(tl, trigger=False)]), tl, until=8))
    ids = [m for _, m in events]
    assert len(ids) == 4  # polls at 1, 2, 3 and 4 s
    assert ids[0] == 1
    assert ids[-1] == 150
    times = [t for t, _ in events]
    assert all(b - a >= 1.0 for a, b in zip(times, times[1:], strict=False))


def test_listening_reports_at_the_notification_without_polling() -> None:
    tl = Timeline([(2.5, 7), (10.2, 8)], start_max=5)
    source = ScriptedSource(tl, trigger=True)
    events = asyncio.run(collect(watcher_for(tl, [source]), tl, until=20))
    assert events == [(2.5, 7), (10.2, 8)]
    assert source.queries <= 4  # the start, LISTEN's catch-up, one per notification: no per-second poll


def test_listening_reports_a_commit_of_a_lower_id_after_a_higher_one() -> None:
    # Two Bugzilla transactions finishing out of order: id 6 commits after id 7. MAX(id) stays 7,
    # but the notification says a commit happened, so a run still starts for it.
    tl = Timeline([(2.5, 7), (5.0, 6)], start_max=5)
    events = asyncio.run(collect(watcher_for(tl, [ScriptedSource(tl, trigger=True)]), tl, until=10))
    assert events == [(2.5, 7), (5.0, 7)]


def test_listening_coalesces_a_burst() -> None:
    tl = Timeline([(1 + n * 0.02, n + 1) for n in range(150)])
    events = asyncio.run(collect(watcher_for(tl, [ScriptedSource(tl, trigger=True)]), tl, until=8))
    assert len(events) <= 4
    assert events[-1][1] == 150
    times = [t for t, _ in events]
    assert all(b - a >= 1.0 for a, b in zip(times, times[1:], strict=False))


def test_listening_still_polls_as_a_safety_net() -> None:
    tl = Timeline([], start_max=5)

    class LostNotifications(ScriptedSource):
        async def wait_notify(self, timeout: float) -> bool:
            self.timeline.now += timeout
            await asyncio.sleep(0)
            return False

    tl.commits = [(3.0, 9)]  # committed, but its notification never arrives
    events = asyncio.run(
        collect(watcher_for(tl, [LostNotifications(tl, trigger=True)], safety_interval=30), tl, until=40)
    )
    assert events == [(30.0, 9)]


def test_reconnects_with_backoff_and_reports_what_was_committed_meanwhile() -> None:
    tl = Timeline([(1.5, 7), (4.0, 9)], start_max=5)
    refused = ConnectionRefusedError("connection refused")
    sources: list[Source | Exception] = [
        ScriptedSource(tl, trigger=False, fail_after=2),  # dies after two queries
        refused,
        refused,
        ScriptedSource(tl, trigger=False),
    ]
    events = asyncio.run(collect(watcher_for(tl, sources, backoff_initial=0.5), tl, until=10))
    # Lost at 2 s (id 7 committed at 1.5 s, unseen); refused twice; back at 5.5 s with 7 and 9 committed.
    assert events == [(5.5, 9)]
    assert tl.sleeps[:5] == [1.0, 1.0, 0.5, 1.0, 2.0]  # two polls, then the backoff doubling


def test_the_watcher_switches_to_listening_when_the_trigger_appears() -> None:
    tl = Timeline([(40.0, 6)], start_max=5)

    class TriggerInstalledLater(ScriptedSource):
        async def notify_installed(self) -> bool:
            return self.timeline.now >= 20

    sources: list[Source | Exception] = [TriggerInstalledLater(tl, trigger=False)]
    sources.append(TriggerInstalledLater(tl, trigger=True))
    watcher = watcher_for(tl, sources, safety_interval=30)
    events = asyncio.run(collect(watcher, tl, until=45))
    assert watcher.strategy == "listen"
    assert events == [(40.0, 6)]
