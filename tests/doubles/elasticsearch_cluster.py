"""TEST DOUBLE: the in-memory state of an Elasticsearch cluster, as its REST API shows it.

Used by :mod:`tests.doubles.elasticsearch_server`. It keeps what the project's tests and the connector rely
on faithful to Elasticsearch 9: index templates applied when an index is created, mappings that
reject a value of the wrong type (400) or an unknown field under ``dynamic: strict``, external
versioning with 409 ``version_conflict_engine_exception`` for index and delete alike, delete
tombstones that keep their version (as ``index.gc_deletes`` does), real-time GET, and search that
sees only what was refreshed. Everything else of Elasticsearch is out of scope.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import itertools
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.doubles.elasticsearch_fields import (
    EsError,
    check_object,
    compare,
    compile_object,
    filter_source,
    matches,
    sort_spec,
    sort_value,
    term_keys,
    term_lookup,
)

if TYPE_CHECKING:
    from collections.abc import Callable

VERSION = "9.1.0"


@dataclass
class Doc:
    source: dict[str, Any]
    version: int
    seq_no: int


@dataclass
class Index:
    name: str
    mappings: dict[str, Any]
    settings: dict[str, Any]
    uuid: str = field(default_factory=lambda: uuid.uuid4().hex[:22])
    docs: dict[str, Doc] = field(default_factory=dict)
    tombstones: dict[str, int] = field(default_factory=dict)  # deleted id → the delete's version
    searchable: dict[str, Doc] = field(default_factory=dict)  # what the last refresh made visible
    pending: dict[str, Doc | None] = field(default_factory=dict)  # written since (None: deleted)
    term_index: dict[str, tuple[Callable[[Any], Any], dict[Any, set[str]]]] = field(default_factory=dict)
    seq: itertools.count = field(default_factory=itertools.count)
    _checks: dict[str, Any] | None = None

    def stage(self, doc_id: str, doc: Doc | None) -> None:
        """Record a write or delete (real-time for GET; visible to search after a refresh)."""
        if doc is None:
            self.docs.pop(doc_id, None)
        else:
            self.docs[doc_id] = doc
        self.pending[doc_id] = doc

    def refresh(self) -> None:
        """Make what was written since the last refresh searchable (only that: cheap, like a segment)."""
        for doc_id, doc in self.pending.items():
            old = self.searchable.pop(doc_id, None)
            for name, (norm, terms) in self.term_index.items():
                if old is not None:
                    for key in term_keys(old.source, name, norm):
                        terms.get(key, set()).discard(doc_id)
                if doc is not None:
                    for key in term_keys(doc.source, name, norm):
                        terms.setdefault(key, set()).add(doc_id)
            if doc is not None:
                self.searchable[doc_id] = doc
        self.pending.clear()

    def terms(self, name: str, norm: Callable[[Any], Any]) -> dict[Any, set[str]]:
        """The term index of a field over the searchable documents, built on first use."""
        if name not in self.term_index:
            terms: dict[Any, set[str]] = {}
            for doc_id, doc in self.searchable.items():
                for key in term_keys(doc.source, name, norm):
                    terms.setdefault(key, set()).add(doc_id)
            self.term_index[name] = (norm, terms)
        return self.term_index[name][1]

    def validate(self, source: dict[str, Any], doc_id: str) -> None:
        """Raise the 400 Elasticsearch gives for a value its mapping cannot take."""
        if self._checks is None:
            self._checks = compile_object(self.mappings)
        check_object(self._checks, source, doc_id, "")


def index_not_found(name: str, auto_create: bool | None = None) -> EsError:
    reason = f"no such index [{name}]"
    if auto_create is False:
        reason += " and [action.auto_create_index] is [false]"
    return EsError(404, "index_not_found_exception", reason, index=name, index_uuid="_na_")


class Cluster:
    """The indices, templates and documents of a one-node cluster, behind one lock.

    :param auto_create_index: Elasticsearch's `action.auto_create_index`
    """

    def __init__(self, auto_create_index: bool = True) -> None:
        self.lock = threading.RLock()
        self.indices: dict[str, Index] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.auto_create_index = auto_create_index

    # -- templates and indices ---------------------------------------------------------------------

    def put_template(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        patterns = body.get("index_patterns")
        patterns = [patterns] if isinstance(patterns, str) else patterns
        if not patterns:
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: index patterns are missing;",
            )
        priority = body.get("priority", 0)
        with self.lock:
            for other, tpl in self.templates.items():
                if other == name or tpl.get("priority", 0) != priority:
                    continue
                if any(
                    fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a)
                    for a in patterns
                    for b in tpl["index_patterns"]
                ):
                    raise EsError(
                        400,
                        "illegal_argument_exception",
                        f"index template [{name}] has index patterns {patterns} matching patterns "
                        f"from existing templates [{other}] with patterns ({other} => "
                        f"{tpl['index_patterns']}) that have the same priority [{priority}], multiple "
                        "index templates may not match during index creation, please use a different "
                        "priority",
                    )
            self.templates[name] = {**body, "index_patterns": list(patterns), "composed_of": []}
        return {"acknowledged": True}

    def get_template(self, name: str) -> dict[str, Any]:
        with self.lock:
            names = [n for n in self.templates if fnmatch.fnmatchcase(n, name)]
            if not names:
                raise EsError(
                    404, "resource_not_found_exception", f"index template matching [{name}] not found"
                )
            return {"index_templates": [{"name": n, "index_template": self.templates[n]} for n in names]}

    def delete_template(self, name: str) -> dict[str, Any]:
        with self.lock:
            if self.templates.pop(name, None) is None:
                raise EsError(404, "resource_not_found_exception", f"index_template [{name}] missing")
        return {"acknowledged": True}

    def create_index(self, name: str, body: dict[str, Any] | None = None) -> Index:
        body = body or {}
        if (
            name != name.lower()
            or name.startswith(("-", "_", "+"))
            or any(c in name for c in ' "*\\<|,>/?#:')
        ):
            raise EsError(400, "invalid_index_name_exception", f"Invalid index name [{name}]", index=name)
        with self.lock:
            if name in self.indices:
                raise EsError(
                    400,
                    "resource_already_exists_exception",
                    f"index [{name}/{self.indices[name].uuid}] already exists",
                    index=name,
                )
            template = self._matching_template(name)
            # A copy: dynamic mapping adds fields to the index's mapping, never to its template.
            mappings = copy.deepcopy({**template.get("mappings", {}), **(body.get("mappings") or {})})
            settings = {
                **_flat_settings(template.get("settings", {})),
                **_flat_settings(body.get("settings") or {}),
            }
            index = Index(name, mappings, settings)
            self.indices[name] = index
            return index

    def _matching_template(self, name: str) -> dict[str, Any]:
        best: dict[str, Any] | None = None
        for tpl in self.templates.values():
            if any(fnmatch.fnmatchcase(name, p) for p in tpl["index_patterns"]) and (
                best is None or tpl.get("priority", 0) > best.get("priority", 0)
            ):
                best = tpl
        return (best or {}).get("template", {})

    def delete_index(self, expr: str) -> dict[str, Any]:
        with self.lock:
            for name in self.resolve(expr):
                del self.indices[name]
        return {"acknowledged": True}

    def resolve(self, expr: str, ignore_unavailable: bool = False) -> list[str]:
        """Index names for `a,b,c*` (a missing concrete name is a 404 unless ignored)."""
        names: list[str] = []
        with self.lock:
            for part in [p for p in expr.split(",") if p]:
                if part in ("_all", "*") or "*" in part:
                    names += [
                        n for n in sorted(self.indices) if fnmatch.fnmatchcase(n, part.replace("_all", "*"))
                    ]
                elif part in self.indices:
                    names.append(part)
                elif not ignore_unavailable:
                    raise index_not_found(part)
        return list(dict.fromkeys(names))

    def describe(self, expr: str) -> dict[str, Any]:
        with self.lock:
            return {
                n: {
                    "aliases": {},
                    "mappings": self.indices[n].mappings,
                    "settings": {"index": {**self.indices[n].settings, "uuid": self.indices[n].uuid}},
                }
                for n in self.resolve(expr)
            }

    # -- documents -------------------------------------------------------------------------------

    def write(self, op: str, meta: dict[str, Any], source: dict[str, Any] | None) -> dict[str, Any]:
        """Apply one bulk action; return its item (`_index`, `_id`, `status`, `result` or `error`)."""
        name, doc_id = meta.get("_index"), meta.get("_id")
        item: dict[str, Any] = {"_index": name, "_id": doc_id}
        index: Index | None = None
        try:
            with self.lock:
                index = self.indices.get(name)
                if index is None:
                    if op == "delete" or not self.auto_create_index:
                        raise index_not_found(name, None if op == "delete" else self.auto_create_index)
                    index = self.create_index(name)
                if doc_id is None:
                    doc_id = item["_id"] = uuid.uuid4().hex[:20]
                if op in ("index", "create"):
                    index.validate(source or {}, doc_id)
                    return item | self._put(index, op, doc_id, meta, source or {})
                if op == "delete":
                    return item | self._delete(index, doc_id, meta)
                return item | self._update(index, doc_id, source or {})
        except EsError as exc:
            error = exc.error()
            if index is not None:
                error |= {"index_uuid": index.uuid, "index": name}
            return item | {"status": exc.status, "error": error}

    def _current(self, index: Index, doc_id: str) -> int | None:
        live = index.docs.get(doc_id)
        return live.version if live else index.tombstones.get(doc_id)

    def _conflict(self, doc_id: str, current: int, given: int) -> EsError:
        return EsError(
            409,
            "version_conflict_engine_exception",
            f"[{doc_id}]: version conflict, current version [{current}] is higher or equal to the one "
            f"provided [{given}]",
        )

    def _put(
        self, index: Index, op: str, doc_id: str, meta: dict[str, Any], source: dict[str, Any]
    ) -> dict[str, Any]:
        live = index.docs.get(doc_id)
        current = self._current(index, doc_id)
        if meta.get("version_type") in ("external", "external_gte"):
            version = int(meta["version"])
            if current is not None and (
                version < current or (version == current and meta["version_type"] == "external")
            ):
                raise self._conflict(doc_id, current, version)
        else:
            if op == "create" and live:
                raise EsError(
                    409,
                    "version_conflict_engine_exception",
                    f"[{doc_id}]: version conflict, document already exists "
                    f"(current version [{live.version}])",
                )
            version = (current or 0) + 1
        seq = next(index.seq)
        index.stage(doc_id, Doc(source, version, seq))
        index.tombstones.pop(doc_id, None)
        return self._ok(version, seq, "updated" if live else "created", 200 if live else 201)

    def _delete(self, index: Index, doc_id: str, meta: dict[str, Any]) -> dict[str, Any]:
        live = index.docs.get(doc_id)
        current = self._current(index, doc_id)
        if meta.get("version_type") in ("external", "external_gte"):
            version = int(meta["version"])
            if current is not None and (
                version < current or (version == current and meta["version_type"] == "external")
            ):
                raise self._conflict(doc_id, current, version)
        else:
            version = (current or 0) + 1
        seq = next(index.seq)
        index.stage(doc_id, None)
        index.tombstones[doc_id] = version  # a missing document's delete records its version too
        return self._ok(version, seq, "deleted" if live else "not_found", 200 if live else 404)

    def _update(self, index: Index, doc_id: str, body: dict[str, Any]) -> dict[str, Any]:
        live = index.docs.get(doc_id)
        if live is None and not body.get("doc_as_upsert"):
            raise EsError(404, "document_missing_exception", f"[{doc_id}]: document missing")
        source = {**(live.source if live else {}), **(body.get("doc") or {})}
        index.validate(source, doc_id)
        version, seq = (live.version + 1 if live else 1), next(index.seq)
        index.stage(doc_id, Doc(source, version, seq))
        return self._ok(version, seq, "updated" if live else "created", 200 if live else 201)

    @staticmethod
    def _ok(version: int, seq: int, result: str, status: int) -> dict[str, Any]:
        return {
            "_version": version,
            "result": result,
            "_shards": {"total": 2, "successful": 1, "failed": 0},
            "_seq_no": seq,
            "_primary_term": 1,
            "status": status,
        }

    def get(self, name: str, doc_id: str) -> dict[str, Any]:
        with self.lock:
            index = self.indices.get(name)
            if index is None:
                raise index_not_found(name)
            doc = index.docs.get(doc_id)  # GET is real-time: no refresh needed
            if doc is None:
                return {"_index": name, "_id": doc_id, "found": False}
            return {
                "_index": name,
                "_id": doc_id,
                "_version": doc.version,
                "_seq_no": doc.seq_no,
                "_primary_term": 1,
                "found": True,
                "_source": doc.source,
            }

    def refresh(self, expr: str, ignore_unavailable: bool = False) -> dict[str, Any]:
        with self.lock:
            names = self.resolve(expr or "_all", ignore_unavailable)
            for name in names:
                self.indices[name].refresh()
        return {"_shards": {"total": 2 * len(names), "successful": len(names), "failed": 0}}

    # -- search --------------------------------------------------------------------------------------

    def search(self, expr: str, body: dict[str, Any], ignore_unavailable: bool = False) -> dict[str, Any]:
        with self.lock:
            hits = []
            query = body.get("query") or {"match_all": {}}
            for name in self.resolve(expr or "_all", ignore_unavailable):
                index = self.indices[name]
                props = index.mappings.get("properties", {})
                lookup = term_lookup(query, props)
                if lookup is not None:  # answered from the term index, as an inverted index would
                    name_, norm, keys = lookup
                    terms = index.terms(name_, norm)
                    ids = set().union(*(terms.get(k, ()) for k in keys)) if keys else set()
                    hits += [(name, i, index.searchable[i]) for i in sorted(ids)]
                    continue
                for doc_id, doc in index.searchable.items():
                    if matches(query, doc_id, doc.source, props):
                        hits.append((name, doc_id, doc))
        sort = sort_spec(body.get("sort"))
        if sort:
            keyed = [(tuple(sort_value(d.source, f) for f, _ in sort), h) for h in hits for d in [h[2]]]
            keyed.sort(key=functools.cmp_to_key(lambda a, b: compare(a[0], b[0], sort)))
            if body.get("search_after") is not None:
                after = tuple(body["search_after"])
                keyed = [k for k in keyed if compare(k[0], after, sort) > 0]
            hits = [h for _, h in keyed]
        total = len(hits)
        start, size = int(body.get("from", 0)), int(body.get("size", 10))
        page = hits[start : start + size]
        source_filter = body.get("_source", True)
        out = []
        for name, doc_id, doc in page:
            hit: dict[str, Any] = {"_index": name, "_id": doc_id, "_score": None if sort else 1.0}
            if body.get("version"):
                hit["_version"] = doc.version
            if source_filter is not False:
                hit["_source"] = filter_source(doc.source, source_filter)
            if sort:
                hit["sort"] = [sort_value(doc.source, f) for f, _ in sort]
            out.append(hit)
        return {
            "took": 1,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": min(total, 10_000), "relation": "eq" if total <= 10_000 else "gte"},
                "max_score": None if sort or not out else 1.0,
                "hits": out,
            },
        }

    def count(self, expr: str, body: dict[str, Any]) -> dict[str, Any]:
        query = body.get("query") or {"match_all": {}}
        with self.lock:
            found = 0
            for name in self.resolve(expr or "_all"):
                index = self.indices[name]
                props = index.mappings.get("properties", {})
                found += sum(1 for i, d in index.searchable.items() if matches(query, i, d.source, props))
        return {"count": found, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}


def _flat_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """`{"index": {"gc_deletes": "7d"}}` and `{"index.gc_deletes": "7d"}` → `{"gc_deletes": "7d"}`."""
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if key == "index" and isinstance(value, dict):
            flat.update(_flat_settings(value))
        else:
            flat[key.removeprefix("index.")] = value
    return flat
