"""The operators' view and actions (what the push console and the CLI use), on every database."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.config import DeliveryConfig
from bugzilla_push.engine import Engine
from bugzilla_push.model import Result
from bugzilla_push.store import NewMessage
from bugzilla_push.store.known import UnknownConnector, is_known
from bugzilla_push.store.operations import NotFound, Operations
from tests.fakes import FakeClock, ScriptedConnector, always, fail_at
from tests.support import backlog_ids, enqueue_samples, run_cycle, store_now

if TYPE_CHECKING:
    from bugzilla_push.store import Store

pytestmark = pytest.mark.integration


def engine_for(store: Store, clock: FakeClock) -> Engine:
    return Engine(store, DeliveryConfig(chunk_size=10, backoff_jitter=0.0), clock=clock, rng=random.Random(1))


def test_overview_shows_each_connectors_state(store: Store, clock: FakeClock) -> None:
    engine = engine_for(store, clock)
    ids = enqueue_samples(store, 30)
    file, pulse = ScriptedConnector("file"), ScriptedConnector("pulse", always(Result.TRANSIENT, "refused"))
    run_cycle(engine, [file, pulse])
    store.set_paused("archive", True, "admin", clock.now, reason="disk swap")
    enqueue_samples(store, 3, seed=2)
    view = Operations(store, clock).overview(["file", "pulse", "archive"])
    rows = {r["connector"]: r for r in view["connectors"]}
    assert view["pending"] == 3
    assert rows["file"]["state"] == "active"
    assert rows["file"]["last_success_ts"] == clock.now
    assert rows["pulse"]["state"] == "backing_off"
    assert rows["pulse"]["backlog"] == len(ids)
    assert rows["pulse"]["next_attempt_ts"] == clock.now + timedelta(seconds=5)
    assert rows["pulse"]["last_error"] == "refused"
    assert rows["archive"]["state"] == "paused"
    assert (rows["archive"]["paused_by"], rows["archive"]["paused_reason"]) == ("admin", "disk swap")


def test_history_buckets_deliveries_and_backlog_depth(store: Store, clock: FakeClock) -> None:
    engine = engine_for(store, clock)
    file = ScriptedConnector("file")
    down = ScriptedConnector("pulse", always(Result.TRANSIENT))
    for minute in range(3):
        enqueue_samples(store, 10, seed=minute)
        run_cycle(engine, [file, down])
        clock.advance(600)
    history = Operations(store, clock).history(hours=1, bucket_minutes=10)
    assert len(history["buckets"]) == len(history["connectors"]["file"]["sent"])
    assert sum(history["connectors"]["file"]["sent"]) == 30
    depths = [d for d in history["connectors"]["pulse"]["backlog"] if d is not None]
    assert depths == [10, 20, 30]  # the backlog grew run by run
    assert history["pending"][-2] == 0


def test_the_log_filters_and_pages(store: Store, clock: FakeClock) -> None:
    engine = engine_for(store, clock)
    ids = enqueue_samples(store, 25)
    store.enqueue([NewMessage("{nope", "bug.modify:status", "1.1")], store_now())
    run_cycle(
        engine, [ScriptedConnector("file"), ScriptedConnector("pulse", accept=lambda m: m.target == "bug")]
    )
    ops = Operations(store, clock)
    first = ops.log(connector="file", limit=10)
    assert first.has_more
    assert len(first.rows) == 10
    second = ops.log(connector="file", limit=10, before_id=first.rows[-1]["id"])
    assert second.rows[0]["id"] < first.rows[-1]["id"]
    ignored = ops.log(connector="pulse", result=int(Result.IGNORED), limit=500)
    assert ignored.rows
    assert all(r["result_name"] == "IGNORED" for r in ignored.rows)
    assert all(
        r["routing_key"].startswith("comment") for r in ops.log(routing_key="comment.", limit=500).rows
    )
    errors = ops.log(result=int(Result.ERROR), limit=500).rows
    assert {r["message_id"] for r in errors} == {ids[-1] + 1}
    bug = ops.message(ids[0])
    assert bug["where"] == [{"place": "archive"}]


def test_a_paused_connectors_held_messages_are_logged_blocked_then_ok_after_resume(
    store: Store, clock: FakeClock
) -> None:
    engine = engine_for(store, clock)
    file, pulse = ScriptedConnector("file"), ScriptedConnector("pulse")
    store.set_paused("pulse", True, "admin", clock.now, reason="receiver maintenance")
    ids = enqueue_samples(store, 25)
    reports, _ = run_cycle(engine, [file, pulse])
    assert reports["pulse"].state == "paused"
    ops = Operations(store, clock)
    blocked = ops.log(connector="pulse", result=int(Result.BLOCKED), limit=500).rows
    assert sorted(r["message_id"] for r in blocked) == ids
    assert {r["data"] for r in blocked} == {"connector paused by admin: receiver maintenance"}
    assert {r["routing_key"] for r in blocked} == {
        r["routing_key"] for r in ops.log(connector="file", limit=500).rows
    }
    assert ops.log(connector="file", result=int(Result.BLOCKED), limit=500).rows == []

    run_cycle(engine, [file, pulse])  # still paused: the backlog is not logged again
    assert len(ops.log(connector="pulse", result=int(Result.BLOCKED), limit=500).rows) == len(ids)

    store.set_paused("pulse", False, "admin", clock.now)
    run_cycle(engine, [file, pulse])
    assert pulse.received == ids
    ok = ops.log(connector="pulse", result=int(Result.OK), limit=500).rows
    assert sorted(r["message_id"] for r in ok) == ids


def test_the_log_finds_a_bugs_messages(store: Store, clock: FakeClock) -> None:
    ids = enqueue_samples(store, 40)
    run_cycle(engine_for(store, clock), [ScriptedConnector("file")])
    ops = Operations(store, clock)
    bug_id = _bug_id(store, ids[0])
    found = ops.message_ids_for_bug(bug_id)
    assert ids[0] in found
    assert all(_bug_id(store, i) == bug_id for i in found)
    assert {r["message_id"] for r in ops.log(bug_id=bug_id, limit=500).rows} == set(found)
    assert ops.log(bug_id=1, limit=10).rows == []


def _bug_id(store: Store, push_id: int) -> int:
    import json

    payload = json.loads(
        store.query("SELECT payload FROM push_archive WHERE message_id = %(i)s", {"i": push_id})[0][0]
    )
    target = payload["event"]["target"]
    return payload[target]["id"] if target == "bug" else payload[target]["bug"]["id"]


def test_retrying_a_dead_letter_puts_it_back_in_the_backlog(store: Store, clock: FakeClock) -> None:
    ids = enqueue_samples(store, 6)
    pulse = ScriptedConnector("pulse", fail_at(ids[2], Result.ERROR))
    run_cycle(engine_for(store, clock), [pulse])
    ops = Operations(store, clock)
    dead = ops.dead_letters().rows
    assert [(d["message_id"], d["connector"]) for d in dead] == [(ids[2], "pulse")]
    assert ops.retry_dead_letter(dead[0]["id"], "admin") == {"message_id": ids[2], "connector": "pulse"}
    assert backlog_ids(store, "pulse") == [ids[2]]
    assert ops.dead_letters().rows == []
    run_cycle(engine_for(store, clock), [pulse])
    assert pulse.received == [ids[0], ids[1], ids[3], ids[4], ids[5], ids[2]]
    with pytest.raises(NotFound):
        ops.retry_dead_letter(dead[0]["id"], "admin")
    actions = [(a["actor"], a["action"], a["message_id"]) for a in ops.audit_log().rows]
    assert actions == [("admin", "retry_dead_letter", ids[2])]


def test_dropping_a_dead_letter_or_a_backlog_message_is_recorded(store: Store, clock: FakeClock) -> None:
    ids = enqueue_samples(store, 4)
    run_cycle(engine_for(store, clock), [ScriptedConnector("pulse", always(Result.TRANSIENT))])
    ops = Operations(store, clock)
    ops.drop_backlog_message("pulse", ids[1], "admin")
    assert backlog_ids(store, "pulse") == [ids[0], ids[2], ids[3]]
    logged = ops.message(ids[1])["log"][0]
    assert (logged["result_name"], logged["data"]) == ("IGNORED", "dropped from the backlog by admin")
    with pytest.raises(NotFound):
        ops.drop_backlog_message("pulse", ids[1], "admin")
    ops.reset_backoff("pulse", "admin")
    assert store.backoff("pulse").attempts == 0
    assert [a["action"] for a in ops.audit_log().rows] == ["reset_backoff", "drop_backlog_message"]


def test_a_message_shows_where_it_waits_and_its_payload_as_stored(store: Store, clock: FakeClock) -> None:
    payload = (
        '{"bug": {"id": 7, "summary": "<script>alert(1)</script>"}, '
        '"event": {"action": "create", "target": "bug"}}'
    )
    store.enqueue([NewMessage(payload, "bug.create", "1.1")], store_now())
    push_id = store.query("SELECT id FROM push")[0][0]
    ops = Operations(store, clock)
    assert ops.message(push_id)["where"] == [{"place": "pending"}]
    run_cycle(engine_for(store, clock), [ScriptedConnector("pulse", always(Result.TRANSIENT))])
    message = ops.message(push_id)
    assert message["payload"] == payload  # as stored: escaping is the page's job
    assert {"place": "backlog", "connector": "pulse", "attempts": 1, "last_error": "scripted"} in message[
        "where"
    ]
    with pytest.raises(NotFound):
        ops.message(push_id + 1000)


def test_the_pending_queue_and_a_backlog_page_oldest_first(store: Store, clock: FakeClock) -> None:
    ids = enqueue_samples(store, 7)
    ops = Operations(store, clock)
    first = ops.pending(limit=4)
    assert ([r["message_id"] for r in first.rows], first.has_more) == (ids[:4], True)
    rest = ops.pending(limit=4, after_id=first.rows[-1]["message_id"])
    assert ([r["message_id"] for r in rest.rows], rest.has_more) == (ids[4:], False)
    assert set(first.rows[0]) == {"message_id", "push_ts", "routing_key", "change_set"}

    run_cycle(engine_for(store, clock), [ScriptedConnector("pulse", always(Result.TRANSIENT, "down"))])
    assert ops.pending().rows == []
    waiting = ops.backlog("pulse", limit=5)
    assert ([r["message_id"] for r in waiting.rows], waiting.has_more) == (ids[:5], True)
    assert (waiting.rows[0]["attempts"], waiting.rows[0]["last_error"]) == (1, "down")
    assert waiting.rows[0]["attempt_ts"] == clock.now
    assert waiting.rows[1]["attempt_ts"] is None
    more = ops.backlog("pulse", limit=5, after_id=waiting.rows[-1]["message_id"])
    assert [r["message_id"] for r in more.rows] == ids[5:]
    assert ops.backlog("file").rows == []


def test_the_routing_key_filter_is_a_plain_prefix(store: Store, clock: FakeClock) -> None:
    keys = ["bug.modify:cf_status_firefox", "bug.modify:cf%status", "bug.modify:cfXstatus", "bug.create"]
    payload = '{"bug": {"id": 1}, "event": {"action": "modify", "target": "bug"}}'
    store.enqueue([NewMessage(payload, key, "1.1") for key in keys], store_now())
    run_cycle(engine_for(store, clock), [ScriptedConnector("file")])
    ops = Operations(store, clock)

    def found(prefix: str) -> list[str]:
        return sorted(r["routing_key"] for r in ops.log(routing_key=prefix, limit=500).rows)

    assert found("bug.modify:cf_") == ["bug.modify:cf_status_firefox"]  # '_' is no wildcard …
    assert found("bug.modify:cf%") == ["bug.modify:cf%status"]  # … nor is '%'
    assert found("bug.modify:cf!") == []
    assert found("bug.") == sorted(keys)


def test_a_connector_is_known_from_any_table_that_names_it(store: Store, clock: FakeClock) -> None:
    ids = enqueue_samples(store, 3)
    run_cycle(
        engine_for(store, clock),
        [ScriptedConnector("logged"), ScriptedConnector("held", always(Result.TRANSIENT))],
    )
    store.set_paused("paused", True, "admin", clock.now, reason="maintenance")
    assert backlog_ids(store, "held") == ids
    assert [name for name in ("logged", "held", "paused", "nosuch") if is_known(store, name)] == [
        "logged",
        "held",
        "paused",
    ]


def test_actions_refuse_a_mistyped_connector_unless_enabled_or_forced(store: Store, clock: FakeClock) -> None:
    ops = Operations(store, clock, enabled=["file", "pulse"])
    for act in (
        lambda: ops.pause("pulze", "admin", "typo"),
        lambda: ops.resume("pulze", "admin"),
        lambda: ops.reset_backoff("pulze", "admin"),
        lambda: ops.connector_dead_letters("pulze"),
        lambda: ops.drop_backlog_message("pulze", 1, "admin"),
    ):
        with pytest.raises(
            UnknownConnector, match=r"Enabled connectors \(Variable bugzilla_push_connectors\): file, pulse"
        ):
            act()
    assert ops.audit_log().rows == []
    ops.pause("pulse", "admin", "enabled, never ran")
    ops.pause("pulze", "admin", "on purpose", force=True)
    assert [(a["connector"], a["action"]) for a in ops.audit_log().rows] == [
        ("pulze", "pause"),
        ("pulse", "pause"),
    ]
