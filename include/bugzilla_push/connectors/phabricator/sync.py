"""The Conduit side of one message: read a bug's revisions, work out what they should be, edit them.

The calls are those of BMO's PhabBugz objects (`extensions/PhabBugz/lib/`): revisions from
`differential.revision.search` (`Revision.pm` `new_from_query`), projects by exact name from
`project.search` (`Project.pm`), a custom policy from `policy.create` (`Policy.pm`), people from
`bugzilla.account.search` then `user.search` (`User.pm` `match`), and one
`differential.revision.edit` per revision that needs a change. Every lookup is made once per
message, and all of them before the first edit.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bugzilla_push.connectors.phabricator.policy import (
    PUBLIC,
    USERS,
    Action,
    Revision,
    Target,
    is_group_project,
    new_policy,
    policy_projects,
    transactions,
)
from bugzilla_push.errors import BugzillaPushError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.bugzilla import Group
    from bugzilla_push.connectors.phabricator.conduit import ConduitClient
    from bugzilla_push.connectors.phabricator.options import PhabricatorOptions

log = logging.getLogger(__name__)


class PhabricatorSetupError(BugzillaPushError):
    """Phabricator lacks something BMO's PhabBugz setup provides (the `secure-revision` project)."""


class ProjectMissing(BugzillaPushError):
    """A group's project does not exist and is not to be created here; BMO's feed daemon makes it."""


class BugSync:
    """Brings one bug's revisions in line with the bug, for one message.

    :param conduit: the Conduit client
    :param options: the connector's options (project names, whether to create projects)
    """

    def __init__(self, conduit: ConduitClient, options: PhabricatorOptions) -> None:
        self.conduit = conduit
        self.options = options
        self._projects: dict[str, str | None] = {}  # name → PHID (None: there is none)
        self._policies: dict[str, frozenset[str]] = {}  # custom policy PHID → its projects
        self._new_policy: str | None = None  # one new custom policy serves every revision of the message

    def revisions(self, ids: Sequence[int]) -> list[Revision]:
        """Return the revisions that exist, in the order of `ids` (a deleted one is skipped, as BMO does)."""
        items = self.conduit.search(
            "differential.revision.search",
            {
                "queryKey": "all",
                "constraints": {"ids": list(ids)},
                "attachments": {"projects": True, "subscribers": True},
            },
        )
        found = {r.id: r for r in map(Revision.from_search, items)}
        missing = [i for i in ids if i not in found]
        if missing:
            log.info("revisions %s are not in Phabricator; skipped", ", ".join(f"D{i}" for i in missing))
        return [found[i] for i in ids if i in found]

    def apply(
        self, action: Action, revisions: Sequence[Revision], groups: Sequence[Group], role_ids: Sequence[int]
    ) -> int:
        """Edit the revisions as `action` says; return how many needed (and got) a change."""
        targets = self._targets(action, revisions, groups, role_ids)
        edited = 0
        for revision, target in zip(revisions, targets, strict=True):
            changes = transactions(revision, target)
            if changes:
                self.conduit.call(
                    "differential.revision.edit", {"objectIdentifier": revision.phid, "transactions": changes}
                )
                edited += 1
        return edited

    def _targets(
        self, action: Action, revisions: Sequence[Revision], groups: Sequence[Group], role_ids: Sequence[int]
    ) -> list[Target]:
        if action is Action.MAKE_PUBLIC:
            # Revision.pm make_public: public view, editbugs edit, group projects off.
            edit = self._project(self.options.editbugs_project) or USERS
            remove = self._group_projects_among({p for r in revisions for p in r.projects})
            return [Target(view=PUBLIC, edit=edit, remove_projects=remove) for _ in revisions]
        if action is Action.NOTHING:
            return [Target() for _ in revisions]
        tags: tuple[str, ...] = ()
        policies: list[str | None] = [None] * len(revisions)
        if action is Action.MAKE_PRIVATE:
            secure = self._secure_project()
            wanted = tuple(self._group_project(g) for g in groups)
            tags = (secure, *wanted)  # Revision.pm set_private_project_tags
            policies = [self._policy_for(r, wanted) for r in revisions]
        subscribers = tuple(self._role_phids(role_ids))
        return [Target(view=p, edit=p, add_projects=tags, subscribers=subscribers) for p in policies]

    # -- projects ----------------------------------------------------------------------------

    def _project(self, name: str) -> str | None:
        """Return the PHID of the project named exactly `name` (Conduit matches names by token)."""
        if name not in self._projects:
            items = self.conduit.search("project.search", {"queryKey": "all", "constraints": {"name": name}})
            exact = [i for i in items if (i.get("fields") or {}).get("name") == name]
            self._projects[name] = str(exact[0]["phid"]) if exact else None
        return self._projects[name]

    def _secure_project(self) -> str:
        name = self.options.secure_project
        phid = self._project(name)
        if phid is None:
            raise PhabricatorSetupError(
                f"Phabricator has no project {name!r}, which tags private revisions and governs the "
                "group projects (BMO's PhabBugz setup creates it); create it or name it in the extra "
                "'secure_project'"
            )
        return phid

    def _group_project(self, group: Group) -> str:
        """Return the group's `bmo-<group>` project, creating it as BMO's feed daemon would."""
        name = self.options.project_prefix + group.name
        phid = self._project(name)
        if phid is not None:
            return phid
        if not self.options.create_projects:
            raise ProjectMissing(
                f"Phabricator has no project {name!r} for group {group.name!r} yet (BMO's feed daemon "
                "creates group projects; or set the extra 'create_projects' to true)"
            )
        phid = self._create_group_project(name, group.name)
        self._projects[name] = phid
        return phid

    def _create_group_project(self, name: str, group: str) -> str:
        """Create the project as `Feed.pm` `_sync_phabricator_group_projects` does, with us as a member.

        Membership lets this token keep editing the revisions it makes private; the feed daemon's
        group sync adds the group's members on its own schedule.
        """
        secure = self._secure_project()
        me = (self.conduit.call("user.whoami", {}) or {}).get("phid")
        changes: list[dict[str, Any]] = [
            {"type": "name", "value": name},
            {"type": "description", "value": f"BMO Security Group for {group}"},
            {"type": "edit", "value": secure},
            {"type": "join", "value": secure},
            {"type": "view", "value": secure},
            {"type": "icon", "value": "group"},
            {"type": "color", "value": "red"},
        ]
        if me:
            changes.append({"type": "members.add", "value": [me]})
        result = self.conduit.call("project.edit", {"transactions": changes}) or {}
        log.info("created Phabricator project %s for group %s", name, group)
        return str(result["object"]["phid"])

    def _group_projects_among(self, phids: set[str]) -> frozenset[str]:
        """Return which of these projects are group projects (`bmo-*`) or `secure-revision`."""
        if not phids:
            return frozenset()
        items = self.conduit.search(
            "project.search", {"queryKey": "all", "constraints": {"phids": sorted(phids)}}
        )
        prefix, secure = self.options.project_prefix, self.options.secure_project
        return frozenset(
            str(i["phid"])
            for i in items
            if is_group_project(str((i.get("fields") or {}).get("name", "")), prefix, secure)
        )

    # -- policies and people -----------------------------------------------------------------

    def _policy_for(self, revision: Revision, wanted: tuple[str, ...]) -> str:
        """Return the revision's custom policy if it has exactly these projects (`Feed.pm`), or a new one."""
        projects = frozenset(wanted)
        if revision.has_custom_policy:
            if revision.view not in self._policies:
                result = self.conduit.call("policy.query", {"phids": [revision.view]}) or {}
                data = result.get("data") or []
                self._policies[revision.view] = policy_projects(data[0]) if data else frozenset()
            if self._policies[revision.view] == projects:
                return revision.view
        if self._new_policy is None:
            result = self.conduit.call("policy.create", new_policy(wanted)) or {}
            self._new_policy = str(result["phid"])
            self._policies[self._new_policy] = projects
        return self._new_policy

    def _role_phids(self, user_ids: Sequence[int]) -> list[str]:
        """Return the PHIDs of the bug's people who have Phabricator accounts (`get_bug_role_phids`)."""
        if not user_ids:
            return []
        accounts = self.conduit.call("bugzilla.account.search", {"ids": list(user_ids)}) or []
        phids = [str(a["phid"]) for a in accounts if isinstance(a, dict) and a.get("phid")]
        if not phids:
            return []
        users = self.conduit.search(
            "user.search", {"constraints": {"phids": phids}, "attachments": {"external-accounts": True}}
        )
        return [str(u["phid"]) for u in users]
