"""Documents, bulk actions and templates of the Elasticsearch connector (pure: no services)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from bugzilla_push.connectors.elasticsearch.documents import (
    Action,
    Child,
    ChildIndex,
    bug_document,
    comment_document,
    is_public,
    plan_message,
    privacy_transition,
)
from bugzilla_push.connectors.elasticsearch.mappings import PROPERTIES, IndexNames, index_templates
from tests.elasticsearch_support import sample_messages, to_message

if TYPE_CHECKING:
    from bugzilla_push.model import PushMessage

NAMES = IndexNames("b", "c", "a", "-private")


def message(
    push_id: int, target: str, obj: dict[str, Any], action: str = "create", changes: list | None = None
) -> PushMessage:
    event = {
        "action": action,
        "target": target,
        "user": {"id": 5, "login": "[email protected]"},
        "time": "2026-11-02T09:00:00",
    }
    if changes is not None:
        event["changes"] = changes
    key = f"{target}.{action}" + (":" + ",".join(c["field"] for c in changes) if changes else "")
    return to_message(
        push_id, {"payload": {target: obj, "event": event}, "routing_key": key, "change_set": "42.1"}
    )


BUG = {
    "id": 7,
    "alias": None,
    "summary": "Crash in WebGL",
    "status": {"id": 3, "name": "RESOLVED"},
    "resolution": "FIXED",
    "product": {"id": 1, "name": "Core"},
    "component": {"id": 9, "name": "Graphics"},
    "assigned_to": {"id": 2, "login": "[email protected]", "real_name": "Ada"},
    "creator": {"id": 3, "login": "[email protected]"},
    "qa_contact": None,
    "keywords": ["crash", "regression"],
    "flags": [{"id": 1, "name": "needinfo", "value": "?"}],
    "whiteboard": "",
    "creation_time": "2026-11-01T08:00:00",
    "last_change_time": "2026-11-02T09:00:00",
    "is_private": False,
    "cf_crash_signature": "[@ nsDocShell::LoadURI]",
    "cf_empty": "",
}


def test_a_bug_document_flattens_names_and_logins_for_search() -> None:
    doc = bug_document(message(11, "bug", BUG), private=False)
    assert doc["bug_id"] == 7
    assert (doc["status"], doc["resolution"], doc["is_open"]) == ("RESOLVED", "FIXED", False)
    assert (doc["product"], doc["component"]) == ("Core", "Graphics")
    assert (doc["assigned_to"], doc["creator"], doc["qa_contact"]) == (
        "[email protected]",
        "[email protected]",
        None,
    )
    assert doc["keywords"] == ["crash", "regression"]
    assert doc["flags"] == ["needinfo?"]
    assert doc["whiteboard"] is None  # Bugzilla's "" for unset
    assert doc["alias"] == []
    assert doc["custom_fields"] == {"cf_crash_signature": "[@ nsDocShell::LoadURI]"}
    assert (doc["push_id"], doc["change_set"], doc["changed_by"]) == (11, "42.1", "[email protected]")


def test_every_document_field_is_in_the_mapping_so_strict_mappings_accept_them() -> None:
    for m in sample_messages(300, seed=2, private_ratio=0.2):
        plan = plan_message(m, NAMES, index_private=True)
        assert set(plan.source or {}) <= set(PROPERTIES[plan.kind or "bugs"]), m.routing_key


def test_a_comment_document_carries_its_bug_id_and_author() -> None:
    comment = {"id": 99, "body": "Patch attached", "number": 3, "is_private": False, "bug": BUG}
    doc = comment_document(message(12, "comment", comment))
    assert (doc["comment_id"], doc["bug_id"], doc["body"], doc["author"]) == (
        99,
        7,
        "Patch attached",
        "[email protected]",
    )
    update = comment_document(message(13, "comment", comment, action="update", changes=[]))
    assert update["author"] is None  # the event's user changed it, not necessarily wrote it


@pytest.mark.parametrize(
    ("target", "obj", "public"),
    [
        ("bug", {**BUG, "is_private": False}, True),
        ("bug", {**BUG, "is_private": True}, False),
        ("comment", {"id": 1, "is_private": True, "bug": BUG}, False),
        ("comment", {"id": 1, "is_private": False, "bug": {**BUG, "is_private": True}}, False),
        ("attachment", {"id": 1, "is_private": False, "bug": BUG}, True),
    ],
)
def test_visibility_of_bugs_comments_and_attachments(target: str, obj: dict, public: bool) -> None:
    assert is_public(message(1, target, obj)) is public


def test_the_going_private_message_built_from_the_public_side_already_means_private() -> None:
    going = message(5, "bug", BUG, "modify", [{"field": "is_private", "removed": "0", "added": "1"}])
    back = message(6, "bug", BUG, "modify", [{"field": "is_private", "removed": "1", "added": "0"}])
    assert (privacy_transition(going), is_public(going)) == ("private", False)
    assert (privacy_transition(back), is_public(back)) == ("public", True)
    assert privacy_transition(message(7, "bug", BUG, "modify", [{"field": "status", "added": "NEW"}])) is None


def test_public_objects_are_indexed_and_private_ones_deleted_with_the_push_id_as_version() -> None:
    public = plan_message(message(20, "bug", BUG), NAMES, index_private=False)
    assert [(a.op, a.index, a.doc_id, a.version) for a in public.actions] == [("index", "b", "7", 20)]
    private = plan_message(message(21, "bug", {**BUG, "is_private": True}), NAMES, index_private=False)
    assert [(a.op, a.index, a.doc_id, a.version, a.source) for a in private.actions] == [
        ("delete", "b", "7", 21, None)
    ]
    both = plan_message(message(22, "bug", {**BUG, "is_private": True}), NAMES, index_private=True)
    assert [(a.op, a.index) for a in both.actions] == [("delete", "b"), ("index", "b-private")]
    assert both.actions[1].source["is_private"] is True


def test_bulk_lines_round_trip_with_external_versioning() -> None:
    action = Action("index", "b", "7", 20, {"summary": 'ünïcode "quoted"\nline'})
    meta, source, end = action.ndjson().split(b"\n")
    assert json.loads(meta) == {
        "index": {"_index": "b", "_id": "7", "version": 20, "version_type": "external"}
    }
    assert json.loads(source) == action.source
    assert end == b""
    odd = Action("index", "b", 'a "quoted"\\id', 20, {}).ndjson().split(b"\n")[0]
    assert json.loads(odd)["index"]["_id"] == 'a "quoted"\\id'
    delete = Action("delete", "b", "7", 21).ndjson()
    assert delete.count(b"\n") == 1
    assert json.loads(delete)["delete"]["version_type"] == "external"


def test_a_sweep_moves_the_comments_a_bug_had_and_those_the_batch_wrote() -> None:
    children = ChildIndex([7])
    children.add(7, True, Child("comments", "1", {"comment_id": 1, "is_private": False}))
    later = plan_message(message(30, "comment", {"id": 2, "is_private": False, "bug": BUG}), NAMES, False)
    children.follow(later)
    going = plan_message(
        message(31, "bug", BUG, "modify", [{"field": "is_private", "removed": "0", "added": "1"}]),
        NAMES,
        False,
    )
    sweep = children.sweep(going, NAMES, index_private=False, version=31)
    assert [(a.op, a.index, a.doc_id, a.version) for a in sweep] == [
        ("delete", "c", "1", 31),
        ("delete", "c", "2", 31),
    ]
    again = children.sweep(going, NAMES, index_private=False, version=31)
    assert again == []  # already moved


def test_going_public_moves_back_only_what_is_not_private_itself_and_only_with_private_indices() -> None:
    back = plan_message(
        message(40, "bug", BUG, "modify", [{"field": "is_private", "removed": "1", "added": "0"}]),
        NAMES,
        True,
    )
    children = ChildIndex([7])
    children.add(7, False, Child("comments", "1", {"comment_id": 1, "is_private": False}))
    children.add(7, False, Child("comments", "2", {"comment_id": 2, "is_private": True}))
    assert children.sweep(back, NAMES, index_private=False, version=40) == []
    moved = children.sweep(back, NAMES, index_private=True, version=40)
    assert [(a.op, a.index, a.doc_id) for a in moved] == [("index", "c", "1"), ("delete", "c-private", "1")]


def test_templates_match_exactly_their_indices_and_type_dates_keywords_and_text() -> None:
    templates = index_templates(NAMES, "bp", index_private=True, gc_deletes="7d")
    assert sorted(templates) == ["bp-attachments", "bp-bugs", "bp-comments"]
    bugs = templates["bp-bugs"]
    assert bugs["index_patterns"] == ["b", "b-private"]
    assert bugs["template"]["settings"]["index"]["gc_deletes"] == "7d"
    props = bugs["template"]["mappings"]["properties"]
    assert props["creation_time"]["type"] == "date"
    assert props["status"]["type"] == "keyword"
    assert props["summary"]["type"] == "text"
    assert templates["bp-comments"]["template"]["mappings"]["properties"]["body"]["type"] == "text"
    assert index_templates(NAMES, "bp", False, "7d")["bp-bugs"]["index_patterns"] == ["b"]
