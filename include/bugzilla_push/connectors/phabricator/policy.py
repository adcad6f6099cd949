"""What a bug's state means for its Phabricator revisions: pure decisions, no I/O.

The rules are bugzilla.mozilla.org's: `extensions/Push/lib/Connector/Phabricator.pm` (which
messages, what to do), `extensions/PhabBugz/lib/Revision.pm` (`make_public`, `make_private`,
`set_private_project_tags`, the order of `update`'s transactions), `Policy.pm` (the custom policy)
and `Util.pm` (`get_attachment_revisions`, `get_bug_role_phids`, `is_bug_assigned`). One addition
makes a replay harmless: a transaction is built only for what differs from the revision's current
state, and a custom policy whose projects are already the wanted ones is kept (as BMO's own feed
daemon does in `extensions/PhabBugz/lib/Feed.pm`), so the same state applied twice changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from bugzilla_push.bugzilla import Attachment, Bug, Group

PHAB_CONTENT_TYPE = "text/x-phabricator-request"  # PhabBugz Constants.pm PHAB_CONTENT_TYPE
PUBLIC = "public"
USERS = "users"  # the edit policy of a public revision when there is no editbugs project
CUSTOM_POLICY_PREFIX = "PHID-PLCY-"

_ATTACHMENT = re.compile(r"^phabricator-D(\d+)")  # PhabBugz Constants.pm PHAB_ATTACHMENT_PATTERN
_WANTED = re.compile(r"^(?:attachment|bug)\.modify:.*\b(?:groups|assigned_to|qa_contact|cc)\b")
_GROUPS = re.compile(r"^(?:attachment|bug)\.modify:.*\bgroups\b")
_PROJECT_RULE = re.compile(r"PhabricatorProjects(?:All)?PolicyRule")  # Policy.pm _build_rule_projects
# The order of `Revision::update`'s transactions.
_ORDER = ("subscribers.set", "view", "edit", "projects.add", "projects.remove")


class Action(Enum):
    """What a message asks of a bug's revisions (`Phabricator.pm` `send`)."""

    NOTHING = "nothing"  # a public bug, and not a group change
    SUBSCRIBERS = "subscribers"  # a private bug: subscribers follow the bug's roles
    MAKE_PUBLIC = "make_public"  # the bug's groups changed and it is public now
    MAKE_PRIVATE = "make_private"  # the bug's groups changed and it is private: policy, tags, subscribers


def wants(routing_key: str) -> bool:
    """Return whether a change can matter to revisions: groups, assignee, QA contact or CC."""
    return _WANTED.match(routing_key) is not None


def is_group_change(routing_key: str) -> bool:
    return _GROUPS.match(routing_key) is not None


def is_public(groups: Sequence[Group]) -> bool:
    """Return whether a logged-out user sees the bug: it is in no group (Push `Util.pm` `is_public`)."""
    return not groups


def decide(public: bool, group_change: bool) -> Action:
    if group_change:
        return Action.MAKE_PUBLIC if public else Action.MAKE_PRIVATE
    return Action.NOTHING if public else Action.SUBSCRIBERS


def revision_ids(attachments: Iterable[Attachment]) -> list[int]:
    """Return the revision ids named by Phabricator attachments' file names (`phabricator-D123-url.txt`).

    As `get_attachment_revisions`: by file name, not data (which BMO may keep in S3); once each.
    """
    ids: dict[int, None] = {}
    for attachment in attachments:
        if attachment.mimetype != PHAB_CONTENT_TYPE:
            continue
        match = _ATTACHMENT.match(attachment.filename)
        if match:
            ids[int(match.group(1))] = None
    return list(ids)


def role_user_ids(bug: Bug, cc: Sequence[int], nobody_login: str) -> list[int]:
    """Return the bug's people in `get_bug_role_phids`'s order: reporter, assignee, QA contact, CC."""
    users = [bug.reporter]
    if bug.assignee_login != nobody_login:  # `is_bug_assigned`
        users.append(bug.assigned_to)
    if bug.qa_contact:
        users.append(bug.qa_contact)
    users.extend(cc)
    return list(dict.fromkeys(users))


def project_names(groups: Sequence[Group], prefix: str) -> list[str]:
    """Return the projects that stand for the bug's groups (`bmo-<group>`)."""
    return [prefix + g.name for g in groups]


def is_group_project(name: str, prefix: str, secure_project: str) -> bool:
    """Whether `make_public` removes a project from a revision: `bmo-*` or `secure-revision`."""
    return name.startswith(prefix) or name == secure_project


def new_policy(project_phids: Sequence[str]) -> dict[str, Any]:
    """Return `policy.create`'s parameters: subscribers, reviewers, members of all projects (`Policy.pm`)."""
    rules: list[dict[str, Any]] = [
        {"action": "allow", "rule": "PhabricatorSubscriptionsSubscribersPolicyRule"},
        {"action": "allow", "rule": "PhabricatorDifferentialReviewersPolicyRule"},
        {"action": "allow", "rule": "PhabricatorProjectsAllPolicyRule", "value": list(project_phids)},
    ]
    return {"objectType": "DREV", "default": "deny", "policy": rules}


def policy_projects(policy: dict[str, Any]) -> frozenset[str]:
    """Return the projects of a custom policy's project rule (`policy.query`'s record), or none."""
    for rule in policy.get("rules") or ():
        if isinstance(rule, dict) and _PROJECT_RULE.search(str(rule.get("rule", ""))):
            return frozenset(rule.get("value") or ())
    return frozenset()


@dataclass(frozen=True)
class Revision:
    """What `differential.revision.search` says of a revision, as far as this connector cares.

    :param projects: PHIDs of its project tags
    :param subscribers: PHIDs of its subscribers
    """

    id: int
    phid: str
    view: str
    edit: str
    projects: frozenset[str] = frozenset()
    subscribers: frozenset[str] = frozenset()

    @classmethod
    def from_search(cls, item: dict[str, Any]) -> Revision:
        """Read one item of `differential.revision.search` (with the projects and subscribers attachments)."""
        fields, attachments = item.get("fields") or {}, item.get("attachments") or {}
        policy = fields.get("policy") or {}
        return cls(
            id=int(item["id"]),
            phid=str(item["phid"]),
            view=str(policy.get("view", "")),
            edit=str(policy.get("edit", "")),
            projects=frozenset((attachments.get("projects") or {}).get("projectPHIDs") or ()),
            subscribers=frozenset((attachments.get("subscribers") or {}).get("subscriberPHIDs") or ()),
        )

    @property
    def has_custom_policy(self) -> bool:
        return self.view.startswith(CUSTOM_POLICY_PREFIX)


@dataclass(frozen=True)
class Target:
    """What a revision should become; None or empty: leave that part as it is.

    :param add_projects: project tags it must carry, in BMO's order (`secure-revision` first)
    :param remove_projects: project tags it must not carry
    :param subscribers: exactly these subscribers
    """

    view: str | None = None
    edit: str | None = None
    add_projects: tuple[str, ...] = ()
    remove_projects: frozenset[str] = field(default_factory=frozenset)
    subscribers: tuple[str, ...] | None = None


def transactions(revision: Revision, target: Target) -> list[dict[str, Any]]:
    """Return the `differential.revision.edit` transactions that make `revision` what `target` says.

    Only differences become transactions, in `Revision::update`'s order; none means nothing to do.
    """
    found: dict[str, Any] = {}
    if target.subscribers is not None and frozenset(target.subscribers) != revision.subscribers:
        found["subscribers.set"] = list(target.subscribers)
    if target.view is not None and target.view != revision.view:
        found["view"] = target.view
    if target.edit is not None and target.edit != revision.edit:
        found["edit"] = target.edit
    add = [p for p in dict.fromkeys(target.add_projects) if p not in revision.projects]
    if add:
        found["projects.add"] = add
    remove = sorted(target.remove_projects & revision.projects)
    if remove:
        found["projects.remove"] = remove
    return [{"type": kind, "value": found[kind]} for kind in _ORDER if kind in found]
