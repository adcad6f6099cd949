"""The asset watcher's trigger: runs :class:`~bugzilla_push.watch.PushWatcher` in Airflow's triggerer."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from bugzilla_push.airflow.hooks.bugzilla_db import BUGZILLA_DB_CONN_ID, BugzillaDbHook
from bugzilla_push.watch import PushWatcher, WatchConfig

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

log = logging.getLogger(__name__)

CONNECTION_RETRY_MAX = 60.0  # seconds between attempts to resolve a missing or broken connection


class PushCommitTrigger(BaseEventTrigger):
    """Fires `{"max_id": N}` within about a second of new rows committing to `push`, forever.

    Serialized (and hashed, which is how Airflow tells asset watchers apart) by the connection id and
    the intervals only: the connection, password included, is resolved in the triggerer.

    :param conn_id: the Bugzilla database connection
    :param poll_interval: seconds between `MAX(id)` polls where there is no notify trigger
    :param min_interval: at most one event per this many seconds (a burst becomes one run)
    :param safety_interval: while listening, also poll this often
    """

    def __init__(
        self,
        conn_id: str = BUGZILLA_DB_CONN_ID,
        poll_interval: float = 1.0,
        min_interval: float = 1.0,
        safety_interval: float = 30.0,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.config = WatchConfig(
            poll_interval=poll_interval, min_interval=min_interval, safety_interval=safety_interval
        ).validate()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "poll_interval": self.config.poll_interval,
                "min_interval": self.config.min_interval,
                "safety_interval": self.config.safety_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # A missing or wrong connection may be fixed later; a watcher that gave up would leave only
        # the minute schedule, silently. So keep trying, saying why (the error never holds a password).
        delay = 1.0
        while True:
            try:
                target = await BugzillaDbHook.aget_watch_target(self.conn_id)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.error("cannot watch push yet: %s (retrying in %.0f s)", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, CONNECTION_RETRY_MAX)
        async for max_id in PushWatcher(target, self.config).events():
            yield TriggerEvent({"max_id": max_id})
