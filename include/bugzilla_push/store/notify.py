"""The opt-in commit notification on `push` (PostgreSQL only) that lets the watcher LISTEN.

Without it the watcher polls `SELECT MAX(id) FROM push` (see :mod:`bugzilla_push.watch`). It is
opt-in because it adds a trigger to one of Bugzilla's own tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bugzilla_push.errors import BugzillaPushError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.store import Store


class NotifyUnsupported(BugzillaPushError, RuntimeError):
    """The database has no LISTEN/NOTIFY; the watcher polls instead."""


def supported(store: Store) -> bool:
    return store.dialect.name == "postgresql"


def unsupported_reason(store: Store) -> str:
    what = "MySQL/MariaDB" if store.dialect.name == "mysql" else "SQLite"
    return (
        f"{what} has no LISTEN/NOTIFY, so there is no notify trigger to install: the watcher polls "
        "`SELECT MAX(id) FROM push` (the primary key, one cheap query a second) and still starts a run "
        "within about a second of a commit"
    )


def installed(store: Store) -> bool:
    """Whether the notify trigger is on `push` and enabled (always False where it cannot be)."""
    if not supported(store):
        return False
    from bugzilla_push.store.postgres import NOTIFY_INSTALLED

    return bool(store.query(NOTIFY_INSTALLED)[0][0])


def install(store: Store) -> bool:
    """Install (or refresh) the trigger; returns whether it was already there."""
    from bugzilla_push.store.postgres import NOTIFY_INSTALL

    return _apply(store, NOTIFY_INSTALL)


def remove(store: Store) -> bool:
    """Remove the trigger and its function; returns whether it was there."""
    from bugzilla_push.store.postgres import NOTIFY_REMOVE

    return _apply(store, NOTIFY_REMOVE)


def _apply(store: Store, statements: Sequence[str]) -> bool:
    """Run the statements in one transaction; return whether the trigger was installed before."""
    if not supported(store):
        raise NotifyUnsupported(unsupported_reason(store))
    was = installed(store)
    with store.transaction() as cur:
        for sql in statements:
            cur.execute(sql)
    return was
