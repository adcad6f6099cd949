"""Which `http` connection is the Phabricator connector, and what its connection and extra say."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from bugzilla_push.bugzilla import Bug, BugzillaReader
from bugzilla_push.connectors import ConnectionInfo, ConnectorConfigError, build_connector
from bugzilla_push.connectors.phabricator import PhabricatorConnector
from bugzilla_push.connectors.registry import connector_kind
from bugzilla_push.connectors.webhook import WebhookConnector
from bugzilla_push.store import open_store
from tests.bugzilla_tables import BugzillaTables

if TYPE_CHECKING:
    from pathlib import Path

TOKEN = "api-abcdefghijklmnopqrstuvwxyz12"


def info(conn_id: str = "phabricator", conn_type: str = "http", **fields: Any) -> ConnectionInfo:
    fields = {"host": "https://phabricator.example", "password": TOKEN, **fields}
    return ConnectionInfo(conn_id, conn_type, **fields)


def test_the_http_connection_named_phabricator_is_the_phabricator_connector() -> None:
    connector = build_connector(info())
    assert isinstance(connector, PhabricatorConnector)
    assert connector.name == "phabricator"
    assert connector.conduit.url == "https://phabricator.example"


def test_any_other_http_connection_stays_a_webhook() -> None:
    assert connector_kind(info("webhook_triage", password=None)) == "http"
    assert isinstance(build_connector(info("webhook_triage", password=None)), WebhookConnector)


def test_the_extra_selects_phabricator_for_a_connection_of_another_id() -> None:
    connector = build_connector(info("phab_staging", extra={"connector": "phabricator", "timeout": 10}))
    assert isinstance(connector, PhabricatorConnector)
    assert connector.name == "phab_staging"
    assert connector.options.timeout == 10


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        (info(extra={"connector": "pulse"}), "the extra 'connector' is 'pulse'"),
        (info("x", "amqp", extra={"connector": "phabricator"}), "type 'amqp' can only name none"),
        (info(password=None), "has no password: set Phabricator's Conduit API token"),
        (info(extra={"timeout": 0}), "timeout: Input should be greater than 0"),
        (info(extra={"unknown": 1}), "unknown: Extra inputs are not permitted"),
        (info(host=None), "has no host"),
    ],
)
def test_a_wrong_connection_says_what_to_fix(conn: ConnectionInfo, message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=message):
        build_connector(conn)


def test_defaults_are_bmos() -> None:
    options = PhabricatorConnector.Options()
    assert (options.timeout, options.project_prefix, options.secure_project) == (
        60.0,
        "bmo-",
        "secure-revision",
    )
    assert (options.editbugs_project, options.nobody_login) == ("bmo-editbugs-team", "nobody@mozilla.org")
    assert options.create_projects
    assert not options.include_private_attachments


def test_airflow_gives_the_connector_a_reader_on_the_bugzilla_db_connection(tmp_path: Path) -> None:
    from bugzilla_push.airflow.connectors import load_connector

    with open_store(f"sqlite:///{tmp_path}/bugs.db") as store:
        tables = BugzillaTables(store).create()
        ada = tables.add_user("ada@example.org")
        bug = tables.add_bug(reporter=ada, assigned_to=ada)
    env = {
        "AIRFLOW_CONN_PHABRICATOR": f"http://:{TOKEN}@phabricator.example:8443/https?timeout=20",
        "AIRFLOW_CONN_BUGZILLA_DB_OTHER": json.dumps({"conn_type": "sqlite", "host": f"{tmp_path}/bugs.db"}),
    }
    with mock.patch.dict(os.environ, env):
        connector = load_connector("phabricator", "bugzilla_db_other")
        assert isinstance(connector, PhabricatorConnector)
        assert connector.conduit.url == "https://phabricator.example:8443"
        assert connector.options.timeout == 20
        assert isinstance(connector.bugzilla, BugzillaReader)
        assert connector.bugzilla._db is None  # nothing opened until the first message
        assert connector.bugzilla.bug(bug) == Bug(bug, ada, ada, "ada@example.org", None)
    connector.close()


def test_the_token_is_not_in_the_connectors_repr_or_its_options() -> None:
    connector = build_connector(info())
    assert TOKEN not in repr(vars(connector))
    assert TOKEN not in repr(connector.options)
