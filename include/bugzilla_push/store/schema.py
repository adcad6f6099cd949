"""The tables, written once and rendered per dialect, and the migrations that create them.

BMO's five tables keep Bugzilla's names, columns and indexes so the project can work on a real
Bugzilla database; the other tables are this project's own. Types are placeholders that each
dialect maps: {serial}, {ts0} (Bugzilla's DATETIME: whole seconds), {ts} (sub-second), {text}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bugzilla_push.store.dialect import index_table

if TYPE_CHECKING:
    from bugzilla_push.store.session import Session

BMO_TABLES = ("push", "push_backlog", "push_backoff", "push_options", "push_log")
OWN_TABLES = (
    "push_dead_letter",
    "push_run",
    "push_run_connector",
    "push_meta",
    "push_connector_state",
    "push_audit",
    "push_stats",
    "push_archive",
    "push_replay",
    "push_replay_connector",
)

# (version, statements): applied in order by `bugzilla-push schema`; never edit a released one.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE IF NOT EXISTS push (
                id {serial},
                push_ts {ts0} NOT NULL,
                payload {longtext} NOT NULL,
                change_set VARCHAR(32) NOT NULL,
                routing_key VARCHAR(64) NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS push_backlog (
                id {serial},
                message_id {int3} NOT NULL,
                push_ts {ts0} NOT NULL,
                payload {longtext} NOT NULL,
                change_set VARCHAR(32) NOT NULL,
                routing_key VARCHAR(64) NOT NULL,
                connector VARCHAR(32) NOT NULL,
                attempt_ts {ts0} NULL,
                attempts SMALLINT NOT NULL,
                last_error {mediumtext} NULL)""",
            "CREATE UNIQUE INDEX {if_not_exists} push_backlog_idx ON push_backlog (message_id, connector)",
            """CREATE TABLE IF NOT EXISTS push_backoff (
                id {serial},
                connector VARCHAR(32) NOT NULL,
                next_attempt_ts {ts0} NULL,
                attempts SMALLINT NOT NULL)""",
            "CREATE UNIQUE INDEX {if_not_exists} push_backoff_idx ON push_backoff (connector)",
            """CREATE TABLE IF NOT EXISTS push_options (
                id {serial},
                connector VARCHAR(32) NOT NULL,
                option_name VARCHAR(32) NOT NULL,
                option_value VARCHAR(255) NOT NULL)""",
            "CREATE UNIQUE INDEX {if_not_exists} push_options_idx ON push_options (connector, option_name)",
            """CREATE TABLE IF NOT EXISTS push_log (
                id {serial},
                message_id {int3} NOT NULL,
                change_set VARCHAR(32) NOT NULL,
                routing_key VARCHAR(64) NOT NULL,
                connector VARCHAR(32) NOT NULL,
                push_ts {ts0} NOT NULL,
                processed_ts {ts0} NOT NULL,
                result {int1} NOT NULL,
                data {mediumtext} NULL)""",
            # Our own tables.
            """CREATE TABLE IF NOT EXISTS push_dead_letter (
                id {serial},
                message_id {int3} NOT NULL,
                connector VARCHAR(32) NOT NULL,
                push_ts {ts0} NOT NULL,
                payload {longtext} NOT NULL,
                change_set VARCHAR(32) NOT NULL,
                routing_key VARCHAR(64) NOT NULL,
                reason {mediumtext} NOT NULL,
                failed_ts {ts} NOT NULL)""",
            "CREATE UNIQUE INDEX {if_not_exists} push_dead_letter_idx "
            "ON push_dead_letter (message_id, connector)",
            """CREATE TABLE IF NOT EXISTS push_run (
                id {serial},
                owner VARCHAR(250) NOT NULL,
                open_slot SMALLINT NULL,
                state VARCHAR(16) NOT NULL,
                created_ts {ts} NOT NULL,
                finished_ts {ts} NULL,
                first_id {int3} NULL,
                last_id {int3} NULL,
                size INTEGER NOT NULL,
                deleted INTEGER NULL,
                ranges {mediumtext} NOT NULL,
                connectors {mediumtext} NOT NULL,
                selected {mediumtext} NOT NULL)""",
            # At most one open batch: NULLs never collide, 1 does.
            "CREATE UNIQUE INDEX {if_not_exists} push_run_open_idx ON push_run (open_slot)",
            """CREATE TABLE IF NOT EXISTS push_run_connector (
                run_id INTEGER NOT NULL,
                connector VARCHAR(32) NOT NULL,
                state VARCHAR(16) NOT NULL,
                through_id {int3} NULL,
                sent INTEGER NOT NULL,
                ignored INTEGER NOT NULL,
                dead INTEGER NOT NULL,
                held INTEGER NOT NULL,
                updated_ts {ts} NOT NULL,
                error {mediumtext} NULL,
                PRIMARY KEY (run_id, connector))""",
            """CREATE TABLE IF NOT EXISTS push_meta (
                name VARCHAR(64) NOT NULL PRIMARY KEY,
                value VARCHAR(255) NOT NULL)""",
        ],
    ),
]

MIGRATIONS.append(
    (
        2,
        [
            # Operator state: a paused connector keeps its messages in its backlog, with who and why.
            """CREATE TABLE IF NOT EXISTS push_connector_state (
                connector VARCHAR(32) NOT NULL PRIMARY KEY,
                paused SMALLINT NOT NULL,
                reason {mediumtext} NULL,
                changed_by VARCHAR(250) NOT NULL,
                changed_ts {ts} NOT NULL)""",
            # Every operator action: who, when, what.
            """CREATE TABLE IF NOT EXISTS push_audit (
                id {serial},
                action_ts {ts} NOT NULL,
                actor VARCHAR(250) NOT NULL,
                action VARCHAR(32) NOT NULL,
                connector VARCHAR(32) NULL,
                message_id {int3} NULL,
                detail {mediumtext} NULL)""",
            "CREATE INDEX {if_not_exists} push_audit_ts_idx ON push_audit (action_ts)",
            # One row per connector per delivery (and '*' for the pending queue): the charts' data.
            """CREATE TABLE IF NOT EXISTS push_stats (
                id {serial},
                sampled_ts {ts} NOT NULL,
                connector VARCHAR(32) NOT NULL,
                state VARCHAR(16) NOT NULL,
                sent INTEGER NOT NULL,
                ignored INTEGER NOT NULL,
                dead INTEGER NOT NULL,
                held INTEGER NOT NULL,
                transient INTEGER NOT NULL,
                depth INTEGER NOT NULL,
                oldest_ts {ts0} NULL,
                millis INTEGER NOT NULL)""",
            "CREATE INDEX {if_not_exists} push_stats_ts_idx ON push_stats (sampled_ts)",
            # Delivered messages, kept for replay until their retention passes.
            """CREATE TABLE IF NOT EXISTS push_archive (
                message_id {int3} NOT NULL PRIMARY KEY,
                push_ts {ts0} NOT NULL,
                payload {longtext} NOT NULL,
                change_set VARCHAR(32) NOT NULL,
                routing_key VARCHAR(64) NOT NULL,
                archived_ts {ts} NOT NULL)""",
            "CREATE INDEX {if_not_exists} push_archive_ts_idx ON push_archive (push_ts)",
            "CREATE INDEX {if_not_exists} push_archive_archived_idx ON push_archive (archived_ts)",
            # Replays asked for by an operator or a backfill: what, to whom, and how far each got.
            """CREATE TABLE IF NOT EXISTS push_replay (
                id {serial},
                created_ts {ts} NOT NULL,
                requested_by VARCHAR(250) NOT NULL,
                connectors {mediumtext} NOT NULL,
                selector {mediumtext} NOT NULL,
                state VARCHAR(16) NOT NULL,
                finished_ts {ts} NULL)""",
            """CREATE TABLE IF NOT EXISTS push_replay_connector (
                replay_id INTEGER NOT NULL,
                connector VARCHAR(32) NOT NULL,
                state VARCHAR(16) NOT NULL,
                through_id {int3} NULL,
                sent INTEGER NOT NULL,
                error {mediumtext} NULL,
                updated_ts {ts} NOT NULL,
                PRIMARY KEY (replay_id, connector))""",
        ],
    )
)

# Indexes on BMO's tables that delivery needs; created only where this project created the tables.
MIGRATIONS.append(
    (
        3,
        # The console's charts and "last success" read statistics per connector.
        ["CREATE INDEX {if_not_exists} push_stats_connector_idx ON push_stats (connector, sampled_ts)"],
    )
)

# Indexes on BMO's tables that delivery and the console want, by the version that adds them. They
# go only on tables this project created: Bugzilla's own tables are never altered.
OWN_INDEXES_ON_BMO_TABLES: dict[int, list[str]] = {
    1: [
        "CREATE INDEX {if_not_exists} push_backlog_connector_idx ON push_backlog (connector, message_id)",
        "CREATE INDEX {if_not_exists} push_log_processed_idx ON push_log (processed_ts)",
        "CREATE INDEX {if_not_exists} push_log_connector_idx ON push_log (connector, processed_ts)",
    ],
    # A message's log and the log's bug filter look rows up by message id.
    3: ["CREATE INDEX {if_not_exists} push_log_message_idx ON push_log (message_id)"],
}
# How to tell, later, that this project created a BMO table: it carries this version-1 index.
OWNED_MARK = {"push_backlog": "push_backlog_connector_idx", "push_log": "push_log_connector_idx"}


def current_version(store: Session) -> int:
    """Return the schema version recorded in `push_meta` (0: none of this project's tables yet)."""
    if not store.dialect.existing_tables(store.conn, ["push_meta"]):
        return 0
    rows = store.query("SELECT value FROM push_meta WHERE name = 'schema_version'")
    return int(rows[0][0]) if rows else 0


def apply_migrations(store: Session) -> list[str]:
    """Create or upgrade the tables (idempotent); return the statements run.

    Tables Bugzilla created already are left exactly as they are: only the indexes this project
    wants on BMO's tables are skipped for them.
    """
    pre_existing = store.dialect.existing_tables(store.conn, BMO_TABLES)
    owned = {
        table
        for table, mark in OWNED_MARK.items()
        if table not in pre_existing or mark in store.dialect.existing_indexes(store.conn, table)
    }
    current = current_version(store)
    applied: list[str] = []
    with store.transaction() as cur:
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            statements = statements + [
                s for s in OWN_INDEXES_ON_BMO_TABLES.get(version, []) if index_table(s) in owned
            ]
            for statement in statements:
                sql = store.dialect.render(statement)
                store.dialect.execute_ddl(cur, sql)
                applied.append(sql)
            current = version
        if applied:
            store.execute(cur, "DELETE FROM push_meta WHERE name = 'schema_version'")
            store.execute(
                cur,
                "INSERT INTO push_meta (name, value) VALUES ('schema_version', %(v)s)",
                {"v": str(current)},
            )
    return applied
