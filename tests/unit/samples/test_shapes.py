"""The two payload shapes, checked field by field against BMO's serialiser.

Current: mozilla-bteam/bmo `extensions/Push/lib/Serialize.pm` since Bug 1693908 (2021). Legacy: the
same file before it (`4c59560f5^`) and before Bug 1682600 (change fields by column name). Routing
keys: `extensions/Push/Extension.pm` `_push_object`, fields in the order of `sort keys %$changes`.
"""

from __future__ import annotations

import pytest

from bugzilla_push.samples.shapes import (
    Attachment,
    Bug,
    BugzillaChange,
    Comment,
    FieldChange,
    Flag,
    Named,
    User,
    render,
)

ADA = User(40001, "ada@example.org", "Ada Lovelace [:ada]")
GLOB = User(13647, "glob@example.org", "byron jones [:glob]")
BUG = Bug(
    id=1900001,
    summary="Crash in nsDocShell::LoadURI",
    product=Named(1, "Core"),
    component=Named(501, "Networking"),
    reporter=ADA,
    assigned_to=GLOB,
    creation_time="2026-11-02T09:00:00",
    last_change_time="2026-11-02T09:05:00",
    status=Named(3, "RESOLVED"),
    resolution="FIXED",
    flags=(Flag(7, "needinfo", "?", ADA),),
    custom={"cf_status_firefox135": "---", "cf_status_firefox136": "affected"},
)
RESOLVED = BugzillaChange(
    target="bug",
    action="modify",
    bug=BUG,
    user=GLOB,
    time="2026-11-02T09:05:00",
    change_set="4242.1793610300.12345",
    changes=(
        FieldChange("resolution", "", "FIXED"),
        FieldChange("bug_status", "ASSIGNED", "RESOLVED"),
        FieldChange("bug_group", "", "core-security"),
        FieldChange("priority", "--", "P1"),
    ),
)


def test_current_shape_users_are_logins_with_details_and_names_are_strings() -> None:
    bug = render(RESOLVED, "current")["payload"]["bug"]
    assert bug["assigned_to"] == "glob@example.org"
    assert bug["assigned_to_detail"] == {
        "id": 13647,
        "login": "glob@example.org",
        "real_name": "byron jones [:glob]",
    }
    assert (bug["creator"], bug["creator_detail"]["id"]) == ("ada@example.org", 40001)
    assert "reporter" not in bug
    assert (bug["qa_contact"], "qa_contact_detail" in bug) == ("", False)  # unset: "" and no detail
    assert (bug["product"], bug["component"], bug["status"], bug["version"]) == (
        "Core",
        "Networking",
        "RESOLVED",
        "unspecified",
    )
    assert bug["target_milestone"] == "---"  # _string, not _select
    assert (bug["priority"], bug["alias"], bug["url"]) == ("", "", "")
    assert (bug["cf_status_firefox135"], bug["cf_status_firefox136"]) == ("", "affected")
    assert bug["flags"] == [
        {
            "id": 7,
            "name": "needinfo",
            "value": "?",
            "requestee": {"id": 40001, "login": "ada@example.org", "real_name": "Ada Lovelace [:ada]"},
        }
    ]


def test_legacy_shape_has_objects_user_objects_and_null_for_unset() -> None:
    bug = render(RESOLVED, "legacy")["payload"]["bug"]
    assert bug["assigned_to"] == {
        "id": 13647,
        "login": "glob@example.org",
        "real_name": "byron jones [:glob]",
    }
    assert bug["reporter"]["login"] == "ada@example.org"
    assert "creator" not in bug
    assert "assigned_to_detail" not in bug
    assert bug["qa_contact"] is None
    assert bug["product"] == {"id": 1, "name": "Core"}
    assert bug["component"] == {"id": 501, "name": "Networking"}
    assert bug["status"] == {"id": 3, "name": "RESOLVED"}
    assert bug["version"] == {"id": 355, "name": "unspecified"}
    assert bug["target_milestone"] is None  # no milestone object for ---
    assert bug["priority"] == ""


def test_change_fields_and_the_routing_key_are_named_by_each_shape_in_column_order() -> None:
    legacy, current = render(RESOLVED, "legacy"), render(RESOLVED, "current")
    assert legacy["payload"]["event"]["routing_key"] == "bug.modify:bug_group,bug_status,priority,resolution"
    # Sorted by column name, then renamed: today's keys are not in alphabetical order.
    assert current["payload"]["event"]["routing_key"] == "bug.modify:groups,status,priority,resolution"
    assert [c["field"] for c in current["payload"]["event"]["changes"]] == [
        "groups",
        "status",
        "priority",
        "resolution",
    ]
    priority = current["payload"]["event"]["changes"][2]
    assert (priority["removed"], priority["added"]) == ("", "P1")  # _select in changes_to_event
    for row in (legacy, current):
        assert row["routing_key"] == row["payload"]["event"]["routing_key"]
        assert row["change_set"] == row["payload"]["event"]["change_set"] == "4242.1793610300.12345"
        assert set(row["payload"]) == {"bug", "event"}


def test_a_key_over_64_characters_is_stored_as_the_column_keeps_it() -> None:
    fields = [f"cf_{k}_firefox{n}" for k in ("status", "tracking") for n in (135, 136, 137)]
    change = BugzillaChange(
        "bug",
        "modify",
        BUG,
        GLOB,
        "2026-11-02T09:05:00",
        "1.2",
        tuple(FieldChange(f, "---", "affected") for f in fields),
    )
    row = render(change)
    whole = "bug.modify:" + ",".join(fields)
    assert row["payload"]["event"]["routing_key"] == whole
    assert row["routing_key"] == whole[:64]


@pytest.mark.parametrize("shape", ["legacy", "current"])
def test_comments_and_attachments_carry_their_bug_and_an_attachment_of_a_private_bug_is_private(
    shape: str,
) -> None:
    secret = Bug(**{**BUG.__dict__, "groups": ("core-security",)})
    comment = Comment(16000001, "I can reproduce this.", "2026-11-02T09:06:00", 2)
    attachment = Attachment(
        9300001, "patch", "fix.patch", "text/plain", "2026-11-02T09:06:00", "2026-11-02T09:06:00"
    )
    on_comment = render(BugzillaChange("comment", "create", secret, ADA, "t", "1.3", comment=comment), shape)
    on_attachment = render(
        BugzillaChange("attachment", "create", secret, ADA, "t", "1.4", attachment=attachment), shape
    )
    assert on_comment["routing_key"] == "comment.create"
    assert on_comment["payload"]["comment"]["is_private"] is False  # a comment's own flag only
    assert on_comment["payload"]["comment"]["bug"]["is_private"] is True
    assert on_attachment["payload"]["attachment"]["is_private"] is True  # !is_public($attachment)
    assert "changes" not in on_attachment["payload"]["event"]


def test_an_unknown_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown payload shape 'v3'"):
        render(RESOLVED, "v3")  # type: ignore[arg-type]
