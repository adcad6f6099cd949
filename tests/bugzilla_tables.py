"""Bugzilla's own tables, for tests: the DDL Bugzilla makes, and rows written as Bugzilla writes them.

The definitions are those of `Bugzilla/DB/Schema.pm` (mozilla-bteam/bmo) in its abstract types,
rendered as `Bugzilla/DB/Schema/Mysql.pm` renders them for MySQL/MariaDB (InnoDB, utf8mb4,
`timestamp` for DATETIME with explicit defaults, booleans as tinyint) and `Schema/Sqlite.pm` for
SQLite. Only the tables this project reads are here; add more in the same form.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bugzilla_push.store import Store

Column = tuple[str, str, str]  # name, abstract type, constraints ("NOT NULL DEFAULT ''", ...)

SCHEMA: dict[str, list[Column]] = {
    "profiles": [
        ("userid", "MEDIUMSERIAL", "NOT NULL PRIMARY KEY"),
        ("login_name", "varchar(255)", "NOT NULL"),
        ("cryptpassword", "varchar(128)", ""),
        ("realname", "varchar(255)", "NOT NULL DEFAULT ''"),
        ("nickname", "varchar(255)", "NOT NULL DEFAULT ''"),
        ("disabledtext", "MEDIUMTEXT", "NOT NULL DEFAULT ''"),
        ("disable_mail", "BOOLEAN", "NOT NULL DEFAULT FALSE"),
        ("mybugslink", "BOOLEAN", "NOT NULL DEFAULT TRUE"),
        ("extern_id", "varchar(64)", ""),
        ("is_enabled", "BOOLEAN", "NOT NULL DEFAULT TRUE"),
        ("last_seen_date", "DATETIME", ""),
        ("password_change_required", "BOOLEAN", "NOT NULL DEFAULT FALSE"),
        ("password_change_reason", "varchar(64)", ""),
        ("mfa", "varchar(8)", "DEFAULT ''"),
        ("mfa_required_date", "DATETIME", ""),
        ("forget_after_date", "DATETIME", ""),
        ("bounce_count", "INT1", "NOT NULL DEFAULT 0"),
        ("modification_ts", "DATETIME", "NOT NULL"),
    ],
    "groups": [
        ("id", "MEDIUMSERIAL", "NOT NULL PRIMARY KEY"),
        ("name", "varchar(255)", "NOT NULL"),
        ("description", "MEDIUMTEXT", "NOT NULL"),
        ("isbuggroup", "BOOLEAN", "NOT NULL"),
        ("userregexp", "TINYTEXT", "NOT NULL DEFAULT ''"),
        ("isactive", "BOOLEAN", "NOT NULL DEFAULT TRUE"),
        ("icon_url", "TINYTEXT", ""),
        ("owner_user_id", "INT3", ""),
        ("idle_member_removal", "INT2", "NOT NULL DEFAULT 0"),
    ],
    "bugs": [
        ("bug_id", "MEDIUMSERIAL", "NOT NULL PRIMARY KEY"),
        ("assigned_to", "INT3", "NOT NULL"),
        ("bug_file_loc", "MEDIUMTEXT", "NOT NULL DEFAULT ''"),
        ("bug_severity", "varchar(64)", "NOT NULL"),
        ("bug_status", "varchar(64)", "NOT NULL"),
        ("bug_type", "varchar(20)", "NOT NULL"),
        ("filed_via", "varchar(40)", "NOT NULL DEFAULT 'unknown'"),
        ("creation_ts", "DATETIME", ""),
        ("delta_ts", "DATETIME", "NOT NULL"),
        ("short_desc", "varchar(255)", "NOT NULL"),
        ("op_sys", "varchar(64)", "NOT NULL"),
        ("priority", "varchar(64)", "NOT NULL"),
        ("product_id", "INT2", "NOT NULL"),
        ("rep_platform", "varchar(64)", "NOT NULL"),
        ("reporter", "INT3", "NOT NULL"),
        ("version", "varchar(64)", "NOT NULL"),
        ("component_id", "INT2", "NOT NULL"),
        ("resolution", "varchar(64)", "NOT NULL DEFAULT ''"),
        ("target_milestone", "varchar(20)", "NOT NULL DEFAULT '---'"),
        ("qa_contact", "INT3", ""),
        ("status_whiteboard", "MEDIUMTEXT", "NOT NULL DEFAULT ''"),
        ("lastdiffed", "DATETIME", ""),
        ("everconfirmed", "BOOLEAN", "NOT NULL"),
        ("reporter_accessible", "BOOLEAN", "NOT NULL DEFAULT TRUE"),
        ("cclist_accessible", "BOOLEAN", "NOT NULL DEFAULT TRUE"),
        ("estimated_time", "decimal(7,2)", "NOT NULL DEFAULT 0"),
        ("remaining_time", "decimal(7,2)", "NOT NULL DEFAULT 0"),
        ("deadline", "DATETIME", ""),
        ("alias", "varchar(40)", ""),
    ],
    "bug_group_map": [("bug_id", "INT3", "NOT NULL"), ("group_id", "INT3", "NOT NULL")],
    "cc": [("bug_id", "INT3", "NOT NULL"), ("who", "INT3", "NOT NULL")],
    "attachments": [
        ("attach_id", "BIGSERIAL", "NOT NULL PRIMARY KEY"),
        ("bug_id", "INT3", "NOT NULL"),
        ("creation_ts", "DATETIME", "NOT NULL"),
        ("modification_time", "DATETIME", "NOT NULL"),
        ("description", "TINYTEXT", "NOT NULL"),
        ("mimetype", "TINYTEXT", "NOT NULL"),
        ("ispatch", "BOOLEAN", "NOT NULL DEFAULT FALSE"),
        ("filename", "varchar(100)", "NOT NULL"),
        ("submitter_id", "INT3", "NOT NULL"),
        ("isobsolete", "BOOLEAN", "NOT NULL DEFAULT FALSE"),
        ("isprivate", "BOOLEAN", "NOT NULL DEFAULT FALSE"),
        ("attach_size", "INT4", "NOT NULL DEFAULT 0"),
    ],
    "products": [
        ("id", "SMALLSERIAL", "NOT NULL PRIMARY KEY"),
        ("name", "varchar(64)", "NOT NULL"),
        ("classification_id", "INT2", "NOT NULL DEFAULT 1"),
        ("description", "MEDIUMTEXT", "NOT NULL"),
        ("isactive", "BOOLEAN", "NOT NULL DEFAULT 1"),
        ("defaultmilestone", "varchar(20)", "NOT NULL DEFAULT '---'"),
        ("default_version", "varchar(20)", "NOT NULL DEFAULT 'unspecified'"),
        ("allows_unconfirmed", "BOOLEAN", "NOT NULL DEFAULT TRUE"),
        ("bug_description_template", "MEDIUMTEXT", ""),
        ("default_bug_type", "varchar(20)", ""),
    ],
    "components": [
        ("id", "SMALLSERIAL", "NOT NULL PRIMARY KEY"),
        ("name", "varchar(64)", "NOT NULL"),
        ("product_id", "INT2", "NOT NULL"),
        ("initialowner", "INT3", "NOT NULL"),
        ("initialqacontact", "INT3", ""),
        ("description", "MEDIUMTEXT", "NOT NULL"),
        ("isactive", "BOOLEAN", "NOT NULL DEFAULT TRUE"),
        ("triage_owner_id", "INT3", ""),
        ("team_name", "varchar(255)", "NOT NULL DEFAULT 'Mozilla'"),
        ("bug_description_template", "MEDIUMTEXT", ""),
        ("default_bug_type", "varchar(20)", ""),
    ],
    "user_group_map": [
        ("user_id", "INT3", "NOT NULL"),
        ("group_id", "INT3", "NOT NULL"),
        ("isbless", "BOOLEAN", "NOT NULL DEFAULT FALSE"),
        ("grant_type", "INT1", "NOT NULL DEFAULT 0"),
    ],
    "group_group_map": [
        ("member_id", "INT3", "NOT NULL"),
        ("grantor_id", "INT3", "NOT NULL"),
        ("grant_type", "INT1", "NOT NULL DEFAULT 0"),
    ],
    "group_control_map": [
        ("group_id", "INT3", "NOT NULL"),
        ("product_id", "INT2", "NOT NULL"),
        ("entry", "BOOLEAN", "NOT NULL DEFAULT FALSE"),
        ("membercontrol", "INT1", "NOT NULL DEFAULT 0"),
        ("othercontrol", "INT1", "NOT NULL DEFAULT 0"),
        ("canedit", "BOOLEAN", "NOT NULL DEFAULT FALSE"),
        ("editcomponents", "BOOLEAN", "NOT NULL DEFAULT FALSE"),
        ("editbugs", "BOOLEAN", "NOT NULL DEFAULT FALSE"),
        ("canconfirm", "BOOLEAN", "NOT NULL DEFAULT FALSE"),
    ],
    # extensions/Webhooks/Extension.pm db_schema_abstract_schema
    "webhooks": [
        ("id", "INTSERIAL", "NOT NULL PRIMARY KEY"),
        ("user_id", "INT3", "NOT NULL"),
        ("name", "varchar(64)", "NOT NULL"),
        ("url", "varchar(255)", "NOT NULL"),
        ("event", "varchar(64)", "NOT NULL"),
        ("product_id", "INT2", ""),
        ("component_id", "INT2", ""),
        ("api_key_header", "varchar(64)", ""),
        ("api_key_value", "varchar(64)", ""),
    ],
}
INDEXES = [  # the unique ones, and those the reads use
    "CREATE UNIQUE INDEX profiles_login_name_idx ON profiles (login_name)",
    "CREATE UNIQUE INDEX groups_name_idx ON {groups} (name)",
    "CREATE UNIQUE INDEX bug_group_map_bug_id_idx ON bug_group_map (bug_id, group_id)",
    "CREATE UNIQUE INDEX cc_bug_id_idx ON cc (bug_id, who)",
    "CREATE INDEX attachments_bug_id_idx ON attachments (bug_id)",
    "CREATE UNIQUE INDEX products_name_idx ON products (name)",
    "CREATE UNIQUE INDEX components_product_id_idx ON components (product_id, name)",
    "CREATE UNIQUE INDEX user_group_map_user_id_idx ON user_group_map "
    "(user_id, group_id, grant_type, isbless)",
    "CREATE UNIQUE INDEX group_group_map_member_id_idx ON group_group_map "
    "(member_id, grantor_id, grant_type)",
    "CREATE UNIQUE INDEX group_control_map_product_id_idx ON group_control_map (product_id, group_id)",
    "CREATE UNIQUE INDEX webhooks_userid_name_idx ON webhooks (user_id, name)",
]
MYSQL_TYPES = {  # Bugzilla/DB/Schema/Mysql.pm db_specific
    "BOOLEAN": "tinyint", "INT1": "tinyint", "INT2": "smallint", "INT3": "mediumint", "INT4": "integer",
    "MEDIUMSERIAL": "mediumint auto_increment", "BIGSERIAL": "bigint(20) auto_increment",
    "SMALLSERIAL": "smallint auto_increment", "INTSERIAL": "integer auto_increment",
    "TINYTEXT": "tinytext", "MEDIUMTEXT": "mediumtext", "DATETIME": "timestamp",
}  # fmt: skip
SQLITE_TYPES = {  # Bugzilla/DB/Schema/Sqlite.pm db_specific, SERIAL primary keys as it renders them
    "BOOLEAN": "integer", "INT1": "integer", "INT2": "integer", "INT3": "integer", "INT4": "integer",
    "MEDIUMSERIAL": "integer", "BIGSERIAL": "integer", "SMALLSERIAL": "integer", "INTSERIAL": "integer",
    "TINYTEXT": "text", "MEDIUMTEXT": "text",
    "DATETIME": "DATETIME",
}  # fmt: skip
PG_TYPES = {  # Bugzilla/DB/Schema/Pg.pm db_specific
    "BOOLEAN": "smallint", "INT1": "integer", "INT2": "integer", "INT3": "integer", "INT4": "integer",
    "MEDIUMSERIAL": "serial", "BIGSERIAL": "bigserial", "SMALLSERIAL": "serial", "INTSERIAL": "serial",
    "TINYTEXT": "varchar(255)", "MEDIUMTEXT": "text", "DATETIME": "timestamp(0) without time zone",
}  # fmt: skip
MYSQL_TABLE_OPTIONS = (
    "ENGINE = InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci ROW_FORMAT=DYNAMIC"
)


def ddl(dialect: str) -> list[str]:
    """Return the CREATE statements of :data:`SCHEMA` for `mysql`, `postgresql` or `sqlite`."""
    mysql, sqlite = dialect == "mysql", dialect == "sqlite"
    types = MYSQL_TYPES if mysql else SQLITE_TYPES if sqlite else PG_TYPES
    groups = "`groups`" if mysql else '"groups"'
    statements = []
    for table, columns in SCHEMA.items():
        parts = []
        for name, kind, constraints in columns:
            rendered = types.get(kind, kind)
            constraints = constraints.replace("TRUE", "1").replace("FALSE", "0")
            if mysql and rendered == "timestamp":
                # Schema/Mysql.pm get_type_ddl: never an automatic TIMESTAMP
                if "NOT NULL" not in constraints:
                    constraints = (constraints + " NULL DEFAULT NULL").strip()
                elif "DEFAULT" not in constraints:
                    constraints += " DEFAULT CURRENT_TIMESTAMP"
            if sqlite and kind.endswith("SERIAL"):
                constraints = "PRIMARY KEY AUTOINCREMENT"  # Schema/Sqlite.pm _get_create_table_ddl
            parts.append(f"{name} {rendered} {constraints}".strip())
        name = groups if table == "groups" else table
        statements.append(
            f"CREATE TABLE {name} ({', '.join(parts)}){' ' + MYSQL_TABLE_OPTIONS if mysql else ''}"
        )
    return statements + [i.format(groups=groups) for i in INDEXES]


class BugzillaTables:
    """Creates Bugzilla's tables in a store's database and writes rows into them as Bugzilla would.

    :param store: an open store on the database (its `dialect.name` picks the DDL)
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.groups_table = "`groups`" if store.dialect.name == "mysql" else '"groups"'

    def create(self) -> BugzillaTables:
        with self.store.transaction() as cur:
            for statement in ddl(self.store.dialect.name):
                self.store.execute(cur, statement)
        return self

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        columns = ", ".join(row)
        values = ", ".join(f"%({c})s" for c in row)
        with self.store.transaction() as cur:
            self.store.execute(cur, f"INSERT INTO {table} ({columns}) VALUES ({values})", row)
            return int(cur.lastrowid)  # SQLite and MySQL (the dialects here) both report it

    def _run(self, sql: str, params: dict[str, Any]) -> None:
        with self.store.transaction() as cur:
            self.store.execute(cur, sql, params)

    def add_user(self, login: str) -> int:
        return self._insert(
            "profiles", {"login_name": login, "realname": login.split("@")[0], "modification_ts": NOW}
        )

    def add_group(self, name: str) -> int:
        row = {"name": name, "description": f"{name} group", "isbuggroup": 1}
        return self._insert(self.groups_table, row)

    def add_product(self, name: str, components: tuple[str, ...] = ("General",), owner: int = 1) -> int:
        product = self._insert("products", {"name": name, "description": name})
        for component in components:
            row = {"name": component, "product_id": product, "initialowner": owner, "description": component}
            self._insert("components", row)
        return product

    def component_id(self, product: str, component: str) -> int:
        return int(
            self.store.query(
                "SELECT c.id FROM components c JOIN products p ON p.id = c.product_id "
                "WHERE p.name = %(p)s AND c.name = %(c)s",
                {"p": product, "c": component},
            )[0][0]
        )

    def add_member(self, user: int, group: int) -> None:
        """Make the user a member of the group (`user_group_map`, a direct grant)."""
        self._run(
            "INSERT INTO user_group_map (user_id, group_id) VALUES (%(u)s, %(g)s)", {"u": user, "g": group}
        )

    def add_group_member(self, member: int, grantor: int) -> None:
        """Make every member of group `member` a member of group `grantor` (`group_group_map`)."""
        self._run(
            "INSERT INTO group_group_map (member_id, grantor_id) VALUES (%(m)s, %(g)s)",
            {"m": member, "g": grantor},
        )

    def make_mandatory(self, product: int, group: int) -> None:
        """Put every bug of the product in the group (Mandatory/Mandatory in `group_control_map`)."""
        row = {"group_id": group, "product_id": product, "membercontrol": 3, "othercontrol": 3}
        self._insert("group_control_map", row)

    def add_webhook(
        self, user: int, name: str, url: str, event: str = "create,change,comment,attachment",
        product: int | None = None, component: int | None = None, api_key_header: str | None = None,
        api_key_value: str | None = None,
    ) -> int:  # fmt: skip
        """A webhook as Bugzilla's Webhooks UI creates it (`extensions/Webhooks/Extension.pm`)."""
        row = {
            "user_id": user, "name": name, "url": url, "event": event, "product_id": product,
            "component_id": component, "api_key_header": api_key_header, "api_key_value": api_key_value,
        }  # fmt: skip
        return self._insert("webhooks", row)

    def set_push_option(self, connector: str, name: str, value: str) -> None:
        """Set a `push_options` row as Bugzilla's Push config pages do (`extensions/Push/lib/Option.pm`)."""
        self._run(
            "DELETE FROM push_options WHERE connector = %(c)s AND option_name = %(n)s",
            {"c": connector, "n": name},
        )
        self._insert("push_options", {"connector": connector, "option_name": name, "option_value": value})

    def add_bug(self, reporter: int, assigned_to: int, qa_contact: int | None = None) -> int:
        row = {
            "assigned_to": assigned_to, "bug_severity": "--", "bug_status": "NEW", "bug_type": "defect",
            "creation_ts": NOW, "delta_ts": NOW, "short_desc": "a bug", "op_sys": "Unspecified",
            "priority": "--", "product_id": 1, "rep_platform": "Unspecified", "reporter": reporter,
            "version": "unspecified", "component_id": 1, "qa_contact": qa_contact, "everconfirmed": 1,
        }  # fmt: skip
        return self._insert("bugs", row)

    def add_to_group(self, bug: int, group: int) -> None:
        self._run(
            "INSERT INTO bug_group_map (bug_id, group_id) VALUES (%(b)s, %(g)s)", {"b": bug, "g": group}
        )

    def remove_from_groups(self, bug: int) -> None:
        self._run("DELETE FROM bug_group_map WHERE bug_id = %(b)s", {"b": bug})

    def add_cc(self, bug: int, user: int) -> None:
        self._run("INSERT INTO cc (bug_id, who) VALUES (%(b)s, %(u)s)", {"b": bug, "u": user})

    def add_attachment(
        self, bug: int, submitter: int, filename: str, mimetype: str = "text/x-phabricator-request",
        is_private: bool = False,
    ) -> int:  # fmt: skip
        row = {
            "bug_id": bug, "creation_ts": NOW, "modification_time": NOW, "description": filename,
            "mimetype": mimetype, "filename": filename, "submitter_id": submitter,
            "isprivate": int(is_private),
        }  # fmt: skip
        return self._insert("attachments", row)

    def add_revision_attachment(self, bug: int, submitter: int, revision: int, **kwargs: Any) -> int:
        """An attachment as PhabBugz `create_revision_attachment` makes it: `phabricator-D<id>-url.txt`."""
        return self.add_attachment(bug, submitter, f"phabricator-D{revision}-url.txt", **kwargs)


NOW = datetime(2025, 1, 2, 3, 4, 5)
