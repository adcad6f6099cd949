"""Payloads of either vintage read in today's shape (pure: no I/O).

bugzilla.mozilla.org changed its push serialiser in 2021 (Bug 1682600 and Bug 1693908, in
`extensions/Push/lib/Serialize.pm`) to match its REST API:

- users became logins with a `*_detail` object (`assigned_to`, `qa_contact`, and `creator` in
  place of `reporter`); an unset QA contact is `""` with no detail, where it used to be null;
- product, component, status, version and target milestone became names, where they were
  `{"id", "name"}` objects (an unset milestone was null, it is now `"---"`);
- change fields and routing keys use the REST API's names (`status`, `summary`, `groups`) where
  they used Bugzilla's column names (`bug_status`, `short_desc`, `bug_group`).

Connectors that derive something from a payload (Elasticsearch documents, webhook bodies) read it
through these functions, so a row written before 2021 (say, a backlog `bugzilla-pushd` left) gives
the same result as one written today. Payloads already in today's shape come back equal.
"""

from __future__ import annotations

from typing import Any

# Bugzilla::Bug::FIELD_MAP reversed (column name → REST name), plus bug_group → groups, as
# Serialize.pm builds it. Names not listed (op_sys, priority, cf_*, flag.*) are the same in both.
API_FIELD_NAMES: dict[str, str] = {
    "blocked": "blocks",
    "bug_file_loc": "url",
    "bug_group": "groups",
    "bug_id": "id",
    "bug_severity": "severity",
    "bug_status": "status",
    "bug_type": "type",
    "cclist_accessible": "is_cc_accessible",
    "comment": "description",
    "comment_is_private": "commentprivacy",
    "creation_ts": "creation_time",
    "delta_ts": "last_change_time",
    "delta_ts_non_bot": "last_change_time_non_bot",
    "dependson": "depends_on",
    "dup_id": "dupe_of",
    "everconfirmed": "is_confirmed",
    "longdescs.count": "comment_count",
    "regresses": "regressions",
    "rep_platform": "platform",
    "reporter": "creator",
    "reporter_accessible": "is_creator_accessible",
    "short_desc": "summary",
    "status_whiteboard": "whiteboard",
}
USER_FIELDS = ("assigned_to", "qa_contact", "creator")
NAMED_FIELDS = ("product", "component", "status", "version", "target_milestone")
_OBJECT_FIELDS = (*USER_FIELDS, *NAMED_FIELDS)  # objects, or null, only in the older shape
NO_MILESTONE = "---"  # Bugzilla's milestone for "none", which today's shape writes as it is


def current_field(name: str) -> str:
    """Return a change field's name as today's payloads spell it (`bug_status` → `status`)."""
    return API_FIELD_NAMES.get(name, name)


def current_routing_key(key: str) -> str:
    """Return a routing key with today's field names (`bug.modify:bug_group` → `bug.modify:groups`)."""
    base, sep, fields = key.partition(":")
    if not sep:
        return key
    return f"{base}:{','.join(current_field(f) for f in fields.split(','))}"


def current_bug(bug: dict[str, Any]) -> dict[str, Any]:
    """Return a bug object in today's shape (a new dict when anything changes; `bug` is not modified)."""
    if not _needs_change(bug):
        return bug
    out: dict[str, Any] = {}
    for key, value in bug.items():
        if key == "reporter":
            if "creator" not in bug:
                _put_user(out, "creator", value)
        elif key in USER_FIELDS:
            _put_user(out, key, value)
        elif key in NAMED_FIELDS:
            out[key] = _name(key, value)
        elif key == "alias" and value is None:
            out[key] = ""
        else:
            out[key] = value
    return out


def current_body(body: dict[str, Any]) -> dict[str, Any]:
    """Return a whole payload in today's shape: its bug (also a comment's or attachment's) and event."""
    event = body.get("event")
    target = event.get("target") if isinstance(event, dict) else None
    obj = body.get(target) if isinstance(target, str) else None
    if not isinstance(obj, dict):
        return body
    if target == "bug":
        obj = current_bug(obj)
    elif isinstance(obj.get("bug"), dict):
        bug = current_bug(obj["bug"])
        obj = obj if bug is obj["bug"] else {**obj, "bug": bug}
    return {**body, target: obj, "event": current_event(event)}


def current_event(event: dict[str, Any]) -> dict[str, Any]:
    """Return an event with today's field names in its changes and routing key."""
    out = dict(event)
    if isinstance(event.get("routing_key"), str):
        out["routing_key"] = current_routing_key(event["routing_key"])
    if isinstance(event.get("changes"), list):
        out["changes"] = [
            {**c, "field": current_field(c["field"])} if isinstance(c, dict) and "field" in c else c
            for c in event["changes"]
        ]
    return out


def _needs_change(bug: dict[str, Any]) -> bool:
    """Whether anything of the older shape is in the bug (most payloads have none)."""
    if "reporter" in bug or bug.get("alias", "") is None:
        return True
    return any(k in bug and (bug[k] is None or isinstance(bug[k], dict)) for k in _OBJECT_FIELDS)


def _put_user(out: dict[str, Any], key: str, value: Any) -> None:
    """Put a user object as its login plus `<key>_detail`; null (no one) as `""`."""
    if isinstance(value, dict):
        out[key] = value.get("login") or ""
        out[f"{key}_detail"] = value
    else:
        out[key] = "" if value is None else value


def _name(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("name")
    if value is None:
        return NO_MILESTONE if key == "target_milestone" else ""
    return value
