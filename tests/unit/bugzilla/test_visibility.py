"""Who may see what, as `Bugzilla/User.pm` decides it, on SQLite with Bugzilla's own DDL; and the
`webhooks` table read with its `push_options` enabled flags."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bugzilla_push.bugzilla import BugzillaReader
from bugzilla_push.bugzilla.visibility import Visibility
from bugzilla_push.bugzilla.webhooks import TableWebhook, read_webhooks, webhook_id_of
from bugzilla_push.connectors.webhook.bmo_rules import owner_can_see
from bugzilla_push.store import open_store
from tests.bugzilla_tables import BugzillaTables
from tests.unit.connectors.webhook.messages import bug, comment, payload

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def tables(tmp_path: Path) -> Iterator[BugzillaTables]:
    with open_store(f"sqlite:///{tmp_path}/bugs.db") as store:
        store.create_schema()  # push_options
        yield BugzillaTables(store).create()


@pytest.fixture
def reader(tables: BugzillaTables) -> BugzillaReader:
    return BugzillaReader(lambda: tables.store)


def test_group_membership_direct_and_through_other_groups(
    tables: BugzillaTables, reader: BugzillaReader
) -> None:
    ada, bob, eve, nobody = (tables.add_user(f"{u}@example.org") for u in ("ada", "bob", "eve", "nobody"))
    tables.add_product("Firefox")
    security, staff = tables.add_group("core-security"), tables.add_group("mozilla-employee-confidential")
    tables.add_member(ada, security)
    tables.add_member(bob, staff)
    tables.add_group_member(staff, security)  # every member of staff is a member of core-security
    secret, public = tables.add_bug(nobody, nobody), tables.add_bug(nobody, nobody)
    tables.add_to_group(secret, security)
    seen = Visibility(reader, insidergroup="mozilla-employee-confidential")
    assert seen.groups(bob) == {staff, security}
    assert [seen.can_see_bug(u, secret) for u in (ada, bob, eve)] == [True, True, False]
    assert all(seen.can_see_bug(u, public) for u in (ada, bob, eve))
    assert [seen.is_insider(u) for u in (ada, bob, eve)] == [False, True, False]
    assert seen.can_see_bug(ada, 999) is False  # no such bug
    assert Visibility(reader, insidergroup=None).is_insider(bob) is False


def test_a_bugs_people_see_it_as_bugzilla_allows(tables: BugzillaTables, reader: BugzillaReader) -> None:
    reporter, assignee, qa, cc, other = (
        tables.add_user(f"{u}@example.org") for u in ("r", "a", "q", "c", "o")
    )
    tables.add_product("Firefox")
    group = tables.add_group("core-security")
    secret = tables.add_bug(reporter, assignee, qa_contact=qa)
    tables.add_to_group(secret, group)
    tables.add_cc(secret, cc)
    seen = Visibility(reader, None)
    assert [seen.can_see_bug(u, secret) for u in (reporter, assignee, qa, cc, other)] == [True] * 4 + [False]
    tables._run("UPDATE bugs SET reporter_accessible = 0, cclist_accessible = 0", {})
    fresh = Visibility(reader, None, use_qa_contact=False)
    assert [fresh.can_see_bug(u, secret) for u in (reporter, assignee, qa, cc)] == [False, True, False, False]


def test_a_mandatory_group_hides_a_product(tables: BugzillaTables, reader: BugzillaReader) -> None:
    ada, eve = tables.add_user("ada@example.org"), tables.add_user("eve@example.org")
    tables.add_product("Firefox")
    hidden = tables.add_product("Legal")
    legal = tables.add_group("legal")
    tables.add_member(ada, legal)
    tables.make_mandatory(hidden, legal)
    seen = Visibility(reader, None)
    assert [seen.can_see_product(u, "Legal") for u in (ada, eve)] == [True, False]
    assert [seen.can_see_product(u, "Firefox") for u in (ada, eve)] == [True, True]


def test_owner_can_see_as_webhook_pm_decides(tables: BugzillaTables, reader: BugzillaReader) -> None:
    insider, member, outsider, nobody = (tables.add_user(f"{u}@example.org") for u in ("i", "m", "o", "n"))
    tables.add_product("Firefox")
    security, staff = tables.add_group("core-security"), tables.add_group("insiders")
    for user in (insider, member):
        tables.add_member(user, security)
    tables.add_member(insider, staff)
    secret = tables.add_bug(nobody, nobody)
    tables.add_to_group(secret, security)
    seen = Visibility(reader, "insiders")
    private_bug = bug(secret, is_private=True)
    change = payload("bug", private_bug, "modify", [{"field": "status", "removed": "NEW", "added": "FIXED"}])
    went_private = payload("bug", private_bug, "modify", routing_key="bug.modify:is_private")
    hidden_comment = payload("comment", comment(bug(secret), is_private=True))

    def who(body: dict) -> list[bool]:
        return [
            owner_can_see(seen, u, body["event"]["routing_key"], body) for u in (insider, member, outsider)
        ]

    assert who(change) == [True, True, False]
    assert who(went_private) == [True, True, True]  # BMO tells everyone the bug went private
    assert who(hidden_comment) == [True, False, False]  # a private comment needs the insider group


def test_the_webhooks_table_with_names_and_enabled_flags(
    tables: BugzillaTables, reader: BugzillaReader
) -> None:
    ada = tables.add_user("ada@example.org")
    firefox = tables.add_product("Firefox", ("General", "Toolbars"))
    toolbars = tables.component_id("Firefox", "Toolbars")
    one = tables.add_webhook(ada, "all", "https://a.example/hook")
    two = tables.add_webhook(
        ada, "toolbars", "https://b.example/hook", "change", firefox, toolbars, "X-Key", "s3"
    )
    three = tables.add_webhook(ada, "off", "https://c.example/hook", "comment", firefox)
    tables.set_push_option(f"Webhook_{three}", "enabled", "Disabled")
    tables.set_push_option(f"Webhook_{one}", "enabled", "Enabled")
    hooks = read_webhooks(reader)
    assert hooks == [
        TableWebhook(one, ada, "all", "https://a.example/hook", "create,change,comment,attachment"),
        TableWebhook(
            two, ada, "toolbars", "https://b.example/hook", "change", "Firefox", "Toolbars", "X-Key", "s3"
        ),
        TableWebhook(three, ada, "off", "https://c.example/hook", "comment", "Firefox", "Any", enabled=False),
    ]
    assert "s3" not in repr(hooks[1])
    assert [webhook_id_of(h.connector) for h in hooks] == [one, two, three]
    assert webhook_id_of("webhook_a") is None
    assert webhook_id_of("Webhook_x") is None
