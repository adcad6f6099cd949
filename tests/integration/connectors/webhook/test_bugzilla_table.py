"""Bugzilla's own webhooks (its `webhooks` table) on a bugzilla.mozilla.org-shaped MariaDB, through the
DAG's task bodies, with real HTTP receivers (test doubles on loopback).

Three webhooks as BMO's UI makes them (`extensions/Webhooks/Extension.pm`): one with a backlog and a
backoff row that `bugzilla-pushd` left (connector `Webhook_<id>`, `extensions/Push/lib/Connectors.pm`),
one disabled in `push_options`, one whose receiver hangs. Then the disabled one is enabled, and a
private bug changes: only the webhook whose owner is in the bug's group gets it
(`extensions/Push/lib/Connector/Webhook.pm`, `_owner_can_see`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from bugzilla_push.airflow import tasks
from bugzilla_push.connectors.webhook.bugzilla_table import NOT_VISIBLE
from bugzilla_push.model import Result
from bugzilla_push.store import open_store
from tests.bugzilla_tables import BugzillaTables
from tests.doubles.webhook_receiver import Reply, Request, WebhookReceiver
from tests.integration.bmo import connect, create_bugzilla_tables, insert_as_bugzilla
from tests.unit.connectors.webhook.messages import bug, comment, payload

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.integration]

TIMEOUT = 3.0  # the webhooks' request timeout: what the hanging receiver may cost a run
LEFTOVER_IDS = [11, 12]  # ids the daemon had already taken out of `push`


class Arrivals:
    """Records when each request reaches a receiver, by path."""

    def __init__(self, hold: bool = False) -> None:
        self.times: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.hold = hold

    def __call__(self, request: Request) -> Reply:
        with self._lock:
            self.times.setdefault(request.path, []).append(time.monotonic())
        return Reply(200, hold=self.hold)


@pytest.fixture
def hanging() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(Arrivals(hold=True)) as r:
        yield r


def change(bug_id: int, private: bool, routing_field: str = "status") -> dict[str, Any]:
    body = payload(
        "bug",
        bug(bug_id, is_private=private),
        "modify",
        [{"field": routing_field, "removed": "a", "added": "b"}],
    )
    return {"payload": body, "change_set": body["event"]["change_set"]}


def created(bug_id: int) -> dict[str, Any]:
    body = payload("bug", bug(bug_id))
    return {"payload": body, "change_set": body["event"]["change_set"]}


def commented(bug_id: int) -> dict[str, Any]:
    body = payload("comment", comment(bug(bug_id)))
    return {"payload": body, "change_set": body["event"]["change_set"]}


def run(env: dict[str, str], name: str) -> tuple[list[dict[str, Any]], dict[str, Any], float]:
    """One DAG run through the task bodies: read_pending, each deliver item, finalize."""
    with mock.patch.dict(os.environ, env):
        plan = tasks.read_pending({}, tasks.RunInfo(name, "manual"), "bugzilla_db")
        started = time.monotonic()
        reports = [tasks.deliver(item["connector"], item["batch"], "bugzilla_db") for item in plan]
        took = time.monotonic() - started
        tasks.finalize(plan, reports, "bugzilla_db")
    return plan, reports[0] if reports else {}, took


def test_bugzillas_webhooks_backlog_first_disabled_unsubscribed_hang_bounded_private_to_members(
    mysql_url: str, receiver: WebhookReceiver, hanging: WebhookReceiver
) -> None:
    arrivals = Arrivals()
    receiver.script = arrivals
    create_bugzilla_tables(mysql_url)
    with open_store(mysql_url) as store:
        store.create_schema()
        bz = BugzillaTables(store).create()
        member, outsider, nobody = (bz.add_user(f"{u}@example.org") for u in ("member", "outsider", "nobody"))
        bz.add_product("Firefox")
        security = bz.add_group("core-security")
        bz.add_member(member, security)
        public, secret = bz.add_bug(nobody, nobody), bz.add_bug(nobody, nobody)
        bz.add_to_group(secret, security)
        first = bz.add_webhook(
            member, "leftover", receiver.url("/first"), api_key_header="X-Api-Key", api_key_value="k1"
        )
        off = bz.add_webhook(outsider, "switched-off", receiver.url("/off"))
        hangs = bz.add_webhook(outsider, "hangs", hanging.url("/hangs"))
        bz.set_push_option(f"Webhook_{off}", "enabled", "Disabled")
        # What bugzilla-pushd left: two messages in Webhook_<id>'s backlog, and its backoff, long due.
        with store.transaction() as cur:
            for message_id, row in zip(LEFTOVER_IDS, [created(public), commented(public)], strict=True):
                store.execute(
                    cur,
                    "INSERT INTO push_backlog (message_id, push_ts, payload, change_set, routing_key, "
                    "connector, attempt_ts, attempts, last_error) VALUES (%(id)s, '2026-01-01 00:00:00', "
                    "%(p)s, %(cs)s, %(rk)s, %(c)s, '2026-01-01 00:00:00', 3, 'Expected HTTP 2xx, got 503')",
                    {
                        "id": message_id,
                        "p": json.dumps(row["payload"]),
                        "cs": row["change_set"],
                        "rk": row["payload"]["event"]["routing_key"],
                        "c": f"Webhook_{first}",
                    },
                )
            store.execute(
                cur,
                "INSERT INTO push_backoff (connector, next_attempt_ts, attempts) "
                "VALUES (%(c)s, '2026-01-01 00:05:00', 3)",
                {"c": f"Webhook_{first}"},
            )
            store.execute(cur, "ALTER TABLE push AUTO_INCREMENT = 100")
    env = {
        "AIRFLOW_CONN_BUGZILLA_DB": mysql_url,
        "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "bugzilla_webhooks",
        "AIRFLOW_CONN_BUGZILLA_WEBHOOKS": json.dumps({"conn_type": "http", "extra": {"timeout": TIMEOUT}}),
    }
    with connect(mysql_url) as conn:
        run1 = [
            i for i, _ in insert_as_bugzilla(conn, [created(public), change(secret, True), commented(public)])
        ]

    plan, report, took = run(env, "manual__1")

    # One deliver item for every webhook of the table; the disabled one is not among the batch's.
    assert [p["connector"] for p in plan] == ["bugzilla_webhooks"]
    assert sorted(plan[0]["batch"]["selected"]) == sorted([f"Webhook_{first}", f"Webhook_{hangs}"])
    first_got = receiver.accepted("/first")
    assert [r.push_id for r in first_got] == LEFTOVER_IDS + run1  # the leftover backlog first, in order
    assert {r.headers["x-api-key"] for r in first_got} == {"k1"}
    assert {r.headers["user-agent"] for r in first_got} == {"Bugzilla"}
    assert {(r.json["webhook_name"], r.json["webhook_id"]) for r in first_got} == {("leftover", first)}
    assert first_got[3].json["bug"] == {"id": secret, "is_private": True}  # private: reduced to ids, as BMO
    assert receiver.requests("/off") == []
    # The hanging receiver got its first message and nothing more; the others did not wait for it.
    assert [r.push_id for r in hanging.requests("/hangs")] == [run1[0]]
    started = hanging.script.times["/hangs"][0]
    assert arrivals.times["/first"][-1] - started < TIMEOUT / 2
    assert TIMEOUT <= took < 2 * TIMEOUT
    states = {r["connector"]: r["state"] for r in report["webhooks"]}
    assert states == {f"Webhook_{first}": "done", f"Webhook_{hangs}": "backing_off"}

    with open_store(mysql_url) as store:
        status = store.status()
        backlogs = dict(store.query("SELECT connector, COUNT(*) FROM push_backlog GROUP BY connector"))
        bz = BugzillaTables(store)
        bz.set_push_option(f"Webhook_{off}", "enabled", "Enabled")
    assert backlogs == {f"Webhook_{hangs}": 3}  # what the hanging one did not take waits for it
    assert status.connectors[f"Webhook_{hangs}"].backlog == 3
    assert f"Webhook_{off}" not in status.connectors

    with connect(mysql_url) as conn:
        run2 = [i for i, _ in insert_as_bugzilla(conn, [change(public, False), change(secret, True)])]
    plan, report, _ = run(env, "manual__2")

    assert f"Webhook_{off}" in plan[0]["batch"]["selected"]
    # Enabled, it gets what is pushed from then on, and of the private bug nothing: its owner is not
    # in the bug's group. The member's webhook gets both.
    assert [r.push_id for r in receiver.accepted("/off")] == [run2[0]]
    assert [r.push_id for r in receiver.accepted("/first")][-2:] == run2
    with open_store(mysql_url) as store:
        logged = store.query(
            "SELECT result, data FROM push_log WHERE connector = %(c)s AND message_id = %(m)s",
            {"c": f"Webhook_{off}", "m": run2[1]},
        )
    assert logged == [(int(Result.IGNORED), NOT_VISIBLE)]


def test_a_lingering_run_sends_bugzillas_webhooks_what_is_committed_during_it_in_order(
    mysql_url: str, receiver: WebhookReceiver
) -> None:
    create_bugzilla_tables(mysql_url)
    with open_store(mysql_url) as store:
        store.create_schema()
        bz = BugzillaTables(store).create()
        owner = bz.add_user("owner@example.org")
        bz.add_product("Firefox")
        public = bz.add_bug(owner, owner)
        hook = bz.add_webhook(owner, "live", receiver.url("/live"))
    env = {
        "AIRFLOW_CONN_BUGZILLA_DB": mysql_url,
        "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "bugzilla_webhooks",
        "AIRFLOW_VAR_BUGZILLA_PUSH_CONFIG": json.dumps({"linger_seconds": 4, "linger_poll_seconds": 0.05}),
    }
    with connect(mysql_url) as conn:
        before = [i for i, _ in insert_as_bugzilla(conn, [created(public)])]
    live: list[int] = []

    def commit_during_the_run() -> None:
        with connect(mysql_url) as conn:
            for _ in range(10):
                time.sleep(0.2)
                live.extend(i for i, _ in insert_as_bugzilla(conn, [commented(public)]))

    producer = threading.Thread(target=commit_during_the_run)
    with mock.patch.dict(os.environ, env):
        plan = tasks.read_pending({}, tasks.RunInfo("scheduled__1", "scheduled"), "bugzilla_db")
        assert plan[0]["linger_until"] is not None
        producer.start()
        reports = [
            tasks.deliver(item["connector"], item["batch"], "bugzilla_db", item["linger_until"])
            for item in plan
        ]
        producer.join()
        tasks.finalize(plan, reports, "bugzilla_db")

    assert len(live) == 10
    # Every live commit reached the webhook within the run, after the batch, in order.
    assert [r.push_id for r in receiver.accepted("/live")] == before + live
    assert {r["connector"]: r["sent"] for r in reports[0]["webhooks"]} == {f"Webhook_{hook}": 11}
    with open_store(mysql_url) as store:
        assert store.query("SELECT COUNT(*) FROM push")[0][0] == 0
        assert store.query("SELECT COUNT(*) FROM push_run WHERE id > 1 AND state = 'done'")[0][0] > 1
        # One statistics row for the run's segments, not one per segment.
        assert store.query(
            "SELECT COUNT(*) FROM push_stats WHERE connector = %(c)s", {"c": f"Webhook_{hook}"}
        ) == [(1,)]
