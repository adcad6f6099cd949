"""The indices of the Elasticsearch connector: names, mappings and index templates (pure, no I/O).

Dates are dates, names and states are keywords (exact, for filters and aggregations), the summary,
the whiteboard, comment bodies and attachment descriptions are text (analysed, for full-text
search). The mappings are `dynamic: strict`, so a document that does not fit is refused (400)
instead of quietly widening the mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

TEMPLATE_VERSION = 1  # bump when the mappings below change: the connector re-installs its templates
TEMPLATE_PRIORITY = 200  # above the built-in templates (100); ours match only their exact index names

Kind = Literal["bugs", "comments", "attachments"]
KIND_OF_TARGET: dict[str, Kind] = {"bug": "bugs", "comment": "comments", "attachment": "attachments"}
ID_FIELD: dict[Kind, str] = {"bugs": "bug_id", "comments": "comment_id", "attachments": "attachment_id"}
CHILD_KINDS: tuple[Kind, Kind] = ("comments", "attachments")
_KEYWORD = {"type": "keyword", "ignore_above": 1024}
_DATE = {"type": "date", "format": "strict_date_optional_time||yyyy-MM-dd HH:mm:ss||epoch_millis"}
_TEXT = {"type": "text"}
_BOOL = {"type": "boolean"}
_LONG = {"type": "long"}
_PUSH_FIELDS = {
    "push_id": _LONG,
    "change_set": _KEYWORD,
    "routing_key": _KEYWORD,
    "changed_by": _KEYWORD,
    "event_time": _DATE,
}
PROPERTIES: dict[Kind, dict[str, Any]] = {
    "bugs": {
        "bug_id": _LONG,
        "alias": _KEYWORD,
        "summary": {**_TEXT, "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "status": _KEYWORD,
        "resolution": _KEYWORD,
        "is_open": _BOOL,
        "product": _KEYWORD,
        "component": _KEYWORD,
        "classification": _KEYWORD,
        "type": _KEYWORD,
        "severity": _KEYWORD,
        "priority": _KEYWORD,
        "version": _KEYWORD,
        "target_milestone": _KEYWORD,
        "operating_system": _KEYWORD,
        "platform": _KEYWORD,
        "keywords": _KEYWORD,
        "whiteboard": _TEXT,
        "url": _KEYWORD,
        "see_also": _KEYWORD,
        "assigned_to": _KEYWORD,
        "creator": _KEYWORD,
        "qa_contact": _KEYWORD,
        "flags": _KEYWORD,
        "creation_time": _DATE,
        "last_change_time": _DATE,
        "is_private": _BOOL,
        "custom_fields": {"type": "flattened"},
        **_PUSH_FIELDS,
    },
    "comments": {
        "comment_id": _LONG,
        "bug_id": _LONG,
        "number": _LONG,
        "body": _TEXT,
        "author": _KEYWORD,
        "tags": _KEYWORD,
        "creation_time": _DATE,
        "is_private": _BOOL,
        **_PUSH_FIELDS,
    },
    "attachments": {
        "attachment_id": _LONG,
        "bug_id": _LONG,
        "description": _TEXT,
        "file_name": _KEYWORD,
        "content_type": _KEYWORD,
        "creator": _KEYWORD,
        "flags": _KEYWORD,
        "is_obsolete": _BOOL,
        "is_patch": _BOOL,
        "is_private": _BOOL,
        "creation_time": _DATE,
        "last_change_time": _DATE,
        **_PUSH_FIELDS,
    },
}


@dataclass(frozen=True)
class IndexNames:
    """The indices the connector writes to.

    :param private_suffix: appended to a kind's index name for its private index
    """

    bugs: str = "bugzilla-bugs"
    comments: str = "bugzilla-comments"
    attachments: str = "bugzilla-attachments"
    private_suffix: str = "-private"

    def public(self, kind: Kind) -> str:
        names: dict[Kind, str] = {
            "bugs": self.bugs,
            "comments": self.comments,
            "attachments": self.attachments,
        }
        return names[kind]

    def private(self, kind: Kind) -> str:
        return self.public(kind) + self.private_suffix

    def all(self, index_private: bool) -> list[str]:
        kinds: tuple[Kind, ...] = ("bugs", *CHILD_KINDS)
        return [self.public(k) for k in kinds] + ([self.private(k) for k in kinds] if index_private else [])


def index_templates(
    names: IndexNames, template_name: str, index_private: bool, gc_deletes: str
) -> dict[str, dict[str, Any]]:
    """One index template per kind, matching exactly that kind's public and private index names."""
    templates = {}
    for kind in ("bugs", *CHILD_KINDS):
        patterns = [names.public(kind)] + ([names.private(kind)] if index_private else [])
        templates[f"{template_name}-{kind}"] = {
            "index_patterns": patterns,
            "priority": TEMPLATE_PRIORITY,
            "version": TEMPLATE_VERSION,
            "_meta": {"managed_by": "bugzilla-push", "kind": kind},
            "template": {
                # A deleted document's version is kept this long, so a replay older than a delete
                # (a bug that went private) cannot bring the document back; 60 s is the default.
                "settings": {"index": {"gc_deletes": gc_deletes}},
                "mappings": {"dynamic": "strict", "properties": PROPERTIES[kind]},
            },
        }
    return templates
