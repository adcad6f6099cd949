"""TEST DOUBLE: how the Elasticsearch double reads documents: mapping checks and queries.

Part of :mod:`tests.doubles.elasticsearch_server`. Mappings reject what Elasticsearch rejects (a value of the
wrong type, an unknown field under `dynamic: strict`); queries cover what the project uses
(`match_all`, `ids`, `term`, `terms`, `match`, `exists`, `bool`) with sorting and `search_after`.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_DYNAMIC_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
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


def _as_bool(value: Any) -> bool:
    return value in (True, "true")


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


def compile_object(mappings: dict[str, Any], inherited: str = "true") -> dict[str, Any]:
    """Field → predicate (or nested compiled object), plus the `dynamic` setting, for fast checks.

    The compiled form keeps the mapping it came from: dynamic mapping adds new fields to both.
    """
    fields: dict[str, Any] = {}
    dynamic = str(mappings.get("dynamic", inherited)).lower()
    for name, mapping in (mappings.get("properties") or {}).items():
        fields[name] = _compile_field(mapping, dynamic)
    return {"dynamic": dynamic, "fields": fields, "mapping": mappings}


def _compile_field(mapping: dict[str, Any], dynamic: str) -> tuple[str | None, Any]:
    ftype = mapping.get("type", "object" if "properties" in mapping else None)
    if ftype in ("object", "nested"):
        return ("object", compile_object(mapping, dynamic))
    return (ftype, _accepts(ftype))


def infer_mapping(value: Any) -> dict[str, Any] | None:
    """The mapping Elasticsearch's dynamic mapping gives a new field's value (None for null or [])."""
    if isinstance(value, list):
        return next((m for v in value if (m := infer_mapping(v)) is not None), None)
    if value is None:
        return None
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "long"}
    if isinstance(value, float):
        return {"type": "float"}
    if isinstance(value, dict):
        return {"properties": {k: m for k, v in value.items() if (m := infer_mapping(v)) is not None}}
    if _DYNAMIC_DATE.match(str(value)):
        return {"type": "date"}  # date_detection, on by default
    return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}


def check_object(compiled: dict[str, Any], source: dict[str, Any], doc_id: str, path: str) -> None:
    fields = compiled["fields"]
    for key, value in source.items():
        entry = fields.get(key)
        if entry is None:
            if compiled["dynamic"] == "strict":
                raise EsError(
                    400,
                    "strict_dynamic_mapping_exception",
                    f"[1:2] mapping set to strict, dynamic introduction of [{key}] within "
                    f"[{path.rstrip('.') or '_doc'}] is not allowed",
                )
            mapping = infer_mapping(value) if compiled["dynamic"] == "true" else None
            if mapping is None:
                continue
            compiled["mapping"].setdefault("properties", {})[key] = mapping
            entry = fields[key] = _compile_field(mapping, compiled["dynamic"])
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
                check_object(check, element, doc_id, f"{path}{key}.")
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


def matches(query: dict[str, Any], doc_id: str, source: dict[str, Any], props: dict[str, Any]) -> bool:
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
        if not all(matches(q, doc_id, source, props) for q in must):
            return False
        if any(matches(q, doc_id, source, props) for q in clauses("must_not")):
            return False
        should = clauses("should")
        return not should or bool(must) or any(matches(q, doc_id, source, props) for q in should)
    raise EsError(400, "parsing_exception", f"unknown query [{kind}] (not supported by the test double)")


def term_lookup(query: dict[str, Any], props: dict[str, Any]) -> tuple[str, Callable[[Any], Any], set] | None:
    """For `term`/`terms` on a top-level keyword or integer field: (field, normaliser, wanted keys).

    Such a query is answered from a term index (as Elasticsearch's inverted index does) instead of
    a scan; anything else returns None.
    """
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
    norm: Callable[[Any], Any] = str if ftype == "keyword" else (lambda v: int(float(v)))
    return name, norm, {norm(w) for w in wanted}


def term_keys(source: dict[str, Any], name: str, norm: Callable[[Any], Any]) -> list[Any]:
    """The keys a document has in the term index of a field."""
    value = source.get(name)
    values = value if isinstance(value, list) else [value]
    return [norm(v) for v in values if v is not None]


def sort_spec(sort: Any) -> list[tuple[str, str]]:
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


def sort_value(source: dict[str, Any], field_path: str) -> Any:
    values = _values(source, field_path)
    return min(values) if values else None


def compare(a: tuple[Any, ...], b: tuple[Any, ...], sort: list[tuple[str, str]]) -> int:
    for x, y, (_, order) in zip(a, b, sort, strict=True):
        if x == y:
            continue
        if x is None or y is None:
            return 1 if x is None else -1  # missing values sort last
        result = -1 if x < y else 1
        return result if order == "asc" else -result
    return 0


def filter_source(source: dict[str, Any], spec: Any) -> dict[str, Any]:
    if spec is True or spec is None:
        return source
    includes = (
        spec if isinstance(spec, list) else [spec] if isinstance(spec, str) else spec.get("includes", [])
    )
    return {k: v for k, v in source.items() if any(fnmatch.fnmatchcase(k, p) for p in includes)}
