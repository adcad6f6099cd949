"""Fixtures of the unit tier: an embedded SQLite store and a clock the tests move."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bugzilla_push.store import open_store
from tests.fakes import FakeClock

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from bugzilla_push.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A store with the schema on a fresh SQLite file (the engine needs nothing more)."""
    with open_store(f"sqlite:///{tmp_path}/bugzilla.db") as s:
        s.create_schema()
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
