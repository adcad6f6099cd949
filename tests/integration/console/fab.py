"""Airflow's FAB auth manager for the console's tests: a metadata database with its users and roles.

The database is a fresh PostgreSQL one, migrated by `airflow db migrate` with the FAB auth manager
configured (which adds FAB's user and role tables). The users are made through FAB's own security
manager, as `airflow users create` does, in one process (each `airflow` command takes about 20 s
here): `admin` with the built-in Admin role, `viewer` with Viewer, and `outsider` with a role of
its own that can log in and read runs, task instances and their logs, but has no permission on any
DAG — so it must not read the `bugzilla_push` DAG's console either.

Run as a module inside that environment: `python -m tests.integration.console.fab USERS_JSON`.
"""

from __future__ import annotations

import json
import sys

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
ROLES = {"admin": "Admin", "viewer": "Viewer", "outsider": "Outsider"}
# Everything of the Viewer role that does not name DAGs: an account that reaches other parts of
# Airflow and even DAG sub-entities, but no DAG.
OUTSIDER_READS = ("Website", "DAG Runs", "Task Instances", "Task Logs", "XComs", "Pools", "Assets")


def create_users(passwords: dict[str, str]) -> None:
    """Create the Outsider role and the users of :data:`ROLES` with these passwords (idempotent)."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        security = appbuilder.sm
        outsider = security.add_role("Outsider")
        for resource in OUTSIDER_READS:
            security.add_permission_to_role(outsider, security.create_permission("can_read", resource))
        for user, role_name in ROLES.items():
            if security.find_user(user):
                continue
            role = security.find_role(role_name)
            if not security.add_user(user, user, "Tester", f"{user}@example.org", role, passwords[user]):
                raise SystemExit(f"FAB refused to create the user {user}")


if __name__ == "__main__":
    create_users(json.loads(sys.argv[1]))
