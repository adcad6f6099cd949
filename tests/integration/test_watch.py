"""The push watcher against real databases: LISTEN/NOTIFY on PostgreSQL, the MAX(id) poll everywhere."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import psycopg
import pytest

from bugzilla_push.clock import utcnow
from bugzilla_push.store import NewMessage, Store, open_store
from bugzilla_push.store import notify as notify_trigger
from bugzilla_push.watch import PushWatcher, WatchConfig, WatchTarget

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FAST = WatchConfig(min_interval=0.2, backoff_initial=0.2, backoff_max=1.0)


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    with open_store(pg_url) as s:
        s.create_schema()
        yield s


def commit_one(store: Store) -> int:
    store.enqueue(
        [NewMessage(payload='{"bug": {"id": 1}}', routing_key="bug.create", change_set="1")], utcnow()
    )
    return store.query("SELECT MAX(id) FROM push")[0][0]


class Running:
    """A watcher running in the background, its events in a queue with their arrival times."""

    def __init__(self, watcher: PushWatcher) -> None:
        self.watcher = watcher
        self.events: asyncio.Queue[tuple[float, int]] = asyncio.Queue()

    async def _consume(self) -> None:
        async for max_id in self.watcher.events():
            await self.events.put((time.monotonic(), max_id))

    async def ready(self, strategy: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.watcher.strategy != strategy:
            assert time.monotonic() < deadline, f"the watcher never started to {strategy}"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # past LISTEN's catch-up read

    async def next(self, timeout: float) -> tuple[float, int] | None:
        try:
            return await asyncio.wait_for(self.events.get(), timeout)
        except TimeoutError:
            return None

    async def fires_on_a_commit(self, store: Store, within: float, timeout: float) -> None:
        """Commit one row; the watcher reports its id within `within` seconds of the commit."""
        new_id = await asyncio.to_thread(commit_one, store)
        committed = time.monotonic()
        event = await self.next(timeout=timeout)
        assert event is not None
        assert event[1] == new_id
        assert event[0] - committed < within


@asynccontextmanager
async def running(url: str, config: WatchConfig = FAST) -> AsyncIterator[Running]:
    r = Running(PushWatcher(WatchTarget.from_url(url), config))
    task = asyncio.create_task(r._consume())
    try:
        yield r
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_listen_fires_within_a_second_of_a_commit_and_survives_a_terminated_backend(
    pg_url: str, pg_store: Store
) -> None:
    notify_trigger.install(pg_store)

    async def scenario() -> None:
        async with running(pg_url) as w:
            await w.ready("listen")
            await w.fires_on_a_commit(pg_store, within=1.0, timeout=2)

            # An insert that is not committed fires nothing.
            with psycopg.connect(pg_url) as other:
                other.execute(
                    "INSERT INTO push (push_ts, payload, change_set, routing_key) "
                    "VALUES (now(), '{}', '2', 'x.y')"
                )
                assert await w.next(timeout=1.5) is None
                other.rollback()

            # The watcher's session is killed (as an operator or a failover would); it comes back.
            with psycopg.connect(pg_url, autocommit=True) as admin:
                killed = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = 'bugzilla-push-watch'"
                ).fetchall()
            assert killed == [(True,)]
            await asyncio.sleep(1.5)  # reconnected (backoff 0.2 s) and listening again
            assert w.watcher.strategy == "listen"
            await w.fires_on_a_commit(pg_store, within=1.0, timeout=3)

    asyncio.run(scenario())


def test_a_burst_of_commits_makes_few_events(pg_url: str, pg_store: Store) -> None:
    notify_trigger.install(pg_store)

    async def scenario() -> None:
        async with running(pg_url, WatchConfig(min_interval=1.0)) as w:
            await w.ready("listen")
            last = 0
            for _ in range(40):  # ~40 commits in about a second
                last = await asyncio.to_thread(commit_one, pg_store)
                await asyncio.sleep(0.025)
            got = []
            while (event := await w.next(timeout=2.5)) is not None:
                got.append(event[1])
            assert got[-1] == last
            assert len(got) <= 3

    asyncio.run(scenario())


def test_poll_fires_soon_after_a_commit_on_every_database(
    db_url: str, store: Store
) -> None:  # store: conftest
    """PostgreSQL without the notify trigger, MariaDB and SQLite: the MAX(id) poll."""

    async def scenario() -> None:
        async with running(db_url) as w:
            await w.ready("poll")
            assert await w.next(timeout=1.5) is None  # rows already there are not news; nothing new
            await w.fires_on_a_commit(store, within=1.5, timeout=3)  # one poll interval, plus the query

    asyncio.run(scenario())


def test_listening_falls_back_to_polling_without_the_trigger(pg_url: str, pg_store: Store) -> None:
    async def scenario() -> None:
        async with running(pg_url) as w:
            await w.ready("poll")  # no trigger installed

    asyncio.run(scenario())
