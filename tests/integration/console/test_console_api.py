"""The push console's JSON API on a day of real deliveries, through a real `airflow api-server`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from tests.integration.console.day import MIRROR_ERROR, XSS_REASON, XSS_SUMMARY

if TYPE_CHECKING:
    import httpx

    from tests.integration.console.conftest import Console

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ACTION_HEADERS = {"X-Bugzilla-Push-Console": "1"}


@pytest.fixture
def admin(console: Console) -> httpx.Client:
    with console.server.client("admin") as client:
        yield client


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_overview_shows_the_queue_and_each_connectors_state(admin: httpx.Client) -> None:
    overview = admin.get("/api/overview").json()
    assert overview["enabled"] == ["file", "mirror"]  # the Variable, read from the metadata database
    assert overview["config_error"] is None
    assert overview["pending"] == 0
    rows = {c["connector"]: c for c in overview["connectors"]}
    assert set(rows) == {"file", "mirror"}
    assert rows["file"]["state"] == "active"
    assert rows["file"]["dead_letters"] == 2
    assert ts(rows["file"]["last_success_ts"]) > ts(overview["now"]) - timedelta(minutes=20)
    mirror = rows["mirror"]
    assert mirror["state"] == "backing_off"  # its second outage is still going on
    assert ts(mirror["next_attempt_ts"]) > ts(overview["now"])
    assert mirror["backlog"] > 0
    assert mirror["attempts"] >= 4
    assert mirror["last_error"] == MIRROR_ERROR
    assert overview["last_run"]["connectors"]["mirror"]["held"] > 0


def test_the_history_has_a_day_of_deliveries_and_the_outage(admin: httpx.Client, console: Console) -> None:
    history = admin.get("/api/history", params={"hours": 24, "bucket_minutes": 10}).json()
    assert len(history["buckets"]) == 24 * 6 + 1
    file, mirror = history["connectors"]["file"], history["connectors"]["mirror"]
    assert sum(file["sent"]) >= console.day.delivered - 20  # the first bucket may fall just outside
    assert sum(1 for n in file["sent"] if n) >= 140  # a delivery every ten minutes, all day
    depth = [d or 0 for d in mirror["backlog"]]
    assert max(depth[30:50]) >= 50  # the morning outage (hours 5 to 8) built a backlog …
    assert depth[60:130] == [0] * 70  # … which drained, and stayed empty …
    assert depth[-1] > 0  # … until the outage now
    assert all(p == 0 for p in history["pending"] if p is not None)
    assert admin.get("/api/history", params={"hours": 168, "bucket_minutes": 1}).status_code == 422


def test_the_log_filters_by_connector_result_key_time_and_bug(admin: httpx.Client, console: Console) -> None:
    def rows(**params: object) -> list[dict]:
        answer = admin.get("/api/log", params={"limit": 500, **params})
        assert answer.status_code == 200, answer.text
        return answer.json()["rows"]

    transient = rows(connector="mirror", result=3)
    assert transient
    assert {(r["connector"], r["result_name"], r["data"]) for r in transient} == {
        ("mirror", "TRANSIENT", MIRROR_ERROR)
    }
    assert all(r["routing_key"].startswith("bug.modify") for r in rows(routing_key="bug.modify"))
    assert rows(routing_key="bug_modify") == []  # '_' is a character here, not a wildcard
    newest = ts(rows(limit=1)[0]["processed_ts"])
    since, until = newest - timedelta(hours=3), newest - timedelta(hours=2)
    window = rows(since=since.isoformat(), until=until.isoformat())
    assert window
    assert all(since <= ts(r["processed_ts"]) < until for r in window)
    about_bug = rows(bug_id=console.day.bug_id)
    assert about_bug
    for message_id in {r["message_id"] for r in about_bug}:
        payload = json.loads(admin.get(f"/api/messages/{message_id}").json()["payload"])
        target = payload["event"]["target"]
        bug = payload[target] if target == "bug" else payload[target]["bug"]
        assert bug["id"] == console.day.bug_id
    assert any((r["data"] or "").startswith("replay #") for r in about_bug)  # bob's replay of that bug


def test_the_log_pages_newest_first_without_gaps_or_repeats(admin: httpx.Client) -> None:
    everything = admin.get("/api/log", params={"connector": "file", "limit": 500}).json()["rows"]
    seen, before = [], None
    for _ in range(4):
        params = {"connector": "file", "limit": 37, **({"before_id": before} if before else {})}
        page = admin.get("/api/log", params=params).json()
        seen += [r["id"] for r in page["rows"]]
        before = page["next_before_id"]
        assert before == page["rows"][-1]["id"]
    assert seen == [r["id"] for r in everything][: len(seen)]
    assert seen == sorted(seen, reverse=True)


def test_a_message_shows_its_payload_as_stored_and_pretty(admin: httpx.Client, console: Console) -> None:
    message = admin.get(f"/api/messages/{console.day.xss_message_id}").json()
    assert json.loads(message["payload"])["bug"]["summary"] == XSS_SUMMARY
    assert json.loads(message["payload_pretty"]) == json.loads(message["payload"])
    assert message["payload_pretty"].startswith('{\n  "bug": {')
    assert {
        "place": "dead letter",
        "connector": "file",
        "dead_letter_id": console.day.xss_dead_letter_id,
        "reason": XSS_REASON,
        "attempts": None,
        "last_error": None,
    } in message["where"]
    malformed = admin.get(f"/api/messages/{console.day.malformed_message_id}").json()
    assert malformed["payload_is_json"] is False
    assert malformed["payload_pretty"] == malformed["payload"]
    assert admin.get("/api/messages/999999999").status_code == 404


def test_dead_letters_audit_replays_and_queues_are_listed(admin: httpx.Client, console: Console) -> None:
    dead = admin.get("/api/dead-letters").json()["rows"]
    assert {(d["message_id"], d["connector"]) for d in dead} == {
        (console.day.xss_message_id, "file"),
        (console.day.malformed_message_id, "file"),
        (console.day.malformed_message_id, "mirror"),
    }
    assert [
        d["reason"]
        for d in admin.get("/api/dead-letters", params={"connector": "file", "limit": 1}).json()["rows"]
    ] == [XSS_REASON]
    audit = admin.get("/api/audit").json()["rows"]
    assert [(a["actor"], a["action"]) for a in audit[-3:]] == [
        ("bob", "replay"),
        ("alice", "resume"),
        ("alice", "pause"),
    ]
    replays = admin.get("/api/replays").json()["rows"]
    assert replays[0]["requested_by"] == "bob"
    assert str(console.day.bug_id) in replays[0]["selector"]
    backlog = admin.get("/api/connectors/mirror/backlog", params={"limit": 5}).json()
    ids = [m["message_id"] for m in backlog["rows"]]
    assert ids == sorted(ids)
    after = admin.get(
        "/api/connectors/mirror/backlog", params={"limit": 5, "after_id": backlog["next_after_id"]}
    ).json()
    assert after["rows"][0]["message_id"] > ids[-1]
    assert admin.get("/api/pending").json() == {"connector": None, "rows": [], "next_after_id": None}
    assert admin.get("/api/connectors/no such/backlog").status_code in (404, 422)


def test_each_action_is_done_and_recorded_with_the_users_name(admin: httpx.Client, console: Console) -> None:
    def act(path: str, body: dict | None = None) -> httpx.Response:
        return admin.post(path, json=body or {}, headers=ACTION_HEADERS)

    with console.store() as store:
        mirror_backlog = [
            r[0]
            for r in store.query(
                "SELECT message_id FROM push_backlog WHERE connector = 'mirror' ORDER BY message_id"
            )
        ]
    assert act("/api/connectors/mirror/pause", {"reason": "  "}).status_code == 422
    for action, body in (("pause", {"reason": "x"}), ("resume", {}), ("reset-backoff", {})):
        refused = act(f"/api/connectors/nowhere/{action}", body)
        assert refused.status_code == 404
        assert refused.json()["detail"] == (
            "no connector 'nowhere': it is not enabled and the push tables do not know it. "
            "Enabled connectors (Variable bugzilla_push_connectors): file, mirror"
        )
    assert act("/api/connectors/mirror/pause", {"reason": "x", "extra": 1}).status_code == 422
    answer = act("/api/connectors/mirror/pause", {"reason": "mirror.example.org moves to a new rack"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"] == "mirror is paused: mirror.example.org moves to a new rack"
    mirror = next(c for c in admin.get("/api/overview").json()["connectors"] if c["connector"] == "mirror")
    assert (mirror["state"], mirror["paused_by"], mirror["paused_reason"]) == (
        "paused",
        "admin",
        "mirror.example.org moves to a new rack",
    )
    assert act("/api/connectors/mirror/reset-backoff").status_code == 200
    assert act(f"/api/connectors/mirror/backlog/{mirror_backlog[0]}/drop").status_code == 200
    assert act(f"/api/connectors/mirror/backlog/{mirror_backlog[0]}/drop").status_code == 404
    retried = act(f"/api/dead-letters/{console.day.xss_dead_letter_id}/retry")
    assert retried.json()["message_id"] == console.day.xss_message_id
    assert act(f"/api/dead-letters/{console.day.xss_dead_letter_id}/retry").status_code == 404
    malformed = [d for d in admin.get("/api/dead-letters", params={"connector": "mirror"}).json()["rows"]]
    assert act(f"/api/dead-letters/{malformed[0]['id']}/drop").status_code == 200
    assert act("/api/connectors/mirror/resume").status_code == 200

    with console.store() as store:
        assert [
            r[0]
            for r in store.query(
                "SELECT message_id FROM push_backlog WHERE connector = 'mirror' ORDER BY message_id"
            )
        ] == mirror_backlog[1:]
        assert store.query("SELECT message_id FROM push_backlog WHERE connector = 'file'") == [
            (console.day.xss_message_id,)
        ]
        assert store.backoff("mirror").attempts == 0
        dropped = store.query(
            "SELECT result, data FROM push_log WHERE connector = 'mirror' AND message_id = %(m)s "
            "ORDER BY id DESC",
            {"m": mirror_backlog[0]},
        )[0]
        assert dropped == (2, "dropped from the backlog by admin")
    audit = admin.get("/api/audit", params={"limit": 6}).json()["rows"]
    assert [(a["actor"], a["action"], a["connector"], a["message_id"]) for a in audit] == [
        ("admin", "resume", "mirror", None),
        ("admin", "drop_dead_letter", "mirror", console.day.malformed_message_id),
        ("admin", "retry_dead_letter", "file", console.day.xss_message_id),
        ("admin", "drop_backlog_message", "mirror", mirror_backlog[0]),
        ("admin", "reset_backoff", "mirror", None),
        ("admin", "pause", "mirror", None),
    ]
