"""The Elasticsearch connector: keeps bug, comment and attachment search indices current.

Each batch becomes bulk requests of versioned actions (see :mod:`es_documents`): the version is the
push id, so a replay or a stale write is refused with 409, which counts as already applied. Every
item's result is mapped back to its message, in push-id order, and a message's outcome is the
worst of its items' (:mod:`es_results`): OK, TRANSIENT (delivery stops there), ERROR (that message
is dead-lettered) or connector-fatal (an operator must act).

The client is built here from the connection's fields: the provider's ``ElasticsearchPythonHook``
is an Airflow ``BaseHook``, and core modules do not import Airflow.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bugzilla_push.connectors.base import (
    OK,
    ConnectionInfo,
    Connector,
    ConnectorConfigError,
    ConnectorFatal,
    Outcome,
)
from bugzilla_push.connectors.elasticsearch.documents import (
    Child,
    ChildIndex,
    MessagePlan,
    is_public,
    plan_message,
    privacy_transition,
)
from bugzilla_push.connectors.elasticsearch.mappings import (
    CHILD_KINDS,
    ID_FIELD,
    KIND_OF_TARGET,
    IndexNames,
    index_templates,
)
from bugzilla_push.connectors.elasticsearch.results import (
    Stop,
    Verdict,
    classify_item,
    combine,
    error_reason,
    request_failure,
)
from bugzilla_push.model import Result

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from elasticsearch import Elasticsearch

    from bugzilla_push.connectors.elasticsearch.documents import Kind
    from bugzilla_push.model import PushMessage

log = logging.getLogger(__name__)

_Planned = tuple[MessagePlan | Outcome, bytes]  # a message's plan (or its outcome) and its bulk lines
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,199}$")
SEARCH_PAGE = 1000  # documents per page when finding a bug's comments for a privacy sweep


class ElasticsearchOptions(BaseModel):
    """Options in an `elasticsearch` connection's extra."""

    model_config = ConfigDict(extra="forbid")
    bugs_index: str = "bugzilla-bugs"  # one document per bug, id = bug id
    comments_index: str = "bugzilla-comments"  # one document per public comment, with its bug_id
    attachments_index: str = "bugzilla-attachments"  # one per public attachment (metadata, no contents)
    index_private: bool = False  # off: private bugs, comments and attachments never reach the cluster
    private_suffix: str = "-private"  # private indices are <index><suffix>; restrict them like security bugs
    bulk_size: int = Field(1000, ge=1, le=10_000)  # actions per request: fewer round trips vs more to redo
    bulk_bytes: int = Field(10 * 1024 * 1024, ge=64 * 1024)  # body limit per request (ES refuses > 100 MB)
    manage_indices: bool = True  # install templates and create indices; off needs fewer privileges
    template_name: str = "bugzilla-push"  # prefix of the three index templates (bugs, comments, attachments)
    gc_deletes: str = "7d"  # how long a delete's version is kept: a replay older than this could resurrect
    timeout: float = Field(30.0, gt=0)  # seconds per request; a timeout is transient (too short = backoff)
    retries: int = Field(2, ge=0, le=10)  # the client's immediate retries (lost connection, 429/502/503/504)
    verify_certs: bool = True  # verify the cluster's TLS certificate; off only for a test cluster
    ca_certs: str | None = None  # CA bundle for a cluster with a private CA
    http_compress: bool = False  # gzip request bodies: less network, more CPU

    @field_validator("bugs_index", "comments_index", "attachments_index")
    @classmethod
    def _index_name(cls, value: str) -> str:
        if not _INDEX_NAME.match(value):
            raise ValueError(
                "an index name is lowercase letters, digits and . _ + -, starting with a letter or digit"
            )
        return value

    @field_validator("private_suffix")
    @classmethod
    def _suffix(cls, value: str) -> str:
        if not value or not re.match(r"^[a-z0-9._+-]{1,50}$", value):
            raise ValueError("the suffix is 1-50 lowercase letters, digits and . _ + -")
        return value

    def names(self) -> IndexNames:
        return IndexNames(self.bugs_index, self.comments_index, self.attachments_index, self.private_suffix)


def cluster_url(info: ConnectionInfo) -> str:
    """Build the cluster's URL from the connection: host (or a URL in it), port, Schema = http/https."""
    host = (info.host or "").strip()
    if not host:
        raise ConnectorConfigError(
            f"connection {info.conn_id!r} (type elasticsearch) has no host: set it, for example "
            f"AIRFLOW_CONN_{info.conn_id.upper()}='elasticsearch://user:password@es.example:9200/https'"
        )
    scheme = (info.schema or "").lower() or None
    if "://" in host:
        given, _, host = host.partition("://")
        scheme = scheme or given.lower()
    host, port = host.rstrip("/"), info.port
    if scheme not in (None, "http", "https"):
        raise ConnectorConfigError(
            f"connection {info.conn_id!r}: Schema is the URL scheme, http or https, not {info.schema!r}"
        )
    if host.startswith("["):  # [IPv6] or [IPv6]:port
        address, _, rest = host.partition("]")
        host, port = address + "]", port or (int(rest[1:]) if rest.startswith(":") else None)
    elif host.count(":") == 1:
        host, _, given_port = host.partition(":")
        port = port or int(given_port)
    elif ":" in host:
        host = f"[{host}]"
    return f"{scheme or 'http'}://{host}:{port or 9200}"


class ElasticsearchConnector(Connector):
    """Indexes bugs, comments and attachments; see the module docstring for what is written where.

    :param url: the cluster, `scheme://host:port`
    :param options: the connection's extra, validated
    :param login: with `password`: basic authentication
    :param password: with `login` the password, alone an API key; never logged
    """

    kind = "elasticsearch"
    Options = ElasticsearchOptions

    def __init__(
        self,
        name: str,
        url: str,
        options: ElasticsearchOptions | None = None,
        login: str | None = None,
        password: str | None = None,
    ) -> None:
        super().__init__(name)
        self.url = url
        self.options = options or ElasticsearchOptions()
        self.names = self.options.names()
        self._login = login
        self._password = password
        self._client: Elasticsearch | None = None
        self._ready = False
        self.stats: Counter[str] = Counter()

    @classmethod
    def from_connection(cls, info: ConnectionInfo) -> Self:
        options = cls.parse_options(info)
        if info.login and not info.password:
            raise ConnectorConfigError(f"connection {info.conn_id!r} has a login but no password")
        return cls(info.conn_id, cluster_url(info), options, info.login, info.password)

    # -- the client --------------------------------------------------------------------------------

    @property
    def client(self) -> Elasticsearch:
        """Return the official client, built on first use."""
        if self._client is None:
            from elasticsearch import Elasticsearch

            opts = self.options
            kwargs: dict[str, Any] = {
                "request_timeout": opts.timeout,
                "max_retries": opts.retries,
                "retry_on_timeout": False,
                "http_compress": opts.http_compress,
            }
            if self.url.startswith("https:"):
                kwargs["verify_certs"] = opts.verify_certs
                if opts.ca_certs:
                    kwargs["ca_certs"] = opts.ca_certs
            if self._login:
                kwargs["basic_auth"] = (self._login, self._password or "")
            elif self._password:
                kwargs["api_key"] = self._password
            self._client = Elasticsearch(self.url, **kwargs)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._ready = False
        if self.stats:
            log.info("%s: %s", self.name, ", ".join(f"{k} {v:,}" for k, v in sorted(self.stats.items())))
            self.stats.clear()

    def _failure(self, exc: Exception, doing: str, fatal_4xx: bool = False) -> Stop:
        timeout, secret = self.options.timeout, self._password
        return request_failure(exc, doing, self.name, self.url, timeout, secret, fatal_4xx)

    # -- delivery ------------------------------------------------------------------------------------

    def should_send(self, message: PushMessage) -> bool:
        """Skip a private object's creation unless private indices are on: nothing public to remove.

        Every other private message is sent, as versioned deletes from the public indices.
        """
        return self.options.index_private or message.event.action != "create" or is_public(message)

    def send(self, batch: Sequence[PushMessage]) -> list[Outcome]:
        if not batch:
            return []
        try:
            self._prepare()
            children = self._find_children(batch)
        except Stop as stop:
            if stop.fatal:
                raise ConnectorFatal(stop.detail) from None
            self.stats["transient"] += 1
            return [Outcome(Result.TRANSIENT, stop.detail)]
        plans = [self._plan(message, children) for message in batch]
        return self._deliver(plans)

    def _prepare(self) -> None:
        """Install the index templates and create missing indices, once per connector instance."""
        if self._ready or not self.options.manage_indices:
            self._ready = True
            return
        from elasticsearch import ApiError, NotFoundError, TransportError

        opts = self.options
        templates = index_templates(self.names, opts.template_name, opts.index_private, opts.gc_deletes)
        try:
            for name, body in templates.items():
                try:
                    found = self.client.indices.get_index_template(name=name)["index_templates"][0]
                    current = found["index_template"]
                except NotFoundError:
                    current = {}
                if (current.get("version"), current.get("index_patterns")) != (
                    body["version"],
                    body["index_patterns"],
                ):
                    self.client.indices.put_index_template(
                        name=name,
                        index_patterns=body["index_patterns"],
                        priority=body["priority"],
                        version=body["version"],
                        meta=body["_meta"],
                        template=body["template"],
                    )
                    log.info("%s: installed index template %s (version %s)", self.name, name, body["version"])
            for index in self.names.all(opts.index_private):
                if not self.client.indices.exists(index=index):
                    try:
                        self.client.indices.create(index=index)
                        log.info("%s: created index %s", self.name, index)
                    except ApiError as exc:
                        if error_reason(exc).split(":")[0] != "resource_already_exists_exception":
                            raise
        except (ApiError, TransportError) as exc:
            raise self._failure(exc, "installing the index templates and indices", fatal_4xx=True) from None
        self._ready = True

    def _find_children(self, batch: Sequence[PushMessage]) -> ChildIndex | None:
        """Find the comments and attachments of bugs whose privacy changes in the batch."""
        bug_ids = sorted({b for m in batch if privacy_transition(m) and (b := m.bug_id) is not None})
        if not bug_ids:
            return None
        from elasticsearch import ApiError, TransportError

        children = ChildIndex(bug_ids)
        where = {self.names.public(k): (k, True) for k in CHILD_KINDS}
        if self.options.index_private:
            where |= {self.names.private(k): (k, False) for k in CHILD_KINDS}
        try:
            # Search sees what was refreshed; documents written a moment ago must be found too.
            self.client.indices.refresh(index=list(where), ignore_unavailable=True)
            hits = self._search_children(where, bug_ids)
            for hit in hits:
                kind, public = where[hit["_index"]]
                children.add(hit["_source"]["bug_id"], public, Child(kind, hit["_id"], hit["_source"]))
        except (ApiError, TransportError) as exc:
            raise self._failure(exc, "finding the comments of bugs that change privacy") from None
        return children

    def _search_children(
        self, where: dict[str, tuple[Kind, bool]], bug_ids: list[int]
    ) -> list[dict[str, Any]]:
        """One search over every child index; page through each index only if that is not all."""
        query = {"terms": {"bug_id": bug_ids}}
        # Only a copy into the private indices needs the whole document.
        source: Any = True if self.options.index_private else ["bug_id"]
        found = self.client.search(
            index=list(where),
            query=query,
            size=SEARCH_PAGE,
            track_total_hits=True,
            source=source,
            ignore_unavailable=True,
        )["hits"]
        if found["total"]["value"] <= len(found["hits"]):
            return found["hits"]
        hits = []
        for index, (kind, _) in where.items():
            after: list[Any] | None = None
            while True:
                page = self.client.search(
                    index=index,
                    query=query,
                    sort=[{ID_FIELD[kind]: {"order": "asc", "unmapped_type": "long"}}],  # type: ignore[index]
                    size=SEARCH_PAGE,
                    search_after=after,
                    source=source,
                    ignore_unavailable=True,
                )["hits"]["hits"]
                hits += page
                if len(page) < SEARCH_PAGE:
                    break
                after = page[-1]["sort"]
        return hits

    def _plan(self, message: PushMessage, children: ChildIndex | None) -> MessagePlan | Outcome:
        """Turn a message into its actions, or an ERROR outcome if it cannot be indexed."""
        if message.target not in KIND_OF_TARGET:
            return Outcome(Result.ERROR, f"target {message.target!r} is not indexed")
        try:
            plan = plan_message(message, self.names, self.options.index_private)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return Outcome(Result.ERROR, f"cannot build the {message.target} document: {exc!r}"[:500])
        if plan.bug_id is None:
            return Outcome(Result.ERROR, f"{message.target} has no bug: cannot tell whether it is public")
        if children is not None:
            if plan.transition:
                plan.actions += children.sweep(plan, self.names, self.options.index_private, message.id)
            else:
                children.follow(plan)
        return plan

    def _requests(self, plans: list[MessagePlan | Outcome]) -> Iterator[list[_Planned]]:
        """Group messages into bulk requests of at most `bulk_size` actions and `bulk_bytes` bytes."""
        group: list[_Planned] = []
        actions = size = 0
        for plan in plans:
            body = b"".join(a.ndjson() for a in plan.actions) if isinstance(plan, MessagePlan) else b""
            count = len(plan.actions) if isinstance(plan, MessagePlan) else 0
            full = actions + count > self.options.bulk_size or size + len(body) > self.options.bulk_bytes
            if group and full:
                yield group
                group, actions, size = [], 0, 0
            group.append((plan, body))
            actions += count
            size += len(body)
        if group:
            yield group

    def _deliver(self, plans: list[MessagePlan | Outcome]) -> list[Outcome]:
        """Send the bulk requests in order; stop at the first message that must wait."""
        from elasticsearch import ApiError, TransportError

        outcomes: list[Outcome] = []
        for group in self._requests(plans):
            body = b"".join(b for _, b in group)
            response: dict[str, Any] = {"items": [], "errors": False}
            if body:
                try:
                    response = self.client.bulk(operations=body).body  # type: ignore[arg-type]
                except (ApiError, TransportError) as exc:
                    stop = self._failure(exc, "bulk request")
                    verdict = Verdict("fatal" if stop.fatal else "transient", stop.detail)
                    return self._stopped(outcomes, group, verdict)
            items = response.get("items") or []
            expected = sum(len(p.actions) for p, _ in group if isinstance(p, MessagePlan))
            if len(items) != expected:
                detail = f"bulk response has {len(items)} items for {expected} actions"
                return self._stopped(outcomes, group, Verdict("transient", detail), Result.UNKNOWN)
            cursor = 0
            for plan, _ in group:
                if isinstance(plan, Outcome):
                    outcomes.append(plan)
                    self.stats["dead-lettered"] += 1
                    continue
                if not response.get("errors"):  # every item applied: nothing to classify
                    for action in plan.actions:
                        self.stats["indexed" if action.op == "index" else "deleted"] += 1
                    outcomes.append(OK)
                    continue
                verdicts = [classify_item(a, items[cursor + i]) for i, a in enumerate(plan.actions)]
                cursor += len(plan.actions)
                verdict = combine(verdicts)
                if verdict.kind in ("transient", "fatal"):
                    return self._stopped(outcomes, [(plan, b"")], verdict)
                self._count(plan, verdicts)
                outcomes.append(OK if verdict.kind == "ok" else Outcome(Result.ERROR, verdict.detail))
        return outcomes

    def _stopped(
        self,
        outcomes: list[Outcome],
        group: list[_Planned],
        verdict: Verdict,
        result: Result = Result.TRANSIENT,
    ) -> list[Outcome]:
        """End a send at the first message of `group` that was sent.

        A connector-fatal condition raises :class:`ConnectorFatal` carrying the outcomes of the
        messages acknowledged before it, which the engine records before it stops the connector.
        """
        for plan, _ in group:
            if isinstance(plan, Outcome):
                outcomes.append(plan)
                continue
            if verdict.kind == "fatal":
                raise ConnectorFatal(f"{self.name}: {verdict.detail}", outcomes=outcomes)
            self.stats["transient"] += 1
            outcomes.append(Outcome(result, verdict.detail))
            return outcomes
        return outcomes

    def _count(self, plan: MessagePlan, verdicts: list[Verdict]) -> None:
        for action, verdict in zip(plan.actions, verdicts, strict=True):
            if verdict.kind == "error":
                self.stats["item errors"] += 1
            elif verdict.already:
                self.stats["already applied"] += 1
            else:
                self.stats["indexed" if action.op == "index" else "deleted"] += 1
