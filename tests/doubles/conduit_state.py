"""The Conduit test double's state: users, projects, custom policies and revisions, and its methods.

Each method takes the call's parameters and returns Conduit's `result`, or raises
:class:`ConduitError` with Conduit's error code. Searches page by `after` (`page_size` items a
page, small in tests that check paging); policies named in `view`/`edit` transactions must exist.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

PAGE_SIZE = 100  # Conduit's default limit
GLOBAL_POLICIES = frozenset({"public", "users", "admin", "no-one"})
_TOKEN = re.compile(r"[\s\-_]+")


class ConduitError(Exception):
    def __init__(self, code: str, info: str) -> None:
        super().__init__(f"{code}: {info}")
        self.code, self.info = code, info


@dataclass
class User:
    phid: str
    username: str
    bmo_id: int | None


@dataclass
class Project:
    phid: str
    id: int
    name: str
    description: str = ""
    policy: dict[str, str] = field(
        default_factory=lambda: {"view": "users", "edit": "users", "join": "users"}
    )
    members: list[str] = field(default_factory=list)
    icon: str = "project"
    color: str = "blue"


@dataclass
class Policy:
    phid: str
    default: str
    rules: list[dict[str, Any]]


@dataclass
class Revision:
    id: int
    phid: str
    bug_id: str
    view: str = "public"
    edit: str = "users"
    projects: list[str] = field(default_factory=list)
    subscribers: list[str] = field(default_factory=list)


class ConduitState:
    """What the double's Phabricator holds; tests set it up with the `add_*` methods."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.projects: dict[str, Project] = {}
        self.policies: dict[str, Policy] = {}
        self.revisions: dict[int, Revision] = {}
        self.page_size = PAGE_SIZE
        self.bot = self.add_user("phab-bot", None)
        self._serial = itertools.count(1)
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "user.whoami": self._whoami,
            "user.search": self._user_search,
            "bugzilla.account.search": self._account_search,
            "project.search": self._project_search,
            "project.edit": self._project_edit,
            "policy.create": self._policy_create,
            "policy.query": self._policy_query,
            "differential.revision.search": self._revision_search,
            "differential.revision.edit": self._revision_edit,
        }

    # -- set-up ---------------------------------------------------------------------------------

    def add_user(self, username: str, bmo_id: int | None) -> str:
        phid = f"PHID-USER-{username}"
        self.users[phid] = User(phid, username, bmo_id)
        return phid

    def add_project(self, name: str, members: tuple[str, ...] = ()) -> str:
        phid = f"PHID-PROJ-{name}"
        self.projects[phid] = Project(phid, len(self.projects) + 1, name, members=list(members))
        return phid

    def add_revision(self, rev_id: int, bug_id: int, **fields: Any) -> str:
        phid = f"PHID-DREV-D{rev_id}"
        self.revisions[rev_id] = Revision(rev_id, phid, str(bug_id), **fields)
        return phid

    def project_named(self, name: str) -> Project | None:
        return next((p for p in self.projects.values() if p.name == name), None)

    # -- dispatch -------------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any]) -> Any:
        if method not in self._methods:
            raise ConduitError("ERR-CONDUIT-CALL", f'Conduit API method "{method}" does not exist.')
        return self._methods[method](params)

    def _page(self, items: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        start = int(params.get("after") or 0)
        end = start + self.page_size
        after = str(end) if end < len(items) else None
        return {"data": items[start:end], "cursor": {"limit": self.page_size, "after": after, "before": None}}

    # -- users ----------------------------------------------------------------------------------

    def _whoami(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "phid": self.bot,
            "userName": self.users[self.bot].username,
            "realName": "Phabricator Automation",
        }

    def _user_search(self, params: dict[str, Any]) -> dict[str, Any]:
        phids = (params.get("constraints") or {}).get("phids")
        found = [u for u in self.users.values() if phids is None or u.phid in phids]
        items = []
        for user in found:
            item: dict[str, Any] = {"type": "USER", "phid": user.phid, "fields": {"username": user.username}}
            if (params.get("attachments") or {}).get("external-accounts"):
                accounts = [{"id": str(user.bmo_id), "type": "bmo"}] if user.bmo_id else []
                item["attachments"] = {"external-accounts": {"external-accounts": accounts}}
            items.append(item)
        return self._page(items, params)

    def _account_search(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        ids = {int(i) for i in params.get("ids") or ()}
        return [{"id": str(u.bmo_id), "phid": u.phid} for u in self.users.values() if u.bmo_id in ids]

    # -- projects -------------------------------------------------------------------------------

    def _project_search(self, params: dict[str, Any]) -> dict[str, Any]:
        constraints = params.get("constraints") or {}
        found = list(self.projects.values())
        if "phids" in constraints:
            found = [p for p in found if p.phid in constraints["phids"]]
        if "name" in constraints:  # Conduit matches name tokens, not the whole name
            wanted = set(_TOKEN.split(constraints["name"].lower()))
            found = [p for p in found if wanted <= set(_TOKEN.split(p.name.lower()))]
        items = [
            {
                "id": p.id,
                "type": "PROJ",
                "phid": p.phid,
                "fields": {"name": p.name, "description": p.description, "policy": dict(p.policy)},
                "attachments": {"members": {"members": [{"phid": m} for m in p.members]}},
            }
            for p in found
        ]
        return self._page(items, params)

    def _project_edit(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("objectIdentifier"):
            raise ConduitError("ERR-CONDUIT-CORE", "the double only creates projects")
        changes = {t["type"]: t["value"] for t in params.get("transactions") or ()}
        name = changes.get("name")
        if not name:
            raise ConduitError("ERR-CONDUIT-CORE", "Projects must have a name.")
        if self.project_named(name):
            raise ConduitError("ERR-CONDUIT-CORE", f'Project name "{name}" is already in use.')
        for kind in ("view", "edit", "join"):
            if kind in changes:
                self._check_policy(changes[kind])
        phid = self.add_project(name, tuple(changes.get("members.add") or ()))
        project = self.projects[phid]
        project.description = changes.get("description", "")
        project.policy.update({k: changes[k] for k in ("view", "edit", "join") if k in changes})
        project.icon, project.color = changes.get("icon", project.icon), changes.get("color", project.color)
        return {"object": {"id": project.id, "phid": phid}, "transactions": [{"phid": "PHID-XACT-PROJ-1"}]}

    # -- policies -------------------------------------------------------------------------------

    def _policy_create(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("objectType") != "DREV":
            raise ConduitError("ERR-CONDUIT-CORE", "objectType must be DREV")
        phid = f"PHID-PLCY-{next(self._serial):04d}"
        rules = [
            {"action": r["action"], "rule": r.get("rule"), "value": r.get("value")} for r in params["policy"]
        ]
        self.policies[phid] = Policy(phid, params.get("default", "deny"), rules)
        return {"phid": phid}

    def _policy_query(self, params: dict[str, Any]) -> dict[str, Any]:
        data = [
            {
                "phid": p.phid,
                "type": "custom",
                "name": "Custom Policy",
                "default": p.default,
                "rules": p.rules,
            }
            for phid in params.get("phids") or ()
            if (p := self.policies.get(phid))
        ]
        return {"data": data, "cursor": {"limit": 100, "after": None, "before": None}}

    def _check_policy(self, value: str) -> None:
        if value not in GLOBAL_POLICIES and value not in self.policies and value not in self.projects:
            raise ConduitError("ERR-CONDUIT-CORE", f'Policy "{value}" does not exist.')

    # -- revisions ------------------------------------------------------------------------------

    def _revision_search(self, params: dict[str, Any]) -> dict[str, Any]:
        constraints = params.get("constraints") or {}
        found = sorted(self.revisions.values(), key=lambda r: -r.id)  # newest first, as Conduit orders
        if "ids" in constraints:
            found = [r for r in found if r.id in constraints["ids"]]
        if "phids" in constraints:
            found = [r for r in found if r.phid in constraints["phids"]]
        wanted = params.get("attachments") or {}
        items = []
        for rev in found:
            attachments: dict[str, Any] = {}
            if wanted.get("projects"):
                attachments["projects"] = {"projectPHIDs": list(rev.projects)}
            if wanted.get("subscribers"):
                attachments["subscribers"] = {
                    "subscriberPHIDs": list(rev.subscribers),
                    "subscriberCount": len(rev.subscribers),
                    "viewerIsSubscribed": self.bot in rev.subscribers,
                }
            fields = {
                "title": f"D{rev.id}",
                "policy": {"view": rev.view, "edit": rev.edit},
                "bugzilla.bug-id": rev.bug_id,
            }
            items.append(
                {"id": rev.id, "type": "DREV", "phid": rev.phid, "fields": fields, "attachments": attachments}
            )
        return self._page(items, params)

    def _revision_edit(self, params: dict[str, Any]) -> dict[str, Any]:
        ident = str(params.get("objectIdentifier") or "")
        rev = next((r for r in self.revisions.values() if ident in (r.phid, f"D{r.id}", str(r.id))), None)
        if rev is None:
            raise ConduitError("ERR-CONDUIT-CORE", f'No object exists with ID "{ident}".')
        changes = params.get("transactions") or []
        for change in changes:  # all checked before any is applied, as Phabricator's editor does
            kind, value = change.get("type"), change.get("value")
            if kind in ("view", "edit"):
                self._check_policy(value)
            elif kind not in (
                "subscribers.set",
                "subscribers.add",
                "subscribers.remove",
                "projects.add",
                "projects.remove",
            ):
                raise ConduitError("ERR-CONDUIT-CORE", f'Transaction type "{kind}" is not valid.')
        for change in changes:
            kind, value = change["type"], change["value"]
            if kind in ("view", "edit"):
                setattr(rev, kind, value)
            elif kind == "subscribers.set":
                rev.subscribers = list(dict.fromkeys(value))
            else:
                attr = kind.partition(".")[0]
                current = getattr(rev, attr)
                if kind.endswith(".add"):
                    setattr(rev, attr, list(dict.fromkeys([*current, *value])))
                else:
                    setattr(rev, attr, [p for p in current if p not in value])
        return {
            "object": {"id": rev.id, "phid": rev.phid},
            "transactions": [{"phid": f"PHID-XACT-DREV-{i}"} for i in range(len(changes))],
        }
