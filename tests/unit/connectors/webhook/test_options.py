"""A webhook's settings from its Airflow connection: URL, API key, options in the extra."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from unittest import mock

import pytest

from bugzilla_push.connectors import ConnectionInfo, ConnectorConfigError, build_connector
from bugzilla_push.connectors.webhook.connector import WebhookConnector
from bugzilla_push.connectors.webhook.options import WebhookOptions
from bugzilla_push.connectors.webhook.payload import EVENT_KINDS

if TYPE_CHECKING:
    from pathlib import Path


def info(**fields: object) -> ConnectionInfo:
    return ConnectionInfo(**{"conn_id": "webhook_triage", "conn_type": "http", **fields})


def test_airflow_uri_connections_from_the_environment_give_the_url_and_the_key() -> None:
    from bugzilla_push.airflow.connectors import load_connector

    env = {
        "AIRFLOW_CONN_WEBHOOK_TRIAGE": (
            "http://:s3cret-key@hooks.example.org:8443/https?endpoint=%2Fbmo&api_key_header=X-Api-Key"
        ),
        "AIRFLOW_CONN_WEBHOOK_PATH": "http://127.0.0.1:8080/hooks/bmo?events=comment",
    }
    with mock.patch.dict(os.environ, env):
        triage, path = load_connector("webhook_triage"), load_connector("webhook_path")
    assert isinstance(triage, WebhookConnector)
    assert triage.url == "https://hooks.example.org:8443/bmo"
    assert triage._api_key == "s3cret-key"
    assert triage.options.api_key_header == "X-Api-Key"
    assert path.url == "http://127.0.0.1:8080/hooks/bmo"
    assert path.options.events == ("comment",)


def test_defaults_are_bmos() -> None:
    options = WebhookOptions()
    assert (options.product, options.component) == ("Any", "Any")
    assert options.events == EVENT_KINDS
    assert options.timeout == 30
    assert options.pause_after_failures == 10
    assert not options.include_private_comments
    assert options.include_private_bugs
    assert options.verify


def test_options_from_uri_query_strings_are_converted() -> None:
    options = WebhookOptions.model_validate(
        {
            "events": "comment, attachment,comment",
            "timeout": "2.5",
            "pause_after_failures": "3",
            "include_private_comments": "true",
            "verify": "false",
            "webhook_id": "17",
        }
    )
    assert options.events == ("comment", "attachment")
    assert options.timeout == 2.5
    assert options.pause_after_failures == 3
    assert options.include_private_comments
    assert not options.verify
    assert options.webhook_id == 17


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"events": "create,changes"}, "events"),
        ({"events": ""}, "at least one event kind"),
        ({"event": "create"}, "event: Extra inputs are not permitted"),
        ({"api_key": "k"}, "api_key: Extra inputs are not permitted"),
        ({"timeout": 0}, "timeout"),
        ({"pause_after_failures": -1}, "pause_after_failures"),
        ({"api_key_header": "X Api Key"}, "is not an HTTP header name"),
        ({"api_key_header": "Content-Type"}, "a header the connector sets itself"),
    ],
)
def test_wrong_options_name_the_connection_and_the_option(extra: dict, message: str) -> None:
    with pytest.raises(ConnectorConfigError, match="connection 'webhook_triage'") as caught:
        build_connector(info(host="https://h.example", extra=extra))
    assert message in str(caught.value)


def test_the_api_key_is_the_password_and_its_header_is_named_in_the_extra() -> None:
    connector = build_connector(
        info(host="https://h.example", password="k3y", extra={"api_key_header": "X-Api-Key"})
    )
    assert isinstance(connector, WebhookConnector)
    assert connector._api_key == "k3y"
    assert connector._auth is None


def test_login_and_password_without_a_header_are_basic_authentication() -> None:
    connector = build_connector(info(host="https://h.example", login="bugzilla", password="pw"))
    assert connector._auth == ("bugzilla", "pw")
    assert connector._api_key is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"extra": {"api_key_header": "X-Api-Key"}}, "but has no password"),
        ({"password": "k", "login": "u", "extra": {"api_key_header": "X-Api-Key"}}, "leave the login empty"),
        ({"password": "k"}, "name the header that carries the API key"),
        ({"password": "line\nbreak", "extra": {"api_key_header": "X-Api-Key"}}, "cannot go in a header"),
    ],
)
def test_half_configured_credentials_are_clear_errors(fields: dict, message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=message) as caught:
        build_connector(info(host="https://h.example", **fields))
    assert "line\nbreak" not in str(caught.value)


def test_the_webhook_name_defaults_to_the_connection_id_without_its_prefix() -> None:
    assert build_connector(info(host="https://h.example")).webhook_name == "triage"
    assert build_connector(info(conn_id="ci", host="https://h.example")).webhook_name == "ci"
    named = build_connector(info(host="https://h.example", extra={"webhook_name": "Triage bot"}))
    assert named.webhook_name == "Triage bot"


def test_a_missing_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError, match="cannot read the CA bundle"):
        build_connector(info(host="https://h.example", extra={"ca_bundle": str(tmp_path / "none.pem")}))


def test_the_http_connection_type_selects_the_webhook_connector() -> None:
    assert type(build_connector(info(host="https://h.example"))) is WebhookConnector
    assert WebhookConnector.kind == "http"
