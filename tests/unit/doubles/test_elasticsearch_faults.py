"""The Elasticsearch test double's conditional faults (`when`), over real HTTP on loopback.

The chaos harness arms each Elasticsearch fault for "once the connector has made progress again";
the double must hold such a fault unused until the condition holds, then keep it armed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import pytest

from tests.doubles.elasticsearch_server import EsTestServer

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def double() -> Iterator[EsTestServer]:
    with EsTestServer() as server:
        yield server


def bulk(double: EsTestServer, first_id: int, count: int) -> tuple[int, list[int]]:
    """POST `count` external-versioned index actions; return the HTTP status and item statuses."""
    lines = []
    for i in range(first_id, first_id + count):
        action = {"_index": "bugs", "_id": str(i), "version": i, "version_type": "external"}
        lines.append(json.dumps({"index": action}))
        lines.append(json.dumps({"id": i}))
    request = urllib.request.Request(  # noqa: S310 - an http:// URL of the loopback double
        f"{double.url}/_bulk",
        data=("\n".join(lines) + "\n").encode(),
        headers={"Content-Type": "application/x-ndjson"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the same request
            body = json.loads(response.read())
            return response.status, [next(iter(item.values()))["status"] for item in body["items"]]
    except urllib.error.HTTPError as exc:
        return exc.code, []


def test_a_request_fault_waits_for_its_condition_then_stays_armed(double: EsTestServer) -> None:
    ready = False
    double.faults.fail_requests(503, times=2, when=lambda: ready)

    assert bulk(double, 1, 3) == (200, [201, 201, 201])  # condition false: the fault is not used
    ready = True
    assert bulk(double, 4, 1)[0] == 503
    ready = False  # armed already: the condition is not asked again
    assert bulk(double, 5, 1)[0] == 503
    assert bulk(double, 6, 1) == (200, [201])  # used up


def test_an_item_fault_can_arm_in_the_middle_of_a_request(double: EsTestServer) -> None:
    applied = []
    original = double.cluster.write

    def counting_write(*args: object) -> dict:
        applied.append(args)
        return original(*args)

    double.cluster.write = counting_write  # type: ignore[method-assign]
    double.faults.reject_items(429, positions=tuple(range(100)), times=1, when=lambda: len(applied) >= 2)

    status, items = bulk(double, 1, 5)

    assert status == 200
    assert items == [201, 201, 429, 201, 201]  # armed after two writes: the third item is refused


def test_the_request_log_tells_a_bulk_that_went_through_whole_from_one_with_refused_items(
    double: EsTestServer,
) -> None:
    double.faults.reject_items(429, positions=(1,), times=1)
    bulk(double, 1, 3)
    bulk(double, 4, 2)
    double.faults.fail_requests(503)
    bulk(double, 6, 1)

    records = double.bulk_requests()
    assert [r.item_statuses for r in records] == [(201, 429, 201), (201, 201), ()]
    assert [r.clean for r in records] == [False, True, False]
