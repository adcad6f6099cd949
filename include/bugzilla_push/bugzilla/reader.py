"""Read-only queries on Bugzilla's own tables, as Bugzilla's Perl objects read them.

Tables and columns are Bugzilla's (`Bugzilla/DB/Schema.pm`); the SQL is plain enough for
MySQL/MariaDB (what bugzilla.mozilla.org runs), PostgreSQL and SQLite alike. Nothing here writes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bugzilla_push.errors import BugzillaPushError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


class Database(Protocol):
    """What the reader needs of a connection: pyformat reads in autocommit (a :class:`Store` is one).

    Its `dialect.name` (`mysql`, `postgresql`, `sqlite`) says how to quote a reserved word.
    """

    dialect: Any

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one read statement and return its rows."""

    def close(self) -> None:
        """Close the connection."""


class BugzillaUnavailable(BugzillaPushError):
    """Bugzilla's database could not be read (down, or the query failed); worth trying again later."""


@dataclass(frozen=True)
class Bug:
    """What is read of a row of `bugs`: the bug's people, by `profiles.userid`.

    :param assignee_login: the assignee's login, to tell a real assignee from the placeholder user
    :param qa_contact: None when the bug has none
    """

    id: int
    reporter: int
    assigned_to: int
    assignee_login: str
    qa_contact: int | None


@dataclass(frozen=True)
class Group:
    """A row of `groups` (the bug groups that restrict who may see a bug)."""

    id: int
    name: str


@dataclass(frozen=True)
class Attachment:
    """A row of `attachments`, without its data (on bugzilla.mozilla.org the data may live in S3)."""

    id: int
    bug_id: int
    filename: str
    mimetype: str
    is_private: bool
    is_obsolete: bool


class BugzillaReader:
    """Reads Bugzilla's tables through one connection, opened on first use and reopened after an error.

    Not thread-safe, like the connector that owns it.

    :param open_db: opens a connection (for example a :class:`~bugzilla_push.store.Store`)
    """

    def __init__(self, open_db: Callable[[], Database]) -> None:
        self._open = open_db
        self._db: Database | None = None
        self._groups = ""

    @classmethod
    def from_url(cls, url: str) -> BugzillaReader:
        """Read the database at `mysql://…`, `postgresql://…` or `sqlite:///…` (CLI and tests)."""
        from bugzilla_push.store import open_store

        return cls(lambda: open_store(url))

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one read statement; raise :class:`BugzillaUnavailable` on failure.

        Parameters are pyformat (`%(name)s`); `{groups}` stands for the `groups` table, quoted for
        the database (a reserved word since MySQL 8.0.2; Bugzilla quotes it too, `Bugzilla/Group.pm`).
        """
        try:
            if self._db is None:
                self._db = self._open()
                self._groups = "`groups`" if self._db.dialect.name == "mysql" else '"groups"'
            return self._db.query(sql.replace("{groups}", self._groups), params)
        except Exception as exc:
            self.close()  # a broken connection is not reused
            raise BugzillaUnavailable(
                f"cannot read Bugzilla's database: {type(exc).__name__}: {exc}"
            ) from exc

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            # Closing a broken connection may fail too; it is gone either way.
            with contextlib.suppress(Exception):
                db.close()

    def has_table(self, table: str) -> bool:
        """Whether the database has this table (a name from this package, never user input)."""
        try:
            self.query(f"SELECT 1 FROM {table} WHERE 1 = 0")
        except BugzillaUnavailable:
            return False
        return True

    def jira_url(self, bug_id: int) -> str | None:
        """Return the bug's Jira issue (JiraWebhookSync's `jira_bug_map`), or None."""
        rows = self.query(
            "SELECT jira_url FROM jira_bug_map WHERE bug_id = %(bug)s ORDER BY id LIMIT 1", {"bug": bug_id}
        )
        return str(rows[0][0]) if rows else None

    # -- bugs --------------------------------------------------------------------------------

    def bug(self, bug_id: int) -> Bug | None:
        """Return the bug, or None if there is none (or it is still being created: no `creation_ts`)."""
        rows = self.query(
            "SELECT b.bug_id, b.reporter, b.assigned_to, p.login_name, b.qa_contact "
            "FROM bugs b JOIN profiles p ON p.userid = b.assigned_to "
            "WHERE b.bug_id = %(bug)s AND b.creation_ts IS NOT NULL",
            {"bug": bug_id},
        )
        if not rows:
            return None
        bug, reporter, assigned_to, login, qa_contact = rows[0]
        return Bug(
            int(bug), int(reporter), int(assigned_to), str(login), int(qa_contact) if qa_contact else None
        )

    def bug_groups(self, bug_id: int) -> list[Group]:
        """Return the groups the bug is in (`bug_group_map`), by name (Bugzilla's `groups_in`)."""
        rows = self.query(
            "SELECT g.id, g.name FROM bug_group_map m JOIN {groups} g ON g.id = m.group_id "
            "WHERE m.bug_id = %(bug)s ORDER BY g.name",
            {"bug": bug_id},
        )
        return [Group(int(i), str(name)) for i, name in rows]

    def cc(self, bug_id: int) -> list[int]:
        """Return the user ids on the bug's CC list (Bugzilla's `cc_users`), in id order."""
        rows = self.query("SELECT who FROM cc WHERE bug_id = %(bug)s ORDER BY who", {"bug": bug_id})
        return [int(r[0]) for r in rows]

    def attachments(
        self, bug_id: int, mimetype: str | None = None, include_private: bool = True
    ) -> list[Attachment]:
        """Return the bug's attachments in id order, obsolete ones included (Bugzilla's `attachments`).

        :param mimetype: only those of this content type
        :param include_private: False: only public ones, what a logged-out user is shown
        """
        where = ["bug_id = %(bug)s"]
        params: dict[str, Any] = {"bug": bug_id}
        if mimetype is not None:
            where.append("mimetype = %(mimetype)s")
            params["mimetype"] = mimetype
        if not include_private:
            where.append("isprivate = 0")
        rows = self.query(
            "SELECT attach_id, bug_id, filename, mimetype, isprivate, isobsolete FROM attachments "
            f"WHERE {' AND '.join(where)} ORDER BY attach_id",
            params,
        )
        return [Attachment(int(a), int(b), str(f), str(m), bool(p), bool(o)) for a, b, f, m, p, o in rows]

    # -- users -------------------------------------------------------------------------------

    def logins(self, user_ids: Iterable[int]) -> dict[int, str]:
        """Return `profiles.login_name` by user id for those of the ids that exist."""
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        marks = ", ".join(f"%(u{i})s" for i in range(len(ids)))
        rows = self.query(
            f"SELECT userid, login_name FROM profiles WHERE userid IN ({marks})",
            {f"u{i}": user for i, user in enumerate(ids)},
        )
        return {int(u): str(login) for u, login in rows}
