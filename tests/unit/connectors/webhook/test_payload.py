"""The JSON a webhook receives: BMO's shape, with private content reduced to ids."""

from __future__ import annotations

import copy
import json

import msgspec

from bugzilla_push.connectors.webhook.payload import webhook_payload
from bugzilla_push.samples import BugzillaSimulator
from tests.unit.connectors.webhook.messages import attachment, bug, comment, payload

STATUS_CHANGE = [{"field": "status", "removed": "NEW", "added": "ASSIGNED"}]


def shaped(body: dict) -> dict:
    return webhook_payload(body, "triage", 42)


def test_a_public_bug_is_sent_whole_with_the_webhook_named_and_no_change_set() -> None:
    body = payload("bug", bug(), "modify", STATUS_CHANGE)
    out = shaped(body)
    assert out["bug"] == body["bug"]
    assert out["webhook_name"] == "triage"
    assert out["webhook_id"] == 42
    assert "change_set" not in out["event"]
    assert out["event"]["changes"] == STATUS_CHANGE
    assert out["event"]["routing_key"] == "bug.modify:status"
    assert out["event"]["user"]["login"] == "[email protected]"
    assert set(out) == {"bug", "event", "webhook_name", "webhook_id"}


def test_a_public_comment_goes_inside_its_bug_without_its_own_bug() -> None:
    body = payload("comment", comment(bug(bug_id=7)))
    out = shaped(body)
    assert "comment" not in out
    assert out["bug"]["id"] == 7
    assert out["bug"]["summary"] == "Crash in nsDocShell::LoadURI"
    assert out["bug"]["comment"] == {k: v for k, v in body["comment"].items() if k != "bug"}
    assert "bug" not in out["bug"]["comment"]


def test_a_public_attachment_goes_inside_its_bug() -> None:
    body = payload("attachment", attachment(bug(bug_id=8)))
    out = shaped(body)
    assert out["bug"]["id"] == 8
    assert out["bug"]["attachment"]["file_name"] == "phabricator-D12345-url.txt"
    assert "bug" not in out["bug"]["attachment"]


def test_a_private_bug_is_reduced_to_its_id_and_loses_its_changes() -> None:
    body = payload("bug", bug(bug_id=9, is_private=True), "modify", STATUS_CHANGE)
    out = shaped(body)
    assert out["bug"] == {"id": 9, "is_private": True}
    assert "changes" not in out["event"]
    assert "change_set" not in out["event"]
    assert out["event"]["routing_key"] == "bug.modify:status"


def test_a_private_bug_created_is_reduced_to_its_id() -> None:
    out = shaped(payload("bug", bug(bug_id=10, is_private=1)))
    assert out["bug"] == {"id": 10, "is_private": True}


def test_a_private_comment_is_reduced_to_ids() -> None:
    out = shaped(payload("comment", comment(bug(bug_id=11), is_private=True, comment_id=5)))
    assert out["bug"] == {"id": 11, "is_private": False, "comment": {"id": 5, "is_private": True}}
    assert "I can reproduce" not in json.dumps(out)


def test_a_public_comment_on_a_private_bug_is_reduced_to_ids() -> None:
    out = shaped(payload("comment", comment(bug(bug_id=12, is_private=True), comment_id=6)))
    assert out["bug"] == {"id": 12, "is_private": True, "comment": {"id": 6, "is_private": True}}


def test_a_private_attachment_change_is_reduced_to_ids_and_loses_its_changes() -> None:
    body = payload(
        "attachment",
        attachment(bug(bug_id=13), is_private=True, attachment_id=77),
        "modify",
        [{"field": "description", "removed": "secret plan", "added": "secret plan v2"}],
    )
    out = shaped(body)
    assert out["bug"] == {"id": 13, "is_private": False, "attachment": {"id": 77, "is_private": True}}
    assert "secret plan" not in json.dumps(out)


def test_the_is_private_transition_is_sent_whole_from_the_public_side() -> None:
    body = payload(
        "bug",
        bug(bug_id=14, is_private=False),
        "modify",
        [{"field": "is_private", "removed": "0", "added": "1"}],
    )
    out = shaped(body)
    assert out["bug"]["summary"] == "Crash in nsDocShell::LoadURI"
    assert out["event"]["changes"] == [{"field": "is_private", "removed": "0", "added": "1"}]


def test_the_decoded_payload_is_not_modified() -> None:
    for body in (
        payload("comment", comment(bug())),
        payload("bug", bug(is_private=True), "modify", STATUS_CHANGE),
        payload("attachment", attachment(bug(), is_private=True)),
    ):
        before = copy.deepcopy(body)
        shaped(body)
        assert body == before


def test_every_simulated_message_shapes_to_json_and_private_text_never_leaks() -> None:
    sim = BugzillaSimulator(seed=3, private_ratio=0.3)
    private_seen = 0
    for generated in sim.messages(400):
        body = msgspec.json.decode(json.dumps(generated["payload"]))
        out = msgspec.json.decode(msgspec.json.encode(shaped(body)))
        target = body["event"]["target"]
        obj = body[target]
        the_bug = obj if target == "bug" else obj["bug"]
        if obj.get("is_private") or the_bug.get("is_private"):
            private_seen += 1
            assert set(out["bug"]) <= {"id", "is_private", target}
            assert the_bug["summary"] not in json.dumps(out)
        else:
            assert out["bug"]["id"] == the_bug["id"]
    assert private_seen > 20
