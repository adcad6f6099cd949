"""TEST DOUBLE: the in-memory state of an Elasticsearch cluster, as its REST API shows it.

Used by :mod:`tests.doubles.es_server`. It keeps what the project's tests and the connector rely
on faithful to Elasticsearch 9: index templates applied when an index is created, mappings that
reject a value of the wrong type (400) or an unknown field under ``dynamic: strict``, external
versioning with 409 ``version_conflict_engine_exception`` for index and delete alike, delete
tombstones that keep their version (as ``index.gc_deletes`` does), real-time GET, and search that
sees only what was refreshed. Everything else of Elasticsearch is out of scope.
"""

from __future__ import annotations

import fnmatch
import functools
import itertools
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

VERSION = "9.1.0"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_TOKEN = re.compile(r"\w+", re.UNICODE)


class EsError(Exception):
    """An Elasticsearch error response: status, `error.type`, `error.reason`."""

    def __init__(self, status: int, etype: str, reason: str, **extra: Any) -> None:
        super().__init__(f"{status} {etype}: {reason}")
        self.status, self.type, self.reason, self.extra = status, etype, reason, extra

    def error(self) -> dict[str, Any]:
        return {"type": self.type, "reason": self.reason, **self.extra}

    def body(self) -> dict[str, Any]:
        return {"error": {"root_cause": [self.error()], **self.error()}, "status": self.status}


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
    seq: itertools.count = field(default_factory=itertools.count)
    _checks: dict[str, Any] | None = None

    def validate(self, source: dict[str, Any], doc_id: str) -> None:
        """Raise the 400 Elasticsearch gives for a value its mapping cannot take."""
        if self._checks is None:
            self._checks = _compile_object(self.mappings)
        _check_object(self._checks, source, doc_id, "")


def index_not_found(name: str, auto_create: bool | None = None) -> EsError:
    reason = f"no such index [{name}]"
    if auto_create is False:
        reason += " and [action.auto_create_index] is [false]"
    return EsError(404, "index_not_found_exception", reason, index=name, index_uuid="_na_")


def _as_bool(value: Any) -> bool:
    return value in (True, "true")


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
            mappings = {**template.get("mappings", {}), **(body.get("mappings") or {})}
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
            if any(fnmatch.fnmatchcase(name, p) for p in tpl["index_patterns"]):
                if best is None or tpl.get("priority", 0) > best.get("priority", 0):
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
        index.docs[doc_id] = Doc(source, version, seq)
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
        index.docs.pop(doc_id, None)
        index.tombstones[doc_id] = version  # a missing document's delete records its version too
        return self._ok(version, seq, "deleted" if live else "not_found", 200 if live else 404)

    def _update(self, index: Index, doc_id: str, body: dict[str, Any]) -> dict[str, Any]:
        live = index.docs.get(doc_id)
        if live is None and not body.get("doc_as_upsert"):
            raise EsError(404, "document_missing_exception", f"[{doc_id}]: document missing")
        source = {**(live.source if live else {}), **(body.get("doc") or {})}
        index.validate(source, doc_id)
        version, seq = (live.version + 1 if live else 1), next(index.seq)
        index.docs[doc_id] = Doc(source, version, seq)
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
                self.indices[name].searchable = dict(self.indices[name].docs)
        return {"_shards": {"total": 2 * len(names), "successful": len(names), "failed": 0}}

    # -- search --------------------------------------------------------------------------------------

    def search(self, expr: str, body: dict[str, Any], ignore_unavailable: bool = False) -> dict[str, Any]:
        with self.lock:
            hits = []
            query = body.get("query") or {"match_all": {}}
            for name in self.resolve(expr or "_all", ignore_unavailable):
                index = self.indices[name]
                props = index.mappings.get("properties", {})
                quick = _term_lookup(query, props)  # what an inverted index answers at once
                for doc_id, doc in index.searchable.items():
                    if quick(doc.source) if quick else _matches(query, doc_id, doc.source, props):
                        hits.append((name, doc_id, doc))
        sort = _sort_spec(body.get("sort"))
        if sort:
            keyed = [(tuple(_sort_value(d.source, f) for f, _ in sort), h) for h in hits for d in [h[2]]]
            keyed.sort(key=functools.cmp_to_key(lambda a, b: _compare(a[0], b[0], sort)))
            if body.get("search_after") is not None:
                after = tuple(body["search_after"])
                keyed = [k for k in keyed if _compare(k[0], after, sort) > 0]
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
                hit["_source"] = _filter_source(doc.source, source_filter)
            if sort:
                hit["sort"] = [_sort_value(doc.source, f) for f, _ in sort]
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
                found += sum(1 for i, d in index.searchable.items() if _matches(query, i, d.source, props))
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


# -- mappings ----------------------------------------------------------------------------------------


_TEXTUAL = frozenset({"keyword", "text", "match_only_text", "wildcard", "constant_keyword"})
_INTEGRAL = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
_FLOATING = frozenset({"double", "float", "half_float", "scaled_float"})


def _accepts(ftype: str | None) -> Callable[[Any], bool]:
    """A predicate: does a field of this type take this (non-null, non-list) value?"""
    if ftype in _TEXTUAL:
        return lambda v: not isinstance(v, dict)
    if ftype in _INTEGRAL or ftype in _FLOATING:
        return lambda v: type(v) is int or type(v) is float or (type(v) is str and _numeric(v))
    if ftype == "boolean":
        return lambda v: v is True or v is False or v in ("true", "false", "")
    if ftype == "date":
        return lambda v: type(v) is int or (type(v) is str and (_DATE.match(v) is not None or v.isdigit()))
    return lambda v: True  # flattened, and types the double does not model


def _compile_object(mappings: dict[str, Any]) -> dict[str, Any]:
    """Field → predicate (or nested compiled object), plus the `dynamic` setting, for fast checks."""
    fields: dict[str, Any] = {}
    for name, mapping in (mappings.get("properties") or {}).items():
        ftype = mapping.get("type", "object" if "properties" in mapping else None)
        if ftype in ("object", "nested"):
            fields[name] = ("object", _compile_object(mapping))
        else:
            fields[name] = (ftype, _accepts(ftype))
    return {"strict": str(mappings.get("dynamic", "true")).lower() == "strict", "fields": fields}


def _check_object(compiled: dict[str, Any], source: dict[str, Any], doc_id: str, path: str) -> None:
    fields = compiled["fields"]
    for key, value in source.items():
        entry = fields.get(key)
        if entry is None:
            if compiled["strict"]:
                raise EsError(
                    400,
                    "strict_dynamic_mapping_exception",
                    f"[1:2] mapping set to strict, dynamic introduction of [{key}] within "
                    f"[{path.rstrip('.') or '_doc'}] is not allowed",
                )
            continue
        ftype, check = entry
        for element in value if isinstance(value, list) else (value,):
            if element is None:
                continue
            if ftype == "object":
                if not isinstance(element, dict):
                    raise EsError(
                        400,
                        "document_parsing_exception",
                        f"[1:2] object mapping for [{path}{key}] tried to parse field [{path}{key}] as "
                        "object, but found a concrete value",
                    )
                _check_object(check, element, doc_id, f"{path}{key}.")
            elif not check(element):
                raise EsError(
                    400,
                    "document_parsing_exception",
                    f"[1:2] failed to parse field [{path}{key}] of type [{ftype}] in document with id "
                    f"'{doc_id}'. Preview of field's value: '{element}'",
                )


def _numeric(value: str) -> bool:
    """Whether Elasticsearch takes a string for a number field (it coerces strings and truncates)."""
    try:
        float(value)
    except ValueError:
        return False
    return True


# -- queries -------------------------------------------------------------------------------------------


def _values(source: dict[str, Any], field_path: str) -> list[Any]:
    """The values of a field (`a.b`, or `summary.keyword` for a multi-field), flattened."""
    current: list[Any] = [source]
    for part in field_path.split("."):
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, dict):
                if part in item:
                    value = item[part]
                    nxt += value if isinstance(value, list) else [value]
            else:
                nxt.append(item)  # a multi-field (`summary.keyword`) indexes its parent's value
        current = nxt
    return [v for v in current if v is not None]


def _field_type(props: dict[str, Any], field_path: str) -> str | None:
    mapping: dict[str, Any] = {"properties": props}
    for part in field_path.split("."):
        inner = mapping.get("properties", {}).get(part) or mapping.get("fields", {}).get(part)
        if inner is None:
            return None
        mapping = inner
    return mapping.get("type")


def _tokens(value: Any) -> set[str]:
    return {t.lower() for t in _TOKEN.findall(str(value))}


def _equal(ftype: str | None, stored: Any, wanted: Any) -> bool:
    if ftype == "text":
        return str(wanted).lower() in _tokens(stored)
    if ftype in ("long", "integer", "short", "byte", "double", "float", "date"):
        try:
            return float(stored) == float(wanted)
        except (TypeError, ValueError):
            return str(stored) == str(wanted)
    if ftype == "boolean":
        return _as_bool(stored) == _as_bool(wanted)
    return str(stored) == str(wanted) if not isinstance(stored, bool) else stored == _as_bool(wanted)


def _matches(query: dict[str, Any], doc_id: str, source: dict[str, Any], props: dict[str, Any]) -> bool:
    if not query:
        return True
    (kind, spec), *rest = query.items()
    if rest:
        raise EsError(
            400,
            "parsing_exception",
            f"[{kind}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]",
        )
    if kind == "match_all":
        return True
    if kind == "match_none":
        return False
    if kind == "ids":
        return doc_id in {str(v) for v in spec.get("values", [])}
    if kind in ("term", "terms", "match", "match_phrase"):
        field_path, wanted = next(iter((k, v) for k, v in spec.items() if k != "boost"))
        if kind == "term" and isinstance(wanted, dict):
            wanted = wanted.get("value")
        if kind.startswith("match") and isinstance(wanted, dict):
            wanted = wanted.get("query")
        ftype = _field_type(props, field_path)
        stored = _values(source, field_path) if field_path != "_id" else [doc_id]
        if kind == "terms":
            return any(_equal(ftype, s, w) for s in stored for w in wanted)
        if kind.startswith("match") and ftype == "text":
            words = _tokens(wanted)
            have = set().union(*(_tokens(s) for s in stored)) if stored else set()
            return bool(words & have) if kind == "match" else words <= have
        return any(_equal(ftype, s, wanted) for s in stored)
    if kind == "exists":
        return bool(_values(source, spec["field"]))
    if kind == "bool":

        def clauses(name: str) -> list[dict[str, Any]]:
            value = spec.get(name, [])
            return value if isinstance(value, list) else [value]

        must = clauses("must") + clauses("filter")
        if not all(_matches(q, doc_id, source, props) for q in must):
            return False
        if any(_matches(q, doc_id, source, props) for q in clauses("must_not")):
            return False
        should = clauses("should")
        return not should or bool(must) or any(_matches(q, doc_id, source, props) for q in should)
    raise EsError(400, "parsing_exception", f"unknown query [{kind}] (not supported by the test double)")


def _term_lookup(query: dict[str, Any], props: dict[str, Any]) -> Callable[[dict[str, Any]], bool] | None:
    """A fast test for `term`/`terms` on a top-level keyword, number or boolean field; else None."""
    if len(query) != 1 or next(iter(query)) not in ("term", "terms"):
        return None
    ((kind, spec),) = query.items()
    if len(spec) != 1:
        return None
    ((name, wanted),) = spec.items()
    ftype = (props.get(name) or {}).get("type")
    if "." in name or name == "_id" or ftype not in ("keyword", "long", "integer", "short", "byte"):
        return None
    wanted = wanted if kind == "terms" else [wanted.get("value") if isinstance(wanted, dict) else wanted]
    if ftype == "keyword":
        keys = {str(w) for w in wanted}
        norm: Callable[[Any], Any] = str
    else:
        keys = {int(float(w)) for w in wanted}
        norm = lambda v: int(float(v))  # noqa: E731

    def test(source: dict[str, Any]) -> bool:
        value = source.get(name)
        if value is None:
            return False
        if isinstance(value, list):
            return any(v is not None and norm(v) in keys for v in value)
        return norm(value) in keys

    return test


def _sort_spec(sort: Any) -> list[tuple[str, str]]:
    if not sort:
        return []
    out = []
    for entry in sort if isinstance(sort, list) else [sort]:
        if isinstance(entry, str):
            out.append((entry, "asc"))
        else:
            ((name, how),) = entry.items()
            out.append((name, how if isinstance(how, str) else how.get("order", "asc")))
    return out


def _sort_value(source: dict[str, Any], field_path: str) -> Any:
    values = _values(source, field_path)
    return min(values) if values else None


def _compare(a: tuple[Any, ...], b: tuple[Any, ...], sort: list[tuple[str, str]]) -> int:
    for x, y, (_, order) in zip(a, b, sort, strict=True):
        if x == y:
            continue
        if x is None or y is None:
            return 1 if x is None else -1  # missing values sort last
        result = -1 if x < y else 1
        return result if order == "asc" else -result
    return 0


def _filter_source(source: dict[str, Any], spec: Any) -> dict[str, Any]:
    if spec is True or spec is None:
        return source
    includes = (
        spec if isinstance(spec, list) else [spec] if isinstance(spec, str) else spec.get("includes", [])
    )
    return {k: v for k, v in source.items() if any(fnmatch.fnmatchcase(k, p) for p in includes)}
