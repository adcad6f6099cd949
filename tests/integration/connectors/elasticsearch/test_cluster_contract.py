"""The Elasticsearch connector's contract, against the test double and, when `ES_URL` is set, a real
cluster: the same tests, unchanged. Nothing here reaches into the double; search is preceded by a
refresh as on a real cluster, and names are unique per test so a shared cluster is fine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bugzilla_push.connectors.elasticsearch import connector as elasticsearch_connector
from bugzilla_push.connectors.elasticsearch.mappings import TEMPLATE_VERSION
from bugzilla_push.model import Result
from tests.doubles.elasticsearch_server import EsTestServer
from tests.elasticsearch_support import (
    ES_URL,
    TARGETS,
    Target,
    expected_documents,
    results,
    sample_messages,
    send_all,
    snapshot,
    sources,
    to_message,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from elasticsearch import Elasticsearch

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def double() -> Iterator[EsTestServer]:
    with EsTestServer() as server:
        yield server


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "cluster":
        found = Target.from_url(ES_URL or "")
    else:
        found = Target(request.getfixturevalue("double").url)
    yield found
    found.cleanup()


@pytest.fixture
def es(target: Target) -> Iterator[Elasticsearch]:
    with target.client() as client:
        yield client


def bug_message(push_id: int, bug_id: int, **fields: object) -> dict:
    """A `bug.modify` as Bugzilla writes it, with `fields` over a plain public bug."""
    bug = {
        "id": bug_id,
        "summary": "Crash in nsDocShell::LoadURI",
        "status": {"id": 1, "name": "NEW"},
        "product": {"id": 1, "name": "Core"},
        "component": {"id": 2, "name": "Networking"},
        "creation_time": "2026-11-02T09:00:00",
        "last_change_time": "2026-11-02T09:00:00",
        "is_private": False,
        **fields,
    }
    changes = [{"field": k, "removed": "", "added": str(v)} for k, v in fields.items() if k != "id"]
    event = {
        "action": "modify",
        "target": "bug",
        "user": {"id": 1, "login": "[email protected]"},
        "changes": changes,
    }
    key = "bug.modify" + (":" + ",".join(sorted(fields)) if fields else "")
    return {
        "payload": {"bug": bug, "event": {**event, "routing_key": key}},
        "routing_key": key,
        "change_set": "1.1",
    }


def test_the_first_send_installs_templates_and_creates_indices_with_typed_mappings(
    target: Target, es: Elasticsearch
) -> None:
    with target.connector() as connector:
        assert results(connector.send(sample_messages(5))) == {Result.OK}
    mappings = {
        k: es.indices.get_mapping(index=target.index(k))[target.index(k)]["mappings"]
        for k in ("bugs", "comments", "attachments")
    }
    bugs = mappings["bugs"]["properties"]
    assert mappings["bugs"]["dynamic"] == "strict"
    assert bugs["creation_time"]["type"] == bugs["last_change_time"]["type"] == "date"
    assert bugs["status"]["type"] == bugs["product"]["type"] == bugs["keywords"]["type"] == "keyword"
    assert bugs["summary"]["type"] == "text"
    assert mappings["comments"]["properties"]["body"]["type"] == "text"
    assert mappings["comments"]["properties"]["bug_id"]["type"] == "long"
    assert mappings["attachments"]["properties"]["file_name"]["type"] == "keyword"
    template = es.indices.get_index_template(name=f"{target.prefix}-bugs")["index_templates"][0][
        "index_template"
    ]
    assert template["version"] == TEMPLATE_VERSION
    assert template["index_patterns"] == [target.index("bugs")]


def test_a_stream_leaves_the_latest_state_of_each_bug_and_every_public_comment_and_attachment(
    target: Target, es: Elasticsearch
) -> None:
    messages = sample_messages(1500, seed=11, private_ratio=0.15)
    with target.connector() as connector:
        assert results(send_all(connector, messages)) == {Result.OK}
    snap = snapshot(es, target)
    expected = expected_documents(messages, index_private=False)
    assert sources(snap) == expected["public"]
    last_bug_message = {m.object["id"]: m.id for m in messages if m.target == "bug"}
    for (kind, doc_id), (version, source) in snap.items():
        if kind == "bugs":
            assert version == last_bug_message[int(doc_id)] == source["push_id"]
        else:
            assert version >= source["push_id"]  # a sweep moves a document with a later version
    assert not any(source["is_private"] for source in sources(snap).values())
    assert not snapshot(es, target, private=True)  # no private index by default


def test_replaying_the_stream_forward_or_in_reverse_changes_nothing(
    target: Target, es: Elasticsearch
) -> None:
    messages = sample_messages(1200, seed=12, private_ratio=0.15)
    with target.connector() as connector:
        send_all(connector, messages)
        before = snapshot(es, target)
        assert results(send_all(connector, messages)) == {Result.OK}
        assert snapshot(es, target) == before
        stale = list(reversed(messages))
        assert results(send_all(connector, stale)) == {Result.OK}
        assert snapshot(es, target) == before
        assert connector.stats["already applied"] > len(messages)


def test_a_stale_write_is_refused_and_counts_as_already_applied(target: Target, es: Elasticsearch) -> None:
    newer = to_message(20, bug_message(20, 7, summary="the newer summary"))
    older = to_message(10, bug_message(10, 7, summary="an older summary"))
    with target.connector() as connector:
        assert [o.result for o in connector.send([newer])] == [Result.OK]
        assert [o.result for o in connector.send([older])] == [Result.OK]
        assert connector.stats["already applied"] == 1
    doc = es.get(index=target.index("bugs"), id="7")
    assert (doc["_version"], doc["_source"]["summary"]) == (20, "the newer summary")


def test_several_messages_for_one_document_in_one_batch_leave_the_last(
    target: Target, es: Elasticsearch
) -> None:
    batch = [to_message(i, bug_message(i, 8, priority=f"P{i}")) for i in (1, 2, 3, 4)]
    with target.connector() as connector:
        assert [o.result for o in connector.send(batch)] == [Result.OK] * 4
    doc = es.get(index=target.index("bugs"), id="8")
    assert (doc["_version"], doc["_source"]["priority"]) == (4, "P4")


def test_a_bug_going_private_is_removed_with_its_comments_and_a_stale_replay_cannot_bring_it_back(
    target: Target, es: Elasticsearch
) -> None:
    public = to_message(1, bug_message(1, 9))
    comment = to_message(
        2,
        {
            "payload": {
                "comment": {
                    "id": 900,
                    "body": "I can reproduce this",
                    "is_private": False,
                    "bug": public.object,
                },
                "event": {
                    "action": "create",
                    "target": "comment",
                    "user": {"id": 2, "login": "[email protected]"},
                },
            },
            "routing_key": "comment.create",
            "change_set": "1.2",
        },
    )
    with target.connector() as connector:
        assert results(connector.send([public, comment])) == {Result.OK}
        assert es.get(index=target.index("comments"), id="900")["found"]
        # BMO: the is_private transition built from the public side, then the private modify.
        transition = bug_message(3, 9, is_private=False)
        transition["payload"]["event"]["changes"] = [{"field": "is_private", "removed": "0", "added": "1"}]
        private = bug_message(4, 9, is_private=True)
        assert results(connector.send([to_message(3, transition), to_message(4, private)])) == {Result.OK}
        for kind, doc_id in (("bugs", "9"), ("comments", "900")):
            assert not es.options(ignore_status=404).get(index=target.index(kind), id=doc_id)["found"]
        assert results(connector.send([public, comment])) == {Result.OK}  # a stale replay: refused
    for kind, doc_id in (("bugs", "9"), ("comments", "900")):
        assert not es.options(ignore_status=404).get(index=target.index(kind), id=doc_id)["found"]


def test_private_bugs_go_to_separate_indices_only_when_configured(target: Target, es: Elasticsearch) -> None:
    messages = sample_messages(1500, seed=13, private_ratio=0.2)
    with target.connector(index_private=True) as connector:
        assert results(send_all(connector, messages)) == {Result.OK}
    expected = expected_documents(messages, index_private=True)
    assert expected["private"], "the sample must contain private bugs"
    assert sources(snapshot(es, target)) == expected["public"]
    assert sources(snapshot(es, target, private=True)) == expected["private"]


def test_a_mapping_error_dead_letters_that_message_only(target: Target, es: Elasticsearch) -> None:
    good = [to_message(i, bug_message(i, 100 + i)) for i in (1, 2, 4)]
    bad = to_message(3, bug_message(3, 103, creation_time="the day before yesterday"))
    with target.connector() as connector:
        outcomes = connector.send([good[0], good[1], bad, good[2]])
    assert [o.result for o in outcomes] == [Result.OK, Result.OK, Result.ERROR, Result.OK]
    assert "creation_time" in (outcomes[2].detail or "")
    assert "400" in (outcomes[2].detail or "")
    for bug_id in (101, 102, 104):
        assert es.get(index=target.index("bugs"), id=str(bug_id))["found"]
    assert not es.options(ignore_status=404).get(index=target.index("bugs"), id="103")["found"]


def test_summaries_are_searchable_by_word_and_fields_by_exact_keyword(
    target: Target, es: Elasticsearch
) -> None:
    with target.connector() as connector:
        connector.send(
            [
                to_message(1, bug_message(1, 201, summary="Memory leak in the address bar")),
                to_message(
                    2, bug_message(2, 202, summary="Crash in WebGL", product={"id": 3, "name": "Firefox"})
                ),
            ]
        )
    es.indices.refresh(index=target.index("bugs"))

    def ids(query: dict) -> set[str]:
        return {h["_id"] for h in es.search(index=target.index("bugs"), query=query)["hits"]["hits"]}

    assert ids({"match": {"summary": "leak"}}) == {"201"}
    assert ids({"term": {"product": "Firefox"}}) == {"202"}
    assert ids({"term": {"product": "firefox"}}) == set()  # a keyword is not analysed


def test_a_second_connector_finds_the_templates_installed_and_keeps_them(
    target: Target, es: Elasticsearch
) -> None:
    with target.connector() as first:
        first.send([to_message(1, bug_message(1, 301))])
    with target.connector() as second:
        assert [o.result for o in second.send([to_message(2, bug_message(2, 302))])] == [Result.OK]
    templates = es.indices.get_index_template(name=f"{target.prefix}-*")["index_templates"]
    assert sorted(t["name"] for t in templates) == [
        f"{target.prefix}-{k}" for k in ("attachments", "bugs", "comments")
    ]
    assert es.get(index=target.index("bugs"), id="302")["_version"] == 2


def test_a_privacy_sweep_pages_through_more_comments_than_one_search_returns(
    target: Target, es: Elasticsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(elasticsearch_connector, "SEARCH_PAGE", 3)
    bug = to_message(1, bug_message(1, 400))
    comments = [
        to_message(
            2 + n,
            {
                "payload": {
                    "comment": {
                        "id": 4000 + n,
                        "body": f"comment {n}",
                        "is_private": False,
                        "bug": bug.object,
                    },
                    "event": {
                        "action": "create",
                        "target": "comment",
                        "user": {"id": 2, "login": "[email protected]"},
                    },
                },
                "routing_key": "comment.create",
                "change_set": "1.2",
            },
        )
        for n in range(8)
    ]
    going = bug_message(20, 400, is_private=False)
    going["payload"]["event"]["changes"] = [{"field": "is_private", "removed": "0", "added": "1"}]
    with target.connector(index_private=True) as connector:
        assert results(connector.send([bug, *comments])) == {Result.OK}
        assert results(connector.send([to_message(20, going)])) == {Result.OK}
    moved = {doc_id for kind, doc_id in snapshot(es, target, private=True) if kind == "comments"}
    assert moved == {str(4000 + n) for n in range(8)}
    assert not [key for key in snapshot(es, target) if key[0] == "comments"]
