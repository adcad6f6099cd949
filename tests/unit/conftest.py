"""Fixtures of the unit tier: an embedded SQLite store and a clock the tests move."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.fakes import FakeClock
from tests.support import sqlite_store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from bugzilla_push.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with sqlite_store(tmp_path) as s:
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
