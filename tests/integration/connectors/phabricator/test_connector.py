"""The Phabricator connector through the real engine, on Bugzilla's own tables in MariaDB, against the
Conduit test double: every call it makes, in order, with its parameters, and what they did.

The cases are those of issue 12 part 4: a bug made secure, made public, a CC added, a bug without
revisions, a replay, a refused token, Phabricator down, a revision Phabricator will not edit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bugzilla_push.connectors import ConnectorFatal
from bugzilla_push.model import Result
from bugzilla_push.reports import DeliveryReport
from tests.doubles.conduit_server import ConduitServer
from tests.integration.connectors.phabricator.support import (
    REVISIONS,
    SEARCH,
    TOKEN,
    World,
    build_world,
    change,
    engine_for,
    enqueue,
    phabricator,
    run,
)
from tests.support import backlog_ids, log_rows

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bugzilla_push.engine import Engine
    from bugzilla_push.store import Store
    from tests.fakes import FakeClock

# Bugzilla as bugzilla.mozilla.org runs it: MariaDB (the shared `store` fixture, on this database only).
pytestmark = [pytest.mark.integration, pytest.mark.parametrize("db_url", ["mysql"], indirect=True)]

SECURE = ("bug.modify:groups",)
EDIT = "differential.revision.edit"


@pytest.fixture
def world(store: Store, db_url: str) -> Iterator[World]:
    with ConduitServer(TOKEN) as conduit:
        yield build_world(store, db_url, conduit)


@pytest.fixture
def engine(store: Store, clock: FakeClock) -> Engine:
    return engine_for(store, clock)


def make_secure(world: World, store: Store, engine: Engine) -> DeliveryReport:
    world.tables.add_to_group(world.bug, world.groups["core-security"])
    enqueue(store, change(world.bug, "groups", is_private=True))
    report = run(engine, phabricator(world))
    assert isinstance(report, DeliveryReport)
    return report


def test_a_bug_made_secure_gives_its_revisions_a_custom_policy_its_group_project_and_its_people(
    world: World, store: Store, engine: Engine
) -> None:
    report = make_secure(world, store, engine)

    conduit, projects, phids, users = world.conduit, world.projects, world.phids, world.users
    calls = conduit.calls()
    assert [c.method for c in calls] == [
        "differential.revision.search",
        "project.search",
        "project.search",
        "policy.create",
        "bugzilla.account.search",
        "user.search",
        EDIT,
        EDIT,
    ]
    assert calls[0].params == SEARCH
    assert calls[1].params == {"queryKey": "all", "constraints": {"name": "secure-revision"}}
    assert calls[2].params == {"queryKey": "all", "constraints": {"name": "bmo-core-security"}}
    assert calls[3].params == {
        "objectType": "DREV",
        "default": "deny",
        "policy": [
            {"action": "allow", "rule": "PhabricatorSubscriptionsSubscribersPolicyRule"},
            {"action": "allow", "rule": "PhabricatorDifferentialReviewersPolicyRule"},
            {
                "action": "allow",
                "rule": "PhabricatorProjectsAllPolicyRule",
                "value": [projects["bmo-core-security"]],
            },
        ],
    }
    # reporter, assignee, QA contact, CC — dave has no Phabricator account
    assert calls[4].params == {"ids": [users["ada"], users["bob"], users["carol"], users["dave"]]}
    people = [phids["ada"], phids["bob"], phids["carol"]]
    assert calls[5].params == {"constraints": {"phids": people}, "attachments": {"external-accounts": True}}
    policy = next(iter(conduit.state.policies))
    for call, rev in zip(calls[6:], REVISIONS, strict=True):
        assert call.params == {
            "objectIdentifier": f"PHID-DREV-D{rev}",
            "transactions": [
                {"type": "subscribers.set", "value": people},
                {"type": "view", "value": policy},
                {"type": "edit", "value": policy},
                {
                    "type": "projects.add",
                    "value": [projects["secure-revision"], projects["bmo-core-security"]],
                },
            ],
        }
        revision = world.revision(rev)
        assert (revision.view, revision.edit) == (policy, policy)
        assert revision.projects == [projects["secure-revision"], projects["bmo-core-security"]]
        assert revision.subscribers == people
    assert all(c.token == TOKEN and c.error_code is None for c in calls)
    assert report.sent == 1
    assert [r for _, r in log_rows(store, "phabricator")] == [Result.OK]


def test_a_bug_made_public_makes_its_revisions_public_and_drops_the_group_projects(
    world: World, store: Store, engine: Engine
) -> None:
    make_secure(world, store, engine)
    world.conduit.forget_calls()
    world.tables.remove_from_groups(world.bug)
    enqueue(store, change(world.bug, "groups"))

    report = run(engine, phabricator(world))

    projects = world.projects
    calls = world.conduit.calls()
    assert [c.method for c in calls] == [
        "differential.revision.search",
        "project.search",
        "project.search",
        EDIT,
        EDIT,
    ]
    assert calls[1].params == {"queryKey": "all", "constraints": {"name": "bmo-editbugs-team"}}
    on_revisions = sorted([projects["secure-revision"], projects["bmo-core-security"]])
    assert calls[2].params == {"queryKey": "all", "constraints": {"phids": on_revisions}}
    for call, rev in zip(calls[3:], REVISIONS, strict=True):
        assert call.params == {
            "objectIdentifier": f"PHID-DREV-D{rev}",
            "transactions": [
                {"type": "view", "value": "public"},
                {"type": "edit", "value": projects["bmo-editbugs-team"]},
                {"type": "projects.remove", "value": on_revisions},
            ],
        }
        revision = world.revision(rev)
        assert (revision.view, revision.edit, revision.projects) == (
            "public",
            projects["bmo-editbugs-team"],
            [],
        )
    assert isinstance(report, DeliveryReport)
    assert report.sent == 1


def test_a_cc_added_to_a_secure_bug_sets_the_revisions_subscribers_and_nothing_else(
    world: World, store: Store, engine: Engine
) -> None:
    make_secure(world, store, engine)
    world.conduit.forget_calls()
    world.tables.add_cc(world.bug, world.users["erin"])
    enqueue(store, change(world.bug, "cc", is_private=True))

    run(engine, phabricator(world))

    phids, users = world.phids, world.users
    calls = world.conduit.calls()
    assert [c.method for c in calls] == [
        "differential.revision.search",
        "bugzilla.account.search",
        "user.search",
        EDIT,
        EDIT,
    ]
    assert calls[1].params == {"ids": [users[n] for n in ("ada", "bob", "carol", "dave", "erin")]}
    people = [phids[n] for n in ("ada", "bob", "carol", "erin")]
    for call, rev in zip(calls[3:], REVISIONS, strict=True):
        assert call.params == {
            "objectIdentifier": f"PHID-DREV-D{rev}",
            "transactions": [{"type": "subscribers.set", "value": people}],
        }
        assert world.revision(rev).subscribers == people


def test_a_bug_without_revisions_or_a_change_that_does_not_matter_makes_no_call(
    world: World, store: Store, engine: Engine
) -> None:
    world.tables.add_to_group(world.plain_bug, world.groups["core-security"])
    ids = enqueue(
        store,
        change(world.plain_bug, "groups", is_private=True),  # no revision attachments
        change(world.bug, "status", "resolution"),  # not a group, assignee, QA or CC change
        change(world.bug, "cc"),  # a public bug and not a group change: BMO changes nothing
    )

    report = run(engine, phabricator(world))

    assert world.conduit.calls() == []
    assert log_rows(store, "phabricator") == [
        (ids[0], Result.IGNORED),
        (ids[1], Result.IGNORED),
        (ids[2], Result.OK),
    ]
    assert isinstance(report, DeliveryReport)
    assert (report.sent, report.ignored) == (1, 2)


def test_a_replayed_message_only_looks_and_changes_nothing(
    world: World, store: Store, engine: Engine
) -> None:
    make_secure(world, store, engine)
    before = {rev: vars(world.revision(rev)).copy() for rev in REVISIONS}
    policies = dict(world.conduit.state.policies)
    world.conduit.forget_calls()
    enqueue(store, change(world.bug, "groups", is_private=True))  # the same change, delivered again

    report = run(engine, phabricator(world))

    calls = world.conduit.calls()
    assert [c.method for c in calls] == [
        "differential.revision.search",
        "project.search",
        "project.search",
        "policy.query",  # the revisions' custom policy already names bmo-core-security: kept
        "bugzilla.account.search",
        "user.search",
    ]
    assert calls[3].params == {"phids": [before[REVISIONS[0]]["view"]]}
    assert {rev: vars(world.revision(rev)) for rev in REVISIONS} == before
    assert world.conduit.state.policies == policies
    assert isinstance(report, DeliveryReport)
    assert report.sent == 1


def test_a_refused_token_is_connector_fatal_and_keeps_the_message_without_leaking_the_token(
    world: World, store: Store, engine: Engine
) -> None:
    world.tables.add_to_group(world.bug, world.groups["core-security"])
    [push_id] = enqueue(store, change(world.bug, "groups", is_private=True))
    wrong = "api-" + "x" * 28

    result = run(engine, phabricator(world, token=wrong))

    assert isinstance(result, ConnectorFatal)
    assert "ERR-INVALID-AUTH" in str(result)
    assert world.conduit.methods() == ["differential.revision.search"]  # the first call, refused
    assert backlog_ids(store, "phabricator") == [push_id]
    stored = (
        store.query("SELECT data FROM push_log")[0][0]
        + store.query("SELECT last_error FROM push_backlog")[0][0]
    )
    assert "ERR-INVALID-AUTH" in stored
    assert wrong not in stored
    assert wrong not in str(result)
    assert all(r.error_code == "ERR-INVALID-AUTH" for r in world.conduit.calls())


def test_phabricator_down_is_transient_the_message_waits_in_the_backlog_and_goes_once_it_is_back(
    world: World, store: Store, engine: Engine, clock: FakeClock
) -> None:
    world.tables.add_to_group(world.bug, world.groups["core-security"])
    first, second = enqueue(
        store, change(world.bug, "groups", is_private=True), change(world.bug, "cc", is_private=True)
    )
    world.conduit.go_down(503)

    report = run(engine, phabricator(world))

    assert isinstance(report, DeliveryReport)
    assert report.state == "backing_off"
    assert world.conduit.methods() == ["differential.revision.search"]
    assert backlog_ids(store, "phabricator") == [first, second]
    assert log_rows(store, "phabricator") == [(first, Result.TRANSIENT)]
    assert (
        "HTTP 503"
        in store.query("SELECT last_error FROM push_backlog WHERE message_id = %(i)s", {"i": first})[0][0]
    )
    assert all(world.revision(rev).view == "public" for rev in REVISIONS)

    world.conduit.come_back()
    world.conduit.forget_calls()
    clock.advance(10)  # past the first backoff
    report = run(engine, phabricator(world))

    assert isinstance(report, DeliveryReport)
    assert backlog_ids(store, "phabricator") == []
    assert log_rows(store, "phabricator")[1:] == [(first, Result.OK), (second, Result.OK)]
    assert world.conduit.methods().count(EDIT) == 2  # the second message found nothing left to change
    assert all(world.revision(rev).view.startswith("PHID-PLCY-") for rev in REVISIONS)


def test_a_revision_phabricator_will_not_edit_rejects_that_message_and_the_next_goes_on(
    world: World, store: Store, engine: Engine
) -> None:
    world.tables.add_to_group(world.bug, world.groups["core-security"])
    world.conduit.fail(EDIT, "ERR-CONDUIT-CORE", "You do not have permission to edit this object.")
    rejected, plain = enqueue(
        store,
        change(world.bug, "groups", is_private=True),
        change(world.plain_bug, "groups", is_private=True),
    )

    run(engine, phabricator(world))

    assert log_rows(store, "phabricator") == [(rejected, Result.ERROR), (plain, Result.IGNORED)]
    [(dead_id, reason)] = store.query("SELECT message_id, reason FROM push_dead_letter")
    assert dead_id == rejected
    assert "differential.revision.edit: ERR-CONDUIT-CORE: You do not have permission" in reason
    assert backlog_ids(store, "phabricator") == []
