"""Fixtures for the push console's tests: a day of deliveries in PostgreSQL and an API server on it.

Each test module gets its own source database and server, so one module's actions never change
what another module sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.clock import utcnow
from bugzilla_push.store import Store, open_store
from tests.conftest import create_pg_database, drop_pg_database
from tests.integration.console.day import Day, seed_day
from tests.integration.console.server import CONNECTORS, ConsoleServer, make_server

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


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
def console(airflow_db: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp("console")
    source_url = create_pg_database("bp_console")
    outputs = {name: workdir / f"{name}.jsonl" for name in CONNECTORS.split(",")}
    server = make_server(workdir, source_url, outputs)
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
