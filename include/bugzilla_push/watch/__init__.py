"""Waits for new rows in `push` and says so, at most once a second: the event behind event-driven runs.

Two strategies. **listen**: on PostgreSQL with the project's notify trigger on `push`
(`bugzilla-push notify install`), `LISTEN bugzilla_push` wakes the watcher at each commit.
**poll**: everywhere else, `SELECT MAX(id) FROM push` (the primary key: an index lookup) every
`poll_interval`. The watcher reports "rows up to id N" when MAX(id) grew past what it reported
before — or, listening, at any notified commit, since a lower id can commit after a higher one —
and at most once per `min_interval`, so a burst of commits becomes one event. (Polling cannot see
such a late lower id by itself; the next commit or the minute schedule picks it up.)

It never gives up: a lost connection (server restart, `pg_terminate_backend`, a dead network) is
reopened with backoff, and while listening it also polls every `safety_interval` in case a
notification was lost or the trigger removed. No Airflow here: the triggerer adapter is
:mod:`bugzilla_push.airflow.trigger`.
"""

from __future__ import annotations

from bugzilla_push.dburl import DbTarget, Kind
from bugzilla_push.watch.config import WatchConfig
from bugzilla_push.watch.sources import Source, open_source
from bugzilla_push.watch.watcher import Coalescer, PushWatcher

WatchTarget = DbTarget  # where to watch: the store's own target type, under the name the watcher had

__all__ = ["Coalescer", "Kind", "PushWatcher", "Source", "WatchConfig", "WatchTarget", "open_source"]
