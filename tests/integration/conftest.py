"""Fixtures for tests that need Airflow's own metadata database."""

from __future__ import annotations

import os

import pytest

from tests.support import airflow


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
                conn.execute(f'CREATE DATABASE "{name}"')
    result = airflow("db", "migrate")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
