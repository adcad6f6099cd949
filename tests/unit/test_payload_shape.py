"""Reading a payload of either vintage in today's shape."""

from __future__ import annotations

import copy

from bugzilla_push.payload_shape import current_body, current_bug, current_field, current_routing_key
from bugzilla_push.samples import BugzillaSimulator, render


def test_every_legacy_payload_reads_exactly_as_the_same_change_written_today() -> None:
    changes = list(BugzillaSimulator(seed=11, private_ratio=0.3).changes(1500))
    assert {c.target for c in changes} == {"bug", "comment", "attachment"}
    for change in changes:
        legacy, current = render(change, "legacy")["payload"], render(change, "current")["payload"]
        before = copy.deepcopy(legacy)
        assert current_body(legacy) == current
        assert legacy == before  # not modified


def test_a_payload_in_todays_shape_is_left_as_it_is() -> None:
    for row in BugzillaSimulator(seed=12, private_ratio=0.3).messages(500):
        assert current_body(row["payload"]) == row["payload"]
        bug = row["payload"].get("bug")
        if bug is not None:
            assert current_bug(bug) is bug  # nothing to change: not even copied


def test_column_names_become_rest_names_and_others_stay() -> None:
    assert [current_field(f) for f in ("bug_status", "short_desc", "bug_group", "reporter", "op_sys")] == [
        "status",
        "summary",
        "groups",
        "creator",
        "op_sys",  # not in Bugzilla::Bug::FIELD_MAP: the same in both shapes
    ]
    assert current_routing_key("bug.modify:bug_group,bug_status,cf_status_firefox135") == (
        "bug.modify:groups,status,cf_status_firefox135"
    )
    assert current_routing_key("comment.create") == "comment.create"


def test_odd_legacy_values_are_read_as_bugzilla_means_them() -> None:
    bug = {
        "id": 1,
        "alias": None,
        "creator": {"id": 3, "login": "ann@example.org"},
        "reporter": {"id": 4, "login": "bob@example.org"},
        "qa_contact": None,
        "target_milestone": {"id": 9, "name": "Firefox 140"},
    }
    assert current_bug(bug) == {
        "id": 1,
        "alias": "",
        "creator": "ann@example.org",
        "creator_detail": {"id": 3, "login": "ann@example.org"},
        "qa_contact": "",
        "target_milestone": "Firefox 140",
    }
