"""The Elasticsearch connector's configuration and result classification (no services)."""

from __future__ import annotations

import pytest

from bugzilla_push.connectors import ConnectionInfo, ConnectorConfigError, build_connector
from bugzilla_push.connectors.base import Outcome
from bugzilla_push.connectors.elasticsearch.connector import ElasticsearchConnector, cluster_url
from bugzilla_push.connectors.elasticsearch.documents import Action
from bugzilla_push.connectors.elasticsearch.results import ALREADY_APPLIED, classify_item, combine
from bugzilla_push.model import Result

INDEX = Action("index", "bugs", "7", 20, {"bug_id": 7})
DELETE = Action("delete", "bugs", "7", 21)


def info(**fields: object) -> ConnectionInfo:
    return ConnectionInfo(
        **{"conn_id": "elasticsearch", "conn_type": "elasticsearch", "host": "es.example", **fields}
    )


def test_the_connection_type_selects_the_connector_with_its_defaults() -> None:
    connector = build_connector(info())
    assert isinstance(connector, ElasticsearchConnector)
    assert connector.name == "elasticsearch"
    assert connector.url == "http://es.example:9200"
    assert (connector.names.bugs, connector.names.comments, connector.names.attachments) == (
        "bugzilla-bugs",
        "bugzilla-comments",
        "bugzilla-attachments",
    )
    assert connector.options.index_private is False
    assert connector.options.bulk_size == 1000


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"host": "es.example", "port": 9243, "schema": "https"}, "https://es.example:9243"),
        ({"host": "https://es.example:9243"}, "https://es.example:9243"),
        ({"host": "https://es.example", "port": 443}, "https://es.example:443"),
        ({"host": "127.0.0.1:9201"}, "http://127.0.0.1:9201"),
        ({"host": "::1"}, "http://[::1]:9200"),
        ({"host": "[::1]:9300"}, "http://[::1]:9300"),
    ],
)
def test_the_url_comes_from_host_port_and_schema(fields: dict, url: str) -> None:
    assert cluster_url(info(**fields)) == url


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"host": None}, "has no host"),
        ({"schema": "ftp"}, "http or https"),
        ({"extra": {"bugs_index": "Bugs"}}, "bugs_index"),
        ({"extra": {"bulk_size": 0}}, "bulk_size"),
        ({"extra": {"bulk_sise": 10}}, "bulk_sise"),
        ({"login": "bugzilla"}, "no password"),
    ],
)
def test_a_wrong_connection_names_itself_and_the_problem(fields: dict, says: str) -> None:
    with pytest.raises(ConnectorConfigError, match="'elasticsearch'") as failure:
        build_connector(info(**fields))
    assert says in str(failure.value)


def test_options_from_a_connection_uri_are_strings_and_are_converted() -> None:
    connector = build_connector(info(extra={"bulk_size": "200", "index_private": "true", "timeout": "2.5"}))
    assert (connector.options.bulk_size, connector.options.index_private, connector.options.timeout) == (
        200,
        True,
        2.5,
    )


def test_the_password_is_not_in_the_repr_of_the_connection_or_connector() -> None:
    connection = info(login="bugzilla", password="s3cret-pw")
    assert "s3cret-pw" not in repr(connection)
    assert "s3cret-pw" not in repr(vars(build_connector(connection)).get("url"))


@pytest.mark.parametrize(
    ("action", "item", "kind", "already"),
    [
        (INDEX, {"index": {"status": 201, "result": "created"}}, "ok", False),
        (INDEX, {"index": {"status": 200, "result": "updated"}}, "ok", False),
        (
            INDEX,
            {"index": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}},
            "ok",
            True,
        ),
        (
            DELETE,
            {"delete": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}},
            "ok",
            True,
        ),
        (DELETE, {"delete": {"status": 404, "result": "not_found"}}, "ok", False),
        (DELETE, {"delete": {"status": 404, "error": {"type": "index_not_found_exception"}}}, "ok", False),
        (
            INDEX,
            {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}},
            "transient",
            False,
        ),
        (
            INDEX,
            {"index": {"status": 503, "error": {"type": "unavailable_shards_exception"}}},
            "transient",
            False,
        ),
        (INDEX, {"index": {"status": 400, "error": {"type": "document_parsing_exception"}}}, "error", False),
        (
            INDEX,
            {"index": {"status": 400, "error": {"type": "strict_dynamic_mapping_exception"}}},
            "error",
            False,
        ),
        (INDEX, {"index": {"status": 404, "error": {"type": "index_not_found_exception"}}}, "fatal", False),
        (INDEX, {"index": {"status": 403, "error": {"type": "security_exception"}}}, "fatal", False),
        (INDEX, {"index": {"status": 401, "error": {"type": "security_exception"}}}, "fatal", False),
    ],
)
def test_each_bulk_item_result_is_classified(action: Action, item: dict, kind: str, already: bool) -> None:
    verdict = classify_item(action, item)
    assert (kind_of(verdict), verdict.detail == ALREADY_APPLIED) == (kind, already)


def kind_of(outcome: Outcome) -> str:
    """Name an item's outcome as the tests do: ok, error, transient or fatal."""
    if outcome.connector_fatal:
        return "fatal"
    return {Result.OK: "ok", Result.ERROR: "error"}.get(outcome.result, "transient")


def test_a_message_with_several_items_takes_the_worst_verdict() -> None:
    ok, error, transient, fatal = (
        Outcome.sent(),
        Outcome.rejected("e"),
        Outcome.transient("t"),
        Outcome.fatal("f"),
    )
    assert kind_of(combine([ok, ok])) == "ok"
    assert kind_of(combine([ok, error])) == "error"
    assert kind_of(combine([error, transient])) == "transient"
    assert kind_of(combine([transient, fatal, ok])) == "fatal"
