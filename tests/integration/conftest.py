"""Fixtures for tests that need Airflow's own metadata database."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.store import open_store
from tests.fakes import FakeClock
from tests.support import airflow

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bugzilla_push.store import Store
    from tests.doubles.statsd_receiver import StatsdReceiver
    from tests.doubles.webhook_receiver import WebhookReceiver
    from tests.integration.connectors.pulse.support import BoundQueue


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A store with the schema on a fresh database of each kind (`db_url` is parametrised)."""
    with open_store(db_url) as s:
        s.create_schema()
        yield s


@pytest.fixture
def source(pg_url: str) -> str:
    """Bugzilla's database for DAG-level tests: a fresh PostgreSQL database with the push tables."""
    with open_store(pg_url) as s:
        s.create_schema()
    return pg_url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rabbitmq(request: pytest.FixtureRequest) -> Iterator[None]:
    """The broker is up (an earlier test, or a killed one, may have stopped its app), and held.

    Tests marked `stops_broker` (they stop it, or change a setting every client feels) hold it
    alone; the others share it. A lock file, not only xdist grouping: it holds across processes,
    whatever runs where.
    """
    from tests.integration.connectors.pulse.support import broker_lock, ensure_broker_running

    with broker_lock(exclusive=request.node.get_closest_marker("stops_broker") is not None):
        ensure_broker_running()
        yield


@pytest.fixture
def queue(rabbitmq: None) -> Iterator[BoundQueue]:
    """A queue bound with `#` to a fresh exchange: everything published there, to drain and check."""
    from tests.integration.connectors.pulse.support import BoundQueue, unique

    bound = BoundQueue(unique("exchange/guest/test"), unique("bp-pulse")).declare()
    yield bound
    bound.delete()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver on loopback (a test double that records requests and answers as scripted)."""
    from tests.doubles.webhook_receiver import WebhookReceiver

    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def statsd() -> Iterator[StatsdReceiver]:
    """A StatsD peer on loopback that keeps what Airflow's metrics client sends it."""
    from tests.doubles.statsd_receiver import StatsdReceiver

    receiver = StatsdReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database (PostgreSQL by default), created and migrated once per session."""
    import psycopg

    from tests.conftest import PG_ADMIN_URL

    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateDatabase):
                    conn.execute(f'CREATE DATABASE "{name}"')  # another process may have just made it
    result = airflow("db", "migrate")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
