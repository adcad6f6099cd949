"""`bugzilla-push notify` and the asset watcher's trigger, against real databases."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.store import open_store
from tests.integration.test_cli import cli
from tests.integration.test_watch import commit_one

if TYPE_CHECKING:
    from bugzilla_push.store import Store

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_schema(pg_url: str) -> str:
    with open_store(pg_url) as s:
        s.create_schema()
    return pg_url


def trigger_count(url: str) -> int:
    with open_store(url) as s:
        return s.query(
            "SELECT COUNT(*) FROM pg_trigger "
            "WHERE tgrelid = 'push'::regclass AND tgname = 'bugzilla_push_notify'"
        )[0][0]


def test_notify_install_remove_status_are_idempotent_on_postgresql(pg_schema: str) -> None:
    status = cli("--db", pg_schema, "notify", "status")
    assert status.returncode == 0
    assert "not installed" in status.stdout
    assert "polls" in status.stdout

    first = cli("--db", pg_schema, "notify", "install")
    assert first.returncode == 0, first.stderr
    assert "installed" in first.stdout
    assert "already" not in first.stdout
    again = cli("--db", pg_schema, "notify", "install")
    assert again.returncode == 0
    assert "already installed" in again.stdout
    assert trigger_count(pg_schema) == 1
    status = cli("--db", pg_schema, "notify", "status")
    assert status.returncode == 0
    assert "installed on push" in status.stdout
    assert "LISTEN" in status.stdout

    removed = cli("--db", pg_schema, "notify", "remove")
    assert removed.returncode == 0
    assert "removed" in removed.stdout
    again = cli("--db", pg_schema, "notify", "remove")
    assert again.returncode == 0
    assert "was not installed" in again.stdout
    assert trigger_count(pg_schema) == 0
    assert "not installed" in cli("--db", pg_schema, "notify", "status").stdout


def test_notify_is_refused_clearly_on_mysql(mysql_url: str) -> None:
    with open_store(mysql_url) as s:
        s.create_schema()
    install = cli("--db", mysql_url, "notify", "install")
    assert install.returncode == 2
    assert "MySQL/MariaDB has no LISTEN/NOTIFY" in install.stderr
    assert "polls" in install.stderr
    status = cli("--db", mysql_url, "notify", "status")
    assert status.returncode == 0
    assert "polls" in status.stdout


def test_the_help_says_the_trigger_is_opt_in() -> None:
    # argparse wraps lines, also after a hyphen
    text = " ".join(cli("notify", "--help").stdout.replace("-\n", "-").split())
    assert "opt-in" in text
    assert "Bugzilla's own tables" in text


def test_the_airflow_trigger_fires_an_event_and_serializes_no_password(
    pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.triggers.base import BaseEventTrigger, TriggerEvent

    from bugzilla_push.airflow.trigger import PushCommitTrigger

    # Trust authentication ignores the password; it is there to be looked for.
    with_password = pg_schema.replace("postgresql://postgres@", "postgresql://postgres:s3cret-pw@")
    monkeypatch.setenv("AIRFLOW_CONN_BUGZILLA_DB", with_password)
    trigger = PushCommitTrigger(min_interval=0.2)
    classpath, kwargs = trigger.serialize()
    assert classpath == "bugzilla_push.airflow.trigger.PushCommitTrigger"
    assert kwargs == {
        "conn_id": "bugzilla_db",
        "poll_interval": 1.0,
        "min_interval": 0.2,
        "safety_interval": 30.0,
    }
    assert "s3cret" not in repr(trigger)
    assert "s3cret" not in repr(kwargs)
    assert BaseEventTrigger.hash(classpath, kwargs) == BaseEventTrigger.hash(
        *PushCommitTrigger(min_interval=0.2).serialize()
    )
    assert PushCommitTrigger(**kwargs).serialize() == (classpath, kwargs)  # what the triggerer rebuilds

    async def scenario(store: Store) -> TriggerEvent:
        events = trigger.run()
        first = asyncio.ensure_future(events.__anext__())
        try:
            for _ in range(40):  # the watcher starts from what is there: commit until it has seen one
                await asyncio.to_thread(commit_one, store)
                done, _ = await asyncio.wait({first}, timeout=0.5)
                if done:
                    return first.result()
            raise AssertionError("no TriggerEvent within 20 s")
        finally:
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)
            await events.aclose()

    with open_store(pg_schema) as store:
        event = asyncio.run(scenario(store))
    assert isinstance(event, TriggerEvent)
    assert event.payload["max_id"] >= 1


def test_the_hook_and_the_watcher_read_the_connection_alike(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One parsing of `bugzilla_db` for the tasks' store and the triggerer's watcher."""
    from bugzilla_push.airflow.hooks.bugzilla_db import BugzillaDbHook

    kind = db_url.split(":", 1)[0]
    monkeypatch.setenv("AIRFLOW_CONN_BUGZILLA_DB", db_url)
    with BugzillaDbHook().get_conn() as store:
        store.create_schema()
        new_id = commit_one(store)
    target = asyncio.run(BugzillaDbHook.aget_watch_target())
    assert target.kind == kind

    async def read_max() -> int | None:
        from bugzilla_push.watch import WatchConfig, open_source

        source = await open_source(target, WatchConfig())
        try:
            return await source.max_id()
        finally:
            await source.close()

    assert asyncio.run(read_max()) == new_id


def test_a_cursor_extra_changes_neither_the_stores_rows_nor_the_watchers(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The postgres provider's `cursor` extra (dict rows) is for SQL operators, not the push tables."""
    from bugzilla_push.airflow.hooks.bugzilla_db import BugzillaDbHook
    from bugzilla_push.watch import WatchConfig, open_source

    monkeypatch.setenv("AIRFLOW_CONN_BUGZILLA_DB", f"{pg_url}?cursor=dictcursor")
    with BugzillaDbHook().get_conn() as store:
        store.create_schema()
        new_id = commit_one(store)
        assert store.backlog_depth("file") == 0

    async def read_max() -> int | None:
        source = await open_source(await BugzillaDbHook.aget_watch_target(), WatchConfig())
        try:
            return await source.max_id()
        finally:
            await source.close()

    assert asyncio.run(read_max()) == new_id
