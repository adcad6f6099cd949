"""The Phabricator connector's less common cases, straight through `send`, on Bugzilla's tables in SQLite
and the Conduit test double: missing projects, missing revisions, private attachments, paging,
several groups, a group swapped for another, and the failures that are not Phabricator's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bugzilla_push.bugzilla import BugzillaReader
from bugzilla_push.connectors import ConnectorFatal, raise_if_fatal
from bugzilla_push.connectors.phabricator import PhabricatorConnector
from bugzilla_push.model import PushRow, Result, parse_message
from bugzilla_push.store import open_store
from tests.doubles.conduit_server import ConduitServer
from tests.integration.connectors.phabricator.support import (
    REVISIONS,
    TOKEN,
    World,
    build_world,
    change,
    phabricator,
)
from tests.support import store_now

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from bugzilla_push.connectors.base import Outcome
    from bugzilla_push.model import PushMessage
    from bugzilla_push.store import NewMessage

pytestmark = pytest.mark.integration


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    url = f"sqlite:///{tmp_path}/bugs.db"
    with open_store(url) as store, ConduitServer(TOKEN) as conduit:
        yield build_world(store, url, conduit)


def parsed(*messages: NewMessage) -> list[PushMessage]:
    return [
        parse_message(PushRow(i, store_now(), m.payload, m.change_set, m.routing_key), 1 << 20)
        for i, m in enumerate(messages, 1)
    ]


def send(connector: PhabricatorConnector, *messages: NewMessage) -> list[Outcome]:
    with connector:
        batch = [m for m in parsed(*messages) if connector.should_send(m)]
        assert len(batch) == len(messages)
        return raise_if_fatal(connector.send(batch))


def secure(world: World, *groups: str) -> NewMessage:
    for group in groups:
        world.tables.add_to_group(world.bug, world.groups[group])
    return change(world.bug, "groups", is_private=True)


def test_a_missing_group_project_is_created_as_bmos_feed_daemon_creates_it(world: World) -> None:
    [outcome] = send(phabricator(world), secure(world, "legal"))

    assert outcome.result is Result.OK
    state, secure_phid = world.conduit.state, world.projects["secure-revision"]
    [create] = world.conduit.calls("project.edit")
    assert create.params == {
        "transactions": [
            {"type": "name", "value": "bmo-legal"},
            {"type": "description", "value": "BMO Security Group for legal"},
            {"type": "edit", "value": secure_phid},
            {"type": "join", "value": secure_phid},
            {"type": "view", "value": secure_phid},
            {"type": "icon", "value": "group"},
            {"type": "color", "value": "red"},
            {"type": "members.add", "value": [state.bot]},
        ]
    }
    assert world.conduit.methods().index("user.whoami") < world.conduit.methods().index("project.edit")
    legal = state.project_named("bmo-legal")
    assert legal is not None
    assert legal.members == [state.bot]
    assert all(legal.phid in world.revision(rev).projects for rev in REVISIONS)


def test_without_project_creation_a_missing_group_project_is_transient_and_nothing_changes(
    world: World,
) -> None:
    [outcome] = send(phabricator(world, create_projects=False), secure(world, "legal"))

    assert outcome.result is Result.TRANSIENT
    assert "no project 'bmo-legal' for group 'legal' yet" in (outcome.detail or "")
    assert "project.edit" not in world.conduit.methods()
    assert world.conduit.calls("differential.revision.edit") == []


def test_no_secure_revision_project_is_connector_fatal(world: World) -> None:
    del world.conduit.state.projects[world.projects["secure-revision"]]
    with pytest.raises(ConnectorFatal, match="no project 'secure-revision'"):
        send(phabricator(world), secure(world, "core-security"))
    assert world.conduit.calls("differential.revision.edit") == []


def test_a_bug_in_two_groups_needs_members_of_both_projects(world: World) -> None:
    legal = world.conduit.state.add_project("bmo-legal")
    send(phabricator(world), secure(world, "core-security", "legal"))

    [create] = world.conduit.calls("policy.create")
    assert create.params["policy"][-1]["value"] == [
        world.projects["bmo-core-security"],
        legal,
    ]  # by group name
    assert world.revision(REVISIONS[0]).projects == [
        world.projects["secure-revision"],
        world.projects["bmo-core-security"],
        legal,
    ]


def test_a_group_swapped_for_another_gets_a_new_policy(world: World) -> None:
    legal = world.conduit.state.add_project("bmo-legal")
    send(phabricator(world), secure(world, "core-security"))
    first_policy = world.revision(REVISIONS[0]).view
    world.tables.remove_from_groups(world.bug)
    world.conduit.forget_calls()

    send(phabricator(world), secure(world, "legal"))

    assert world.conduit.methods()[:5] == [
        "differential.revision.search",
        "project.search",
        "project.search",
        "policy.query",
        "policy.create",
    ]
    revision = world.revision(REVISIONS[0])
    assert revision.view != first_policy
    assert world.conduit.state.policies[revision.view].rules[-1]["value"] == [legal]
    # BMO's make_private adds tags and never removes any: the old group's project stays on the revision.
    assert revision.projects == [
        world.projects["secure-revision"],
        world.projects["bmo-core-security"],
        legal,
    ]


def test_a_revision_gone_from_phabricator_is_skipped_as_bmo_skips_it(world: World) -> None:
    world.tables.add_revision_attachment(world.bug, world.users["ada"], 999)
    [outcome] = send(phabricator(world), secure(world, "core-security"))

    assert outcome.result is Result.OK
    [search] = world.conduit.calls("differential.revision.search")
    assert search.params["constraints"] == {"ids": [*REVISIONS, 999]}
    assert [c.params["objectIdentifier"] for c in world.conduit.calls("differential.revision.edit")] == [
        "PHID-DREV-D101",
        "PHID-DREV-D102",
    ]


def test_private_revision_attachments_count_only_when_asked(world: World) -> None:
    world.conduit.state.add_revision(103, world.bug)
    world.tables.add_revision_attachment(world.plain_bug, world.users["ada"], 103, is_private=True)
    world.tables.add_to_group(world.plain_bug, world.groups["core-security"])
    message = change(world.plain_bug, "groups", is_private=True)

    [outcome] = send(phabricator(world), message)
    assert outcome.result is Result.IGNORED
    assert world.conduit.calls() == []

    [outcome] = send(phabricator(world, include_private_attachments=True), message)
    assert outcome.result is Result.OK
    assert world.conduit.state.revisions[103].view.startswith("PHID-PLCY-")


def test_an_attachment_change_of_a_bugs_groups_is_handled_like_the_bugs(world: World) -> None:
    world.tables.add_to_group(world.bug, world.groups["core-security"])
    [outcome] = send(phabricator(world), change(world.bug, "groups", is_private=True, target="attachment"))
    assert outcome.result is Result.OK
    assert len(world.conduit.calls("differential.revision.edit")) == 2


def test_users_are_found_through_every_page(world: World) -> None:
    world.conduit.state.page_size = 2
    [outcome] = send(phabricator(world), secure(world, "core-security"))
    assert outcome.result is Result.OK
    assert len(world.conduit.calls("user.search")) == 2
    people = [world.phids[n] for n in ("ada", "bob", "carol")]
    assert world.revision(REVISIONS[0]).subscribers == people


def test_without_a_bugzilla_database_the_connector_is_fatal_and_an_unreadable_one_is_transient(
    world: World, tmp_path: Path
) -> None:
    connector = PhabricatorConnector("phabricator", world.conduit.url, TOKEN)
    with pytest.raises(ConnectorFatal, match="reads Bugzilla's tables but was given no database"):
        raise_if_fatal(connector.send(parsed(secure(world, "core-security"))))

    connector.use_bugzilla(BugzillaReader.from_url(f"sqlite:///{tmp_path}/empty.db"))
    [outcome] = connector.send(parsed(change(world.bug, "cc", is_private=True)))
    connector.close()
    assert outcome.result is Result.TRANSIENT
    assert "cannot read Bugzilla's database" in (outcome.detail or "")
    assert world.conduit.calls() == []
