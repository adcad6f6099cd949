"""Shared by the Phabricator tests: a Bugzilla with a bug and its revisions, the same in Phabricator.

Bugzilla's side is its own tables (`tests/bugzilla_tables.py`) in the test's database; Phabricator's
is the Conduit test double (`tests/doubles/conduit_server.py`). Messages are shaped as
bugzilla.mozilla.org writes them (strings for people, `groups`).
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bugzilla_push.bugzilla import BugzillaReader
from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors import ConnectionInfo, ConnectorFatal, build_connector
from bugzilla_push.engine import Engine
from bugzilla_push.store import NewMessage
from tests.bugzilla_tables import BugzillaTables
from tests.support import store_now

if TYPE_CHECKING:
    from bugzilla_push.connectors.phabricator import PhabricatorConnector
    from bugzilla_push.reports import DeliveryReport
    from bugzilla_push.store import Store
    from tests.doubles.conduit_server import ConduitServer
    from tests.fakes import FakeClock

TOKEN = "api-" + secrets.token_hex(14)  # a fresh 32-character token per session, so a leak cannot hide
REVISIONS = (101, 102)
SEARCH = {
    "queryKey": "all",
    "constraints": {"ids": list(REVISIONS)},
    "attachments": {"projects": True, "subscribers": True},
}


@dataclass
class World:
    """A bug with two revisions (D101, D102), its people, and a bug without revisions.

    :param users: Bugzilla user ids by name
    :param phids: Phabricator PHIDs by the same names (dave has no Phabricator account)
    :param projects: project PHIDs by name
    """

    tables: BugzillaTables
    conduit: ConduitServer
    db_url: str
    users: dict[str, int]
    phids: dict[str, str]
    projects: dict[str, str]
    groups: dict[str, int]
    bug: int
    plain_bug: int

    def revision(self, rev_id: int) -> Any:
        return self.conduit.state.revisions[rev_id]


def build_world(store: Store, db_url: str, conduit: ConduitServer) -> World:
    tables = BugzillaTables(store).create()
    names = ("ada", "bob", "carol", "dave", "erin", "nobody")
    users = {n: tables.add_user("nobody@mozilla.org" if n == "nobody" else f"{n}@example.org") for n in names}
    phids = {n: conduit.state.add_user(n, users[n]) for n in ("ada", "bob", "carol", "erin")}
    projects = {
        n: conduit.state.add_project(n) for n in ("secure-revision", "bmo-editbugs-team", "bmo-core-security")
    }
    projects["bmo-core-security-extra"] = conduit.state.add_project(
        "bmo-core-security-extra"
    )  # token match bait
    groups = {n: tables.add_group(n) for n in ("core-security", "legal")}
    bug = tables.add_bug(reporter=users["ada"], assigned_to=users["bob"], qa_contact=users["carol"])
    tables.add_cc(bug, users["dave"])
    for rev in REVISIONS:
        tables.add_revision_attachment(bug, users["ada"], rev)
        conduit.state.add_revision(rev, bug, subscribers=[phids["ada"]])
    tables.add_attachment(bug, users["ada"], "crash.txt", mimetype="text/plain")
    plain_bug = tables.add_bug(reporter=users["ada"], assigned_to=users["nobody"])
    tables.add_attachment(plain_bug, users["ada"], "fix.patch", mimetype="text/plain")
    return World(tables, conduit, db_url, users, phids, projects, groups, bug, plain_bug)


def change(bug_id: int, *fields: str, is_private: bool = False, target: str = "bug") -> NewMessage:
    """A `<target>.modify:<fields>` message about the bug, as BMO's Push extension writes it."""
    bug = {
        "id": bug_id,
        "is_private": is_private,
        "product": "Core",
        "component": "Security",
        "summary": "A security bug" if is_private else "A bug",
        "assigned_to": "bob@example.org",
        "groups": ["core-security"] if is_private else [],
    }
    obj = bug if target == "bug" else {"id": 9001, "is_private": False, "bug": bug}
    key = f"{target}.modify:{','.join(fields)}"
    change_set = f"4242.{secrets.randbelow(10**9)}"
    event = {
        "action": "modify",
        "target": target,
        "time": "2026-11-02T09:00:00",
        "user": {"id": 1, "login": "ada@example.org", "real_name": "Ada"},
        "change_set": change_set,
        "routing_key": key,
        "changes": [{"field": f, "removed": "", "added": "x"} for f in fields],
    }
    return NewMessage(json.dumps({target: obj, "event": event}), key, change_set)


def enqueue(store: Store, *messages: NewMessage) -> list[int]:
    store.enqueue(messages, now=store_now())
    return [r[0] for r in store.query("SELECT id FROM push ORDER BY id")][-len(messages) :]


def engine_for(store: Store, clock: FakeClock) -> Engine:
    return Engine(store, DeliveryConfig(chunk_size=25, backoff_jitter=0.0), clock=clock, rng=random.Random(0))


def phabricator(world: World, token: str = TOKEN, **extra: Any) -> PhabricatorConnector:
    """Build the connector from its connection, with a reader on the world's Bugzilla, as Airflow does."""
    connector = build_connector(
        ConnectionInfo("phabricator", "http", host=world.conduit.url, password=token, extra=extra)
    )
    connector.use_bugzilla(BugzillaReader.from_url(world.db_url))
    return connector


def run(engine: Engine, connector: PhabricatorConnector) -> DeliveryReport | ConnectorFatal:
    """One DAG run without Airflow: open the batch, deliver, finalize, close the connector."""
    batch = engine.open_batch("test-run", [connector.name])
    with connector:
        try:
            result: DeliveryReport | ConnectorFatal = engine.deliver(batch, connector)
        except ConnectorFatal as exc:
            result = exc
    engine.finalize(batch)
    return result
