"""Whether Bugzilla writes every change into `push`, read from its `push_options` (SQLite here).

BMO's rules: `extensions/Push/Extension.pm` (`_push_object` writes a row only when an enabled
connector's `should_send` wants it), `extensions/Push/lib/Connector/File.pm` (wants everything),
`extensions/Push/lib/Config.pm` (`enabled` defaults to `Disabled`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bugzilla_push.bugzilla import BugzillaReader
from bugzilla_push.bugzilla.producer import producer_warnings
from bugzilla_push.store import open_store
from tests.bugzilla_tables import BugzillaTables

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from bugzilla_push.store import Store


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/bugs.db"


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    with open_store(url) as s:
        s.create_schema()
        yield s


def set_options(store: Store, **enabled: str) -> None:
    tables = BugzillaTables(store)
    for connector, value in enabled.items():
        tables.set_push_option(connector, "enabled", value)


def warnings(url: str) -> list[tuple[int, str]]:
    reader = BugzillaReader.from_url(url)
    try:
        return [(w.code, w.text) for w in producer_warnings(reader)]
    finally:
        reader.close()


def test_a_push_table_without_bugzilla_gets_no_warning(url: str, store: Store) -> None:
    assert warnings(url) == []


def test_push_disabled_is_critical_and_names_the_setting(url: str, store: Store) -> None:
    BugzillaTables(store).create()
    set_options(store, File="Enabled")  # global.enabled left at its default, Disabled
    [(code, text)] = warnings(url)
    assert code == 2
    assert "global.enabled" in text


def test_file_disabled_warns_and_says_who_still_wants_changes(url: str, store: Store) -> None:
    BugzillaTables(store).create()
    set_options(
        store, **{"global": "Enabled", "File": "Disabled", "Phabricator": "Enabled", "Webhook_7": "Enabled"}
    )
    [(code, text)] = warnings(url)
    assert code == 1
    assert "File.enabled" in text
    assert "Phabricator, Webhook_7" in text


def test_file_enabled_catches_every_change(url: str, store: Store) -> None:
    BugzillaTables(store).create()
    set_options(store, **{"global": "Enabled", "File": "Enabled"})
    assert warnings(url) == []
