"""Test set-up shared by every tier.

Airflow reads its configuration when first imported, so the environment is set here, before any
test module imports it: this repository is AIRFLOW_HOME, and Airflow's own metadata database for
DAG-level tests is a PostgreSQL database of its own (override with BUGZILLA_PUSH_TEST_AIRFLOW_DB).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
PG_HOST = os.environ.get("BUGZILLA_PUSH_TEST_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("BUGZILLA_PUSH_TEST_PG_PORT", "5432")
PG_USER = os.environ.get("BUGZILLA_PUSH_TEST_PG_USER", "postgres")
PG_ADMIN_URL = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"
MYSQL_HOST = os.environ.get("BUGZILLA_PUSH_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("BUGZILLA_PUSH_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("BUGZILLA_PUSH_TEST_MYSQL_USER", "root")

os.environ["AIRFLOW_HOME"] = str(ROOT)
# Each pytest-xdist worker (gw0, gw1, …) of each checkout gets Airflow metadata of its own, so DAG
# runs never meet — not even those of two clones tested at once against the same PostgreSQL. Always
# set, never inherited: the workers start with the environment of the controller, which loaded this
# file first.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_CHECKOUT = hashlib.sha1(str(ROOT).encode(), usedforsecurity=False).hexdigest()[:8]
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = os.environ.get(
    "BUGZILLA_PUSH_TEST_AIRFLOW_DB",
    f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/bugzilla_push_airflow_test_{_CHECKOUT}",
) + (f"_{_WORKER}" if _WORKER else "")
os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = str(ROOT / "var" / "test-logs")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
for leftover in [k for k in os.environ if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))]:
    del os.environ[leftover]  # tests set the connections and variables they need, no more


def _pg_admin():  # noqa: ANN202 - psycopg is imported lazily
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)


def create_pg_database(prefix: str = "bp_t") -> str:
    """A fresh, empty PostgreSQL database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mysql_admin():  # noqa: ANN202 - pymysql is imported lazily
    import pymysql

    return pymysql.connect(
        host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, autocommit=True, connect_timeout=5
    )


def create_mysql_database(prefix: str = "bp_t") -> str:
    """A fresh, empty MySQL/MariaDB database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return f"mysql://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{name}"


def drop_mysql_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def create_database(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/bugzilla.db"
    return create_pg_database() if kind == "postgresql" else create_mysql_database()


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        drop_pg_database(url)
    elif url.startswith("mysql"):
        drop_mysql_database(url)


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture
def mysql_url() -> Iterator[str]:
    url = create_mysql_database()
    yield url
    drop_mysql_database(url)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every store and engine test runs on each database (parametrised, not copied)."""
    url = create_database(request.param, tmp_path)
    yield url
    drop_database(url)


# Tests that stop or reconfigure the shared RabbitMQ broker must not overlap with any other test that
# uses it: with `--dist loadgroup` every test touching the broker runs on the same worker, in turn.
# "pulse" in the node id: the Pulse modules, and the Pulse case of a suite parametrised by connector.
BROKER_FIXTURES = frozenset({"rabbitmq", "queue"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return  # `-p no:xdist`: one process, and the mark is not registered
    for item in items:
        if BROKER_FIXTURES & set(getattr(item, "fixturenames", ())) or "pulse" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("rabbitmq"))
