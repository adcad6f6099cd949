"""The Phabricator connector's decisions, as BMO makes them (`Push/lib/Connector/Phabricator.pm`,
`PhabBugz/lib/{Revision,Policy,Util}.pm`), without I/O."""

from __future__ import annotations

import pytest

from bugzilla_push.bugzilla import Attachment, Bug, Group
from bugzilla_push.connectors.phabricator.policy import (
    PHAB_CONTENT_TYPE,
    Action,
    Revision,
    Target,
    decide,
    is_group_change,
    is_group_project,
    is_public,
    new_policy,
    policy_projects,
    project_names,
    revision_ids,
    role_user_ids,
    transactions,
    wants,
)


@pytest.mark.parametrize(
    ("key", "wanted", "groups"),
    [
        ("bug.modify:groups", True, True),
        ("bug.modify:cc", True, False),
        ("bug.modify:assigned_to,status", True, False),
        ("bug.modify:priority,qa_contact", True, False),
        ("attachment.modify:groups", True, True),
        ("bug.modify:cf_status_firefox135,groups,keywords", True, True),
        ("bug.modify:status", False, False),
        ("bug.modify:cc_list_accessible", False, False),  # a whole word only
        ("bug.create", False, False),
        ("comment.create", False, False),
        ("bug.modify:cf_tracking_firefox136,cc", True, False),
    ],
)
def test_routing_keys_that_matter_are_group_assignee_qa_and_cc_changes(
    key: str, wanted: bool, groups: bool
) -> None:
    assert wants(key) is wanted
    assert is_group_change(key) is groups


@pytest.mark.parametrize(
    ("public", "group_change", "action"),
    [
        (True, True, Action.MAKE_PUBLIC),
        (False, True, Action.MAKE_PRIVATE),
        (False, False, Action.SUBSCRIBERS),
        (True, False, Action.NOTHING),
    ],
)
def test_what_a_message_asks_of_the_revisions(public: bool, group_change: bool, action: Action) -> None:
    assert decide(public, group_change) is action


def test_a_bug_in_no_group_is_public() -> None:
    assert is_public([])
    assert not is_public([Group(1, "core-security")])


def attachment(filename: str, mimetype: str = PHAB_CONTENT_TYPE) -> Attachment:
    return Attachment(1, 1, filename, mimetype, False, False)


def test_revision_ids_come_from_phabricator_attachments_file_names_once_each() -> None:
    attachments = [
        attachment("phabricator-D123-url.txt"),
        attachment("phabricator-D7-url.txt"),
        attachment("phabricator-D123-url.txt"),  # the same revision attached twice
        attachment("phabricator-D99-url.txt", mimetype="text/plain"),
        attachment("my-notes.txt"),
    ]
    assert revision_ids(attachments) == [123, 7]


def test_role_users_are_reporter_real_assignee_qa_contact_and_cc_once_each() -> None:
    bug = Bug(1, reporter=10, assigned_to=11, assignee_login="dev@example.org", qa_contact=12)
    assert role_user_ids(bug, [13, 10], "nobody@mozilla.org") == [10, 11, 12, 13]
    unassigned = Bug(1, reporter=10, assigned_to=2, assignee_login="nobody@mozilla.org", qa_contact=None)
    assert role_user_ids(unassigned, [], "nobody@mozilla.org") == [10]


def test_group_projects_are_prefixed_group_names_and_make_public_removes_them_and_secure_revision() -> None:
    assert project_names([Group(1, "core-security"), Group(2, "legal")], "bmo-") == [
        "bmo-core-security",
        "bmo-legal",
    ]
    assert is_group_project("bmo-legal", "bmo-", "secure-revision")
    assert is_group_project("secure-revision", "bmo-", "secure-revision")
    assert not is_group_project("firefox-reviewers", "bmo-", "secure-revision")


def test_a_custom_policy_allows_subscribers_reviewers_and_members_of_every_project() -> None:
    request = new_policy(["PHID-PROJ-a", "PHID-PROJ-b"])
    assert request["objectType"] == "DREV"
    assert request["default"] == "deny"
    assert [r["rule"] for r in request["policy"]] == [
        "PhabricatorSubscriptionsSubscribersPolicyRule",
        "PhabricatorDifferentialReviewersPolicyRule",
        "PhabricatorProjectsAllPolicyRule",
    ]
    assert policy_projects({"rules": request["policy"]}) == {"PHID-PROJ-a", "PHID-PROJ-b"}
    assert policy_projects(
        {"rules": [{"rule": "PhabricatorProjectsPolicyRule", "value": ["PHID-PROJ-c"]}]}
    ) == {"PHID-PROJ-c"}
    assert policy_projects({"rules": []}) == frozenset()


def test_a_revision_is_read_from_a_search_result() -> None:
    item = {
        "id": 25,
        "phid": "PHID-DREV-x",
        "fields": {"policy": {"view": "PHID-PLCY-1", "edit": "admin"}},
        "attachments": {
            "projects": {"projectPHIDs": ["PHID-PROJ-a"]},
            "subscribers": {"subscriberPHIDs": ["PHID-USER-a"], "subscriberCount": 1},
        },
    }
    revision = Revision.from_search(item)
    assert revision == Revision(
        25, "PHID-DREV-x", "PHID-PLCY-1", "admin", frozenset({"PHID-PROJ-a"}), frozenset({"PHID-USER-a"})
    )
    assert revision.has_custom_policy
    assert not Revision.from_search(
        {"id": 1, "phid": "p", "fields": {"policy": {"view": "public"}}}
    ).has_custom_policy


REVISION = Revision(
    1,
    "PHID-DREV-1",
    "public",
    "users",
    frozenset({"PHID-PROJ-other", "PHID-PROJ-bmo-legal"}),
    frozenset({"U1"}),
)


def test_only_what_differs_becomes_a_transaction_in_bmos_order() -> None:
    target = Target(
        view="PHID-PLCY-9",
        edit="PHID-PLCY-9",
        add_projects=("PHID-PROJ-secure", "PHID-PROJ-bmo-legal"),
        subscribers=("U2", "U1"),
    )
    assert transactions(REVISION, target) == [
        {"type": "subscribers.set", "value": ["U2", "U1"]},
        {"type": "view", "value": "PHID-PLCY-9"},
        {"type": "edit", "value": "PHID-PLCY-9"},
        {"type": "projects.add", "value": ["PHID-PROJ-secure"]},
    ]


def test_a_revision_already_as_wanted_needs_no_transaction() -> None:
    assert transactions(REVISION, Target(view="public", edit="users", subscribers=("U1",))) == []
    assert transactions(REVISION, Target()) == []


def test_making_public_removes_only_group_projects_the_revision_has() -> None:
    target = Target(
        view="public",
        edit="PHID-PROJ-editbugs",
        remove_projects=frozenset({"PHID-PROJ-bmo-legal", "PHID-PROJ-x"}),
    )
    assert transactions(REVISION, target) == [
        {"type": "edit", "value": "PHID-PROJ-editbugs"},
        {"type": "projects.remove", "value": ["PHID-PROJ-bmo-legal"]},
    ]
