"""Fixtures for the push console's tests: a day of deliveries in PostgreSQL and an API server on it.

Each test module gets its own source database and server, so one module's actions never change
what another module sees. The server runs under SimpleAuthManager unless a module parametrises
`auth_manager` (indirectly, module scope) with `fab` too: see `server.BOTH_AUTH_MANAGERS`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.clock import utcnow
from bugzilla_push.store import Store, open_store
from tests.conftest import ROOT, create_pg_database, drop_pg_database
from tests.integration.console.day import Day, seed_day
from tests.integration.console.fab import FAB_AUTH_MANAGER, ROLES
from tests.integration.console.server import CONNECTORS, Accounts, ConsoleServer, make_server

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class Console:
    """The server, the database behind it, and what the seeded day left there.

    :param outputs: the file connectors' output files, by connector
    """

    server: ConsoleServer
    source_url: str
    day: Day
    outputs: dict[str, Path]

    def store(self) -> Store:
        return open_store(self.source_url)


@pytest.fixture(scope="module")
def auth_manager(request: pytest.FixtureRequest) -> str:
    """`simple` (SimpleAuthManager) unless the module parametrises it."""
    return getattr(request, "param", "simple")


@pytest.fixture(scope="session")
def fab_accounts() -> Iterator[Accounts]:
    """A metadata database migrated with the FAB auth manager, and FAB's admin, viewer and outsider."""
    url = create_pg_database("bp_fab_airflow")
    passwords = {user: secrets.token_urlsafe(12) for user in ROLES}
    accounts = Accounts("fab", passwords, url.replace("postgresql://", "postgresql+psycopg://", 1))
    env = {
        "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": accounts.metadata_url,
    }
    try:
        for command in (
            [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
            [sys.executable, "-m", "tests.integration.console.fab", json.dumps(passwords)],
        ):
            done = subprocess.run(
                command,
                env=os.environ | env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        yield accounts
    finally:
        drop_pg_database(url)


@pytest.fixture(scope="module")
def console(
    airflow_db: None,
    auth_manager: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp(f"console-{auth_manager}")
    source_url = create_pg_database("bp_console")
    outputs = {name: workdir / f"{name}.jsonl" for name in CONNECTORS.split(",")}
    accounts = request.getfixturevalue("fab_accounts") if auth_manager == "fab" else None
    server = make_server(workdir, source_url, outputs, accounts)
    try:
        with open_store(source_url) as store:
            store.create_schema()
            day = seed_day(store, utcnow())
        server.start()
        server.set_connectors(CONNECTORS)
        yield Console(server, source_url, day, outputs)
    finally:
        try:
            if server.process is not None and server.process.poll() is None:
                server.delete_connectors_variable()
        finally:
            server.stop()
            drop_pg_database(source_url)
