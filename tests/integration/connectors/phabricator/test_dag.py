"""The Phabricator connector through the whole DAG (`airflow dags test bugzilla_push`): the deliver task
gives it a reader on the `bugzilla_db` connection (MariaDB laid out by Bugzilla), and the token stays
out of the task logs."""

from __future__ import annotations

import json

import pytest

from bugzilla_push.store import open_store
from tests.doubles.conduit_server import ConduitServer
from tests.integration.connectors.phabricator.support import REVISIONS, TOKEN, build_world, change, enqueue
from tests.support import pending_ids, run_dag

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_airflow_delivers_a_bug_made_secure_to_phabricator(airflow_db: None, mysql_url: str) -> None:
    with open_store(mysql_url) as store, ConduitServer(TOKEN) as conduit:
        store.create_schema()
        world = build_world(store, mysql_url, conduit)
        world.tables.add_to_group(world.bug, world.groups["core-security"])
        enqueue(store, change(world.bug, "groups", is_private=True), change(world.plain_bug, "cc"))
        connection = {"conn_type": "http", "host": conduit.url, "password": TOKEN, "extra": {"timeout": 10}}

        result = run_dag(mysql_url, "phabricator", AIRFLOW_CONN_PHABRICATOR=json.dumps(connection))

        output = result.stdout + result.stderr
        assert "phabricator: done; sent 1" in output
        assert TOKEN not in output
        assert conduit.methods().count("differential.revision.edit") == len(REVISIONS)
        assert all(world.revision(rev).view.startswith("PHID-PLCY-") for rev in REVISIONS)
        assert pending_ids(store) == []
