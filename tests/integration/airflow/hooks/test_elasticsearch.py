"""The Elasticsearch hook's Test button against the Elasticsearch test double: what delivery would meet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from bugzilla_push.airflow.hooks.elasticsearch import ElasticsearchHook
from tests.doubles.elasticsearch_cluster import VERSION
from tests.doubles.elasticsearch_server import EsTestServer
from tests.integration.airflow.hooks.support import press_test
from tests.integration.console.server import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

INDICES = "bugzilla-bugs, bugzilla-comments, bugzilla-attachments"


@pytest.fixture
def cluster() -> Iterator[EsTestServer]:
    with EsTestServer(users={"bugzilla": "s3cret"}) as server:
        yield server


def es(port: int, password: str = "s3cret", **extra: Any) -> dict[str, Any]:
    conn = {"conn_type": "bugzilla_elasticsearch", "host": "127.0.0.1", "port": port, "schema": "http"}
    return conn | {"login": "bugzilla", "password": password, "extra": {"bulk_size": None, **extra}}


def test_a_cluster_that_takes_the_templates_passes(cluster: EsTestServer) -> None:
    ok, message = press_test(ElasticsearchHook, es(cluster.port))
    assert ok, message
    assert message == (
        f"Elasticsearch {VERSION} at {cluster.url}: index templates bugzilla-push-* are current; "
        f"indices {INDICES} exist"
    )
    assert set(cluster.cluster.indices) >= {"bugzilla-bugs", "bugzilla-comments", "bugzilla-attachments"}


def test_a_refused_index_template_is_named(cluster: EsTestServer) -> None:
    cluster.faults.fail_requests(403, path="_index_template", times=None)
    ok, message = press_test(ElasticsearchHook, es(cluster.port))
    assert not ok
    assert message.startswith("installing the index templates and indices: the user of this connection")
    assert "lacks a privilege (403 security_exception" in message
    assert "manage_index_templates and create_index unless manage_indices is false" in message


def test_wrong_credentials_are_named(cluster: EsTestServer) -> None:
    ok, message = press_test(ElasticsearchHook, es(cluster.port, password="wrong"))
    assert not ok
    assert message.startswith("Elasticsearch refused the credentials of this connection")


def test_missing_indices_are_named_when_delivery_does_not_create_them(cluster: EsTestServer) -> None:
    ok, message = press_test(ElasticsearchHook, es(cluster.port, manage_indices=False))
    assert not ok
    assert f"index {INDICES} does not exist and manage_indices is false" in message
    assert cluster.cluster.indices == {}


def test_a_closed_port_is_named() -> None:
    port = free_port()
    ok, message = press_test(ElasticsearchHook, es(port))
    assert not ok
    assert message.startswith(f"reaching the cluster: cannot reach http://127.0.0.1:{port}")
