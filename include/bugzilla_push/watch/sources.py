"""The watcher's connections: psycopg's AsyncConnection on PostgreSQL, a DB-API one in a thread elsewhere."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import TYPE_CHECKING, Any

from bugzilla_push.store.postgres import NOTIFY_CHANNEL, NOTIFY_INSTALLED

if TYPE_CHECKING:
    from bugzilla_push.dburl import DbTarget, Kind
    from bugzilla_push.watch.config import WatchConfig

MAX_ID = "SELECT MAX(id) FROM push"


class Source:
    """One open connection to the database being watched."""

    async def max_id(self) -> int | None:
        raise NotImplementedError

    async def notify_installed(self) -> bool:
        return False

    async def listen(self) -> None:
        raise NotImplementedError

    async def wait_notify(self, timeout: float) -> bool:
        """Wait up to `timeout` s for notifications; drain them all; whether there was one."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class PostgresSource(Source):
    """psycopg 3's AsyncConnection: queries and notifications without a thread."""

    def __init__(self, conn: Any, query_timeout: float) -> None:
        self.conn = conn
        self.query_timeout = query_timeout

    @classmethod
    async def open(cls, params: dict[str, Any], config: WatchConfig) -> PostgresSource:
        import psycopg

        args = {"connect_timeout": 10, "application_name": "bugzilla-push-watch", **params}
        conninfo = args.pop("conninfo", "")
        conn = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(conninfo, autocommit=True, **args), config.query_timeout + 10
        )
        return cls(conn, config.query_timeout)

    async def _scalar(self, sql: str) -> Any:
        async def run() -> Any:
            cur = await self.conn.execute(sql)
            return (await cur.fetchone())[0]

        return await asyncio.wait_for(run(), self.query_timeout)

    async def max_id(self) -> int | None:
        return await self._scalar(MAX_ID)

    async def notify_installed(self) -> bool:
        return bool(await self._scalar(NOTIFY_INSTALLED))

    async def listen(self) -> None:
        await asyncio.wait_for(self.conn.execute(f"LISTEN {NOTIFY_CHANNEL}"), self.query_timeout)

    async def wait_notify(self, timeout: float) -> bool:
        got = False
        async for _ in self.conn.notifies(timeout=timeout, stop_after=1):
            got = True
        if got:  # the rest of a burst is already here: take it now, it is the same news
            async for _ in self.conn.notifies(timeout=0):
                pass
        return got

    async def close(self) -> None:
        await self.conn.close()


class ThreadedSource(Source):
    """A blocking DB-API connection (PyMySQL, sqlite3) used from a worker thread, one call at a time.

    No async MySQL driver is a dependency, and one query a second does not need one.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @classmethod
    async def open(cls, kind: Kind, params: dict[str, Any], config: WatchConfig) -> ThreadedSource:
        return cls(await asyncio.to_thread(_connect_blocking, kind, params, config))

    def _query(self) -> int | None:
        cur = self.conn.cursor()
        try:
            cur.execute(MAX_ID)
            return cur.fetchone()[0]
        finally:
            cur.close()

    async def max_id(self) -> int | None:
        return await asyncio.to_thread(self._query)

    async def close(self) -> None:
        await asyncio.to_thread(self.conn.close)


def _connect_blocking(kind: Kind, params: dict[str, Any], config: WatchConfig) -> Any:
    if kind == "sqlite":
        # Autocommit: each read sees the latest commit (WAL readers never block Bugzilla's writes).
        # check_same_thread off: asyncio.to_thread may use another worker thread for each call,
        # and calls never overlap (one at a time, awaited).
        return sqlite3.connect(
            params["path"], timeout=config.query_timeout, isolation_level=None, check_same_thread=False
        )
    import pymysql

    timeouts = {"connect_timeout": 10, "read_timeout": int(config.query_timeout) or 1}
    # Autocommit: each SELECT is its own transaction, so REPEATABLE READ never pins an old snapshot.
    return pymysql.connect(**{**timeouts, **params, "autocommit": True})


async def open_source(target: DbTarget, config: WatchConfig) -> Source:
    if target.kind == "postgresql":
        return await PostgresSource.open(target.params, config)
    return await ThreadedSource.open(target.kind, target.params, config)
