"""The Bugzilla reader on SQLite with Bugzilla's own DDL (`tests/bugzilla_tables.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bugzilla_push.bugzilla import Attachment, Bug, BugzillaReader, BugzillaUnavailable, Group
from bugzilla_push.store import open_store
from tests.bugzilla_tables import BugzillaTables

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/bugs.db"


@pytest.fixture
def tables(url: str) -> Iterator[BugzillaTables]:
    with open_store(url) as store:
        yield BugzillaTables(store).create()


@pytest.fixture
def reader(url: str, tables: BugzillaTables) -> Iterator[BugzillaReader]:
    r = BugzillaReader.from_url(url)
    yield r
    r.close()


def test_reads_a_bugs_people_groups_cc_and_attachments(
    tables: BugzillaTables, reader: BugzillaReader
) -> None:
    ada, bob, nobody = (
        tables.add_user(u) for u in ("ada@example.org", "bob@example.org", "nobody@mozilla.org")
    )
    security, legal = tables.add_group("core-security"), tables.add_group("legal")
    bug = tables.add_bug(reporter=ada, assigned_to=nobody, qa_contact=bob)
    tables.add_to_group(bug, security)
    tables.add_to_group(bug, legal)
    tables.add_cc(bug, bob)
    tables.add_cc(bug, ada)
    patch = tables.add_attachment(bug, ada, "fix.patch", mimetype="text/plain")
    revision = tables.add_revision_attachment(bug, ada, 123)
    hidden = tables.add_revision_attachment(bug, ada, 124, is_private=True)

    assert reader.bug(bug) == Bug(bug, ada, nobody, "nobody@mozilla.org", bob)
    assert reader.bug_groups(bug) == [Group(security, "core-security"), Group(legal, "legal")]
    assert reader.cc(bug) == sorted([ada, bob])
    assert [a.id for a in reader.attachments(bug)] == [patch, revision, hidden]
    assert reader.attachments(bug, "text/x-phabricator-request", include_private=False) == [
        Attachment(revision, bug, "phabricator-D123-url.txt", "text/x-phabricator-request", False, False)
    ]
    assert reader.logins([ada, nobody, 999]) == {ada: "ada@example.org", nobody: "nobody@mozilla.org"}
    assert reader.logins([]) == {}


def test_a_missing_bug_or_one_still_being_created_is_none(
    tables: BugzillaTables, reader: BugzillaReader
) -> None:
    ada = tables.add_user("ada@example.org")
    bug = tables.add_bug(reporter=ada, assigned_to=ada)
    tables._run("UPDATE bugs SET creation_ts = NULL WHERE bug_id = %(b)s", {"b": bug})
    assert reader.bug(bug) is None
    assert reader.bug(bug + 1) is None
    assert reader.bug_groups(bug + 1) == []


def test_a_failed_read_says_so_and_the_next_read_opens_a_new_connection(tmp_path: Path) -> None:
    opened: list[int] = []
    url = f"sqlite:///{tmp_path}/bugs.db"

    def open_db():  # noqa: ANN202
        opened.append(1)
        return open_store(url)

    reader = BugzillaReader(open_db)
    with pytest.raises(BugzillaUnavailable, match="cannot read Bugzilla's database: OperationalError"):
        reader.bug(1)  # no tables yet
    with open_store(url) as store:
        BugzillaTables(store).create()
    assert reader.bug(1) is None
    assert len(opened) == 2
    reader.close()


def test_a_database_that_cannot_be_opened_is_unavailable() -> None:
    def refuse():  # noqa: ANN202
        raise ConnectionRefusedError("no database here")

    with pytest.raises(BugzillaUnavailable, match="ConnectionRefusedError: no database here"):
        BugzillaReader(refuse).cc(1)
