"""Helpers the Elasticsearch tests share: targets (test double or a real cluster), messages, an oracle.

A target is where a test's connector writes: the test double (always) or the cluster at `ES_URL`
(when set, for example `http://127.0.0.1:9200` or `https://elastic:secret@es:9200`, with
`ES_CA_CERTS` for a private CA). Each test gets index and template names of its own and removes
them afterwards, so the suite can run against a shared cluster.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bugzilla_push.connectors.base import ConnectionInfo
from bugzilla_push.connectors.elasticsearch.connector import ElasticsearchConnector
from bugzilla_push.connectors.elasticsearch.documents import (
    attachment_document,
    bug_document,
    comment_document,
)
from bugzilla_push.connectors.elasticsearch.mappings import ID_FIELD
from bugzilla_push.model import PushRow, Result, parse_message
from bugzilla_push.samples import BugzillaSimulator

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from elasticsearch import Elasticsearch

    from bugzilla_push.connectors.base import Outcome
    from bugzilla_push.model import PushMessage
    from bugzilla_push.store import Store

ES_URL = os.environ.get("ES_URL")
TARGETS = ["test-double", *(["cluster"] if ES_URL else [])]
KINDS = ("bugs", "comments", "attachments")


@dataclass
class Target:
    """Where a test writes: a URL, credentials, and names of its own.

    :param prefix: every index and template of the test starts with it
    """

    url: str
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    prefix: str = field(default_factory=lambda: f"bp-test-{uuid.uuid4().hex[:10]}")

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        bare = f"{parts.scheme}://{parts.hostname}:{parts.port or 9200}"
        return cls(bare, parts.username, parts.password)

    def extra(self, **options: Any) -> dict[str, Any]:
        """Connection extra with this test's index and template names."""
        extra = {
            "bugs_index": f"{self.prefix}-bugs",
            "comments_index": f"{self.prefix}-comments",
            "attachments_index": f"{self.prefix}-attachments",
            "template_name": self.prefix,
            **options,
        }
        if os.environ.get("ES_CA_CERTS") and self.url.startswith("https"):
            extra.setdefault("ca_certs", os.environ["ES_CA_CERTS"])
        return extra

    def connection(self, name: str = "elasticsearch", **options: Any) -> ConnectionInfo:
        return ConnectionInfo(
            conn_id=name,
            conn_type="elasticsearch",
            host=self.url,
            login=self.login,
            password=self.password,
            extra=self.extra(**options),
        )

    def connector(self, **options: Any) -> ElasticsearchConnector:
        return ElasticsearchConnector.from_connection(self.connection(**options))

    def index(self, kind: str, private: bool = False) -> str:
        return f"{self.prefix}-{kind}" + ("-private" if private else "")

    def client(self) -> Elasticsearch:
        from elasticsearch import Elasticsearch

        kwargs: dict[str, Any] = {"request_timeout": 30}
        if self.login:
            kwargs["basic_auth"] = (self.login, self.password or "")
        if os.environ.get("ES_CA_CERTS") and self.url.startswith("https"):
            kwargs["ca_certs"] = os.environ["ES_CA_CERTS"]
        return Elasticsearch(self.url, **kwargs)

    def cleanup(self) -> None:
        with self.client() as es:
            quiet = es.options(ignore_status=404)
            quiet.indices.delete(index=f"{self.prefix}-*", expand_wildcards="all")
            for kind in KINDS:
                quiet.indices.delete_index_template(name=f"{self.prefix}-{kind}")


def sample_messages(
    count: int, seed: int = 1, private_ratio: float = 0.1, first_id: int = 1
) -> list[PushMessage]:
    """`count` simulated Bugzilla messages as the engine hands them over, push ids from `first_id`."""
    sim = BugzillaSimulator(seed=seed, private_ratio=private_ratio)
    return [to_message(first_id + i, m) for i, m in enumerate(sim.messages(count))]


def to_message(push_id: int, raw: dict[str, Any]) -> PushMessage:
    payload = raw["payload"] if isinstance(raw["payload"], str) else json.dumps(raw["payload"])
    row = PushRow(push_id, datetime(2026, 11, 27, 12, 0), payload, raw["change_set"], raw["routing_key"])
    return parse_message(row, 16 * 1024 * 1024)


def send_all(
    connector: ElasticsearchConnector, messages: Sequence[PushMessage], chunk: int = 500
) -> list[Outcome]:
    """Send in chunks as the engine does; every message must get an outcome (no transient stop)."""
    outcomes: list[Outcome] = []
    for start in range(0, len(messages), chunk):
        part = messages[start : start + chunk]
        got = connector.send(part)
        assert len(got) == len(part), f"stopped at {part[len(got) - 1].id}: {got[-1]}"
        outcomes += got
    return outcomes


def results(outcomes: Iterable[Outcome]) -> set[Result]:
    return {o.result for o in outcomes}


def snapshot(es: Elasticsearch, target: Target, private: bool = False) -> dict[tuple[str, str], Any]:
    """Every document of the target's indices: `(kind, id) → (version, source)`."""
    out: dict[tuple[str, str], Any] = {}
    indices = [target.index(k, private) for k in KINDS]
    es.indices.refresh(index=indices, ignore_unavailable=True)
    for kind in KINDS:
        after = None
        while True:
            page = es.search(
                index=target.index(kind, private),
                query={"match_all": {}},
                sort=[{ID_FIELD[kind]: {"order": "asc", "unmapped_type": "long"}}],
                size=1000,
                version=True,
                search_after=after,
                ignore_unavailable=True,
            )["hits"]["hits"]
            for hit in page:
                out[(kind, hit["_id"])] = (hit["_version"], hit["_source"])
            if len(page) < 1000:
                break
            after = page[-1]["sort"]
    return out


def _going_private(message: PushMessage) -> bool:
    return any(
        c.field == "is_private" and str(c.added).lower() in ("1", "true") for c in message.event.changes
    )


def expected_documents(messages: Sequence[PushMessage], index_private: bool) -> dict[str, dict]:
    """What the indices should hold after `messages`, worked out from Bugzilla's rules, not the connector's.

    A bug is private from its going-private message on. Public: bugs whose last state is public, and
    comments and attachments visible to everyone. Without private indexing, the comments of a bug
    that goes private are removed and come back only when they change again (the change stream
    does not repeat them); with it, they move between the public and private indices.
    Returns `{"public": {(kind, id): source}, "private": {...}}`.
    """
    bug_state: dict[int, tuple[PushMessage, bool]] = {}
    last_child: dict[tuple[str, str], PushMessage] = {}
    public_children: dict[tuple[str, str], PushMessage] = {}
    for m in messages:
        if m.target == "bug":
            private = bool(m.object.get("is_private")) or _going_private(m)
            bug_state[m.object["id"]] = (m, private)
            if private:
                for key in [k for k, c in public_children.items() if c.object["bug"]["id"] == m.object["id"]]:
                    del public_children[key]
            continue
        kind = "comments" if m.target == "comment" else "attachments"
        key = (kind, str(m.object["id"]))
        last_child[key] = m
        if m.object.get("is_private") or m.object["bug"].get("is_private"):
            public_children.pop(key, None)
        else:
            public_children[key] = m

    def child_doc(m: PushMessage) -> dict:
        return comment_document(m) if m.target == "comment" else attachment_document(m)

    public = {("bugs", str(b)): bug_document(m, False) for b, (m, p) in bug_state.items() if not p}
    private: dict[tuple[str, str], dict] = {}
    if not index_private:
        public |= {k: child_doc(m) for k, m in public_children.items()}
        return {"public": public, "private": private}
    private = {("bugs", str(b)): bug_document(m, True) for b, (m, p) in bug_state.items() if p}
    for key, m in last_child.items():
        visible = not m.object.get("is_private") and not bug_state[m.object["bug"]["id"]][1]
        (public if visible else private)[key] = child_doc(m)
    return {"public": public, "private": private}


def sources(snap: dict[tuple[str, str], Any]) -> dict[tuple[str, str], dict]:
    return {k: source for k, (_, source) in snap.items()}


def pending_messages(store: Store) -> list[PushMessage]:
    """The `push` rows as the engine will hand them to a connector (for oracles and replays)."""
    rows = store.query("SELECT id, push_ts, payload, change_set, routing_key FROM push ORDER BY id")
    return [parse_message(PushRow(*row), 16 * 1024 * 1024) for row in rows]
