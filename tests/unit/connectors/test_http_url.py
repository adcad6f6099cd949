"""The receiver's URL of an `http` connection (webhooks, Phabricator), as Airflow's HttpHook builds it."""

from __future__ import annotations

import pytest

from bugzilla_push.connectors import ConnectionInfo, ConnectorConfigError
from bugzilla_push.connectors.http_url import http_url


def info(**fields: object) -> ConnectionInfo:
    return ConnectionInfo(**{"conn_id": "webhook_triage", "conn_type": "http", **fields})


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"host": "https://hooks.example.org/bugzilla"}, "https://hooks.example.org/bugzilla"),
        ({"host": "https://hooks.example.org"}, "https://hooks.example.org/"),
        ({"host": "http://h.example/a", "port": 8080}, "http://h.example:8080/a"),
        ({"host": "http://h.example:8080/a", "port": 8080}, "http://h.example:8080/a"),
        ({"host": "h.example"}, "http://h.example/"),
        ({"host": "h.example", "schema": "https", "port": 8443}, "https://h.example:8443/"),
        ({"host": "h.example", "schema": "HTTPS"}, "https://h.example/"),
        # A URI connection (http://h.example:8080/hooks/bmo) puts the path into the schema field.
        ({"host": "h.example", "port": 8080, "schema": "hooks/bmo"}, "http://h.example:8080/hooks/bmo"),
        ({"host": "https://h.example/base?team=qa"}, "https://h.example/base?team=qa"),
    ],
)
def test_urls_are_built_as_airflows_http_hook_builds_them(fields: dict, url: str) -> None:
    assert http_url(info(**fields)) == url


def test_an_endpoint_is_appended_with_its_query() -> None:
    assert http_url(info(host="https://h.example/base/"), "/v1/bugzilla?team=qa") == (
        "https://h.example/base/v1/bugzilla?team=qa"
    )
    assert http_url(info(host="h.example", schema="https"), "hook") == "https://h.example/hook"
    assert http_url(info(host="https://h.example/b?x=1"), "e?y=2") == "https://h.example/b/e?x=1&y=2"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "has no host: set the receiver's URL"),
        ({"host": "ftp://files.example/x"}, "does not give an http(s) URL"),
        ({"host": "https://user:pw@h.example/x"}, "credentials in its URL"),
        ({"host": "https://h.example:8443/x", "port": 9000}, "port 8443 in its URL and 9000"),
        ({"host": "https://h.example/x", "schema": "hooks/bmo"}, "also the path 'hooks/bmo'"),
    ],
)
def test_wrong_urls_are_clear_errors(fields: dict, message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        http_url(info(**fields))


def test_credentials_in_a_bad_url_are_not_repeated_in_the_error() -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        http_url(info(host="https://user:hunter2@h.example/x"))
    assert "hunter2" not in str(caught.value)
