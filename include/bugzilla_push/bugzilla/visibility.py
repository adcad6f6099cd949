"""What a Bugzilla user may see, as `Bugzilla/User.pm` decides it: groups, bugs, products, insiders.

- A user's groups: `user_group_map` rows (not bless rights), then every group those are members of
  through `group_group_map` (grant type 0), transitively (`groups`).
- A bug: visible unless it is in a group the user is not in, except to its reporter (if
  `reporter_accessible`), assignee, QA contact (with Bugzilla's `useqacontact`) and CC (if
  `cclist_accessible`) (`visible_bugs`); a bug still being created is seen by no one.
- A product: selectable unless a group the user is not in is mandatory for it (`group_control_map`
  with `membercontrol` 3, `get_selectable_products`).
- An insider: in the group named by Bugzilla's `insidergroup` parameter (`is_insider`).

Answers are cached for the life of the object (one delivery run), as Bugzilla caches them per request.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bugzilla_push.bugzilla.reader import BugzillaReader

CONTROLMAPMANDATORY = 3  # Bugzilla/Constants.pm
GROUP_MEMBERSHIP = 0


class Visibility:
    """Answers visibility questions for any user from one reader; not thread-safe (one per thread).

    :param reader: Bugzilla's tables
    :param insidergroup: the name of Bugzilla's insider group (its `insidergroup` parameter); None:
        no one is an insider, so no private comment or attachment is sent
    :param use_qa_contact: Bugzilla's `useqacontact` parameter
    """

    def __init__(self, reader: BugzillaReader, insidergroup: str | None, use_qa_contact: bool = True) -> None:
        self.reader = reader
        self.insidergroup = insidergroup
        self.use_qa_contact = use_qa_contact
        self._members: dict[int, list[int]] | None = None
        self._groups: dict[int, frozenset[int]] = {}
        self._bugs: dict[tuple[int, int], bool] = {}
        self._products: dict[int, frozenset[str]] = {}
        self._insider_group: int | None = None
        self._insider_known = False

    def groups(self, user_id: int) -> frozenset[int]:
        """Return the ids of the groups the user is in, directly or through other groups."""
        if user_id not in self._groups:
            if self._members is None:
                self._members = {}
                for grantor, member in self.reader.query(
                    "SELECT DISTINCT grantor_id, member_id FROM group_group_map "
                    "WHERE grant_type = %(membership)s",
                    {"membership": GROUP_MEMBERSHIP},
                ):
                    self._members.setdefault(int(member), []).append(int(grantor))
            direct = self.reader.query(
                "SELECT DISTINCT group_id FROM user_group_map WHERE user_id = %(u)s AND isbless = 0",
                {"u": user_id},
            )
            found: set[int] = set()
            todo = deque(int(g) for (g,) in direct)
            while todo:
                group = todo.popleft()
                if group not in found:
                    found.add(group)
                    todo.extend(self._members.get(group, ()))
            self._groups[user_id] = frozenset(found)
        return self._groups[user_id]

    def _not_in(self, user_id: int) -> tuple[str, dict[str, int]]:
        """Return an SQL list of the user's group ids as parameters (`-1` for none, as Bugzilla writes it)."""
        ids = sorted(self.groups(user_id)) or [-1]
        return ", ".join(f"%(g{i})s" for i in range(len(ids))), {f"g{i}": g for i, g in enumerate(ids)}

    def can_see_bug(self, user_id: int, bug_id: int) -> bool:
        key = (user_id, bug_id)
        if key not in self._bugs:
            marks, params = self._not_in(user_id)
            rows = self.reader.query(
                "SELECT DISTINCT b.reporter, b.assigned_to, b.qa_contact, b.reporter_accessible, "
                "b.cclist_accessible, cc.who, m.bug_id FROM bugs b "
                "LEFT JOIN cc ON cc.bug_id = b.bug_id AND cc.who = %(u)s "
                f"LEFT JOIN bug_group_map m ON m.bug_id = b.bug_id AND m.group_id NOT IN ({marks}) "
                "WHERE b.bug_id = %(b)s AND b.creation_ts IS NOT NULL",
                {"u": user_id, "b": bug_id, **params},
            )
            self._bugs[key] = any(
                (reporter == user_id and reporter_access)
                or (self.use_qa_contact and qa and qa == user_id)
                or assignee == user_id
                or (on_cc and cc_access)
                or not missing_group
                for reporter, assignee, qa, reporter_access, cc_access, on_cc, missing_group in rows
            )
        return self._bugs[key]

    def can_see_product(self, user_id: int, product: str | None) -> bool:
        if user_id not in self._products:
            marks, params = self._not_in(user_id)
            rows = self.reader.query(
                "SELECT p.name FROM products p LEFT JOIN group_control_map g ON g.product_id = p.id "
                f"AND g.membercontrol = %(mandatory)s AND g.group_id NOT IN ({marks}) "
                "WHERE g.group_id IS NULL",
                {"mandatory": CONTROLMAPMANDATORY, **params},
            )
            self._products[user_id] = frozenset(str(name) for (name,) in rows)
        return product in self._products[user_id]

    def is_insider(self, user_id: int) -> bool:
        if not self._insider_known:
            rows = (
                self.reader.query("SELECT id FROM {groups} WHERE name = %(n)s", {"n": self.insidergroup})
                if self.insidergroup
                else []
            )
            self._insider_group, self._insider_known = (int(rows[0][0]) if rows else None), True
        return self._insider_group is not None and self._insider_group in self.groups(user_id)
