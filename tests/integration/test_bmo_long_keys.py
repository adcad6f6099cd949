"""Routing keys longer than Bugzilla's column, written as bugzilla.mozilla.org writes them, reach
every connector whole.

BMO names every changed field in the key (`extensions/Push/Extension.pm` `_push_object`), its
`push.routing_key` is VARCHAR(64), and Bugzilla drops MySQL's strict mode for its session
(`Bugzilla/DB/Mysql.pm` `on_dbi_connected`): the column keeps 64 characters, the payload's
`event.routing_key` the whole key. One `airflow dags test` run delivers them to Pulse (RabbitMQ),
a webhook (receiver double), Elasticsearch (test double) and a file.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

import pymysql
import pytest

from bugzilla_push.connectors.pulse.routing import amqp_routing_key
from bugzilla_push.model import Result
from bugzilla_push.samples import BugzillaSimulator, render
from bugzilla_push.samples.shapes import BugzillaChange, FieldChange
from bugzilla_push.store import open_store
from tests.doubles.elasticsearch_server import EsTestServer
from tests.elasticsearch_support import Target, snapshot
from tests.integration.bmo import DATA_TRUNCATED, connect, create_bugzilla_tables, insert_as_bugzilla
from tests.integration.connectors.pulse.support import is_public_or_privacy_transition, pulse_conn_json, rows
from tests.support import pending_ids, read_jsonl, run_dag

if TYPE_CHECKING:
    from pathlib import Path

    from tests.doubles.webhook_receiver import WebhookReceiver
    from tests.integration.connectors.pulse.support import BoundQueue

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The example: three release-status flags and a tracking flag, 96 characters.
KEY_96 = "bug.modify:cf_status_firefox135,cf_status_firefox136,cf_status_firefox137,cf_tracking_firefox136"
RELEASE_FIELDS = [f"cf_{kind}_firefox{n}" for kind in ("status", "tracking") for n in range(130, 140)]


def tracked(change: BugzillaChange, fields: list[str], seconds: int) -> BugzillaChange:
    """The same bug marked affected in `fields`, by release management, `seconds` later."""
    bug = replace(change.bug, custom={**change.bug.custom, **dict.fromkeys(fields, "affected")})
    return replace(
        change,
        action="modify",
        bug=bug,
        time=change.time[:-2] + f"{seconds:02d}",
        change_set=f"{change.change_set}{seconds}"[:32],
        changes=tuple(FieldChange(f, "---", "affected") for f in fields),
    )


def bugzillas_rows() -> list[dict]:
    """A day's stream (it has keys over 64 characters of its own), then two bugs whose last change is long."""
    sim = BugzillaSimulator(seed=61, private_ratio=0.1)
    stream = list(sim.changes(80))
    created = [c for c in sim.changes(40) if c.target == "bug" and c.action == "create"][:2]
    assert len(created) == 2
    fields_96 = KEY_96.partition(":")[2].split(",")
    last = [tracked(created[0], fields_96, 1), tracked(created[1], RELEASE_FIELDS, 2)]
    return [render(c) for c in [*stream, *created, *last]]


def test_long_keys_written_as_bugzilla_writes_them_reach_every_connector_whole(
    airflow_db: None, mysql_url: str, queue: BoundQueue, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    create_bugzilla_tables(mysql_url)
    with open_store(mysql_url) as store:
        store.create_schema()
    rows_in = bugzillas_rows()
    whole_keys = [r["payload"]["event"]["routing_key"] for r in rows_in]
    assert KEY_96 in whole_keys
    assert len(KEY_96) == 96
    huge = whole_keys[-1]
    assert len(huge) > 255

    # The server runs in strict mode, where the key would be refused; Bugzilla's session is not.
    with (
        connect(mysql_url, as_bugzilla=False) as strict,
        pytest.raises(pymysql.err.DataError, match="Data too long"),
    ):
        insert_as_bugzilla(strict, rows_in[-1:])
    with connect(mysql_url) as bugzilla:
        inserted = insert_as_bugzilla(bugzilla, rows_in)
    ids = [push_id for push_id, _ in inserted]
    with open_store(mysql_url) as store:
        stored = {r.id: r.routing_key for r in rows(store)}
        public = [r.id for r in rows(store) if is_public_or_privacy_transition(r)]
    long_ids = [i for i, key in zip(ids, whole_keys, strict=True) if len(key) > 64]
    assert len(long_ids) > 2
    for (push_id, warnings), key in zip(inserted, whole_keys, strict=True):
        assert stored[push_id] == key[:64]  # the column's cut
        assert warnings == ([DATA_TRUNCATED] if len(key) > 64 else [])

    double = EsTestServer().start()
    try:
        target = Target(double.url)
        out = tmp_path / "file.jsonl"
        run_dag(
            mysql_url,
            "pulse,webhook,elasticsearch,file",
            AIRFLOW_CONN_PULSE=pulse_conn_json(queue.exchange),
            AIRFLOW_CONN_WEBHOOK=json.dumps({"conn_type": "http", "host": receiver.url("/hook")}),
            AIRFLOW_CONN_ELASTICSEARCH=json.dumps(
                {"conn_type": "elasticsearch", "host": double.url, "extra": target.extra()}
            ),
            AIRFLOW_CONN_FILE=f"fs://?path={out}",
        )
        with target.client() as es:
            bugs = {
                doc_id: source
                for (kind, doc_id), (_, source) in snapshot(es, target).items()
                if kind == "bugs"
            }
    finally:
        double.stop()

    key_of = dict(zip(ids, whole_keys, strict=True))
    with open_store(mysql_url) as store:
        assert pending_ids(store) == []
        assert store.query("SELECT COUNT(*) FROM push_dead_letter")[0][0] == 0
        assert store.query("SELECT COUNT(*) FROM push_backlog")[0][0] == 0
        results = store.query("SELECT connector, message_id, result, data FROM push_log ORDER BY id")
    assert {r for _, _, r, _ in results} <= {Result.OK, Result.IGNORED}
    for connector in ("pulse", "webhook", "elasticsearch", "file"):
        assert sorted(i for c, i, _, _ in results if c == connector) == ids, connector

    received = queue.drain()
    assert [m.message_id for m in received] == public
    assert all(m.routing_key == amqp_routing_key(key_of[m.message_id]) for m in received)
    assert {m.message_id: m.routing_key for m in received}[ids[-2]] == KEY_96
    cut = {m.message_id: m.routing_key for m in received}[ids[-1]]
    assert huge.startswith(cut + ",")
    (note,) = [d for c, i, _, d in results if c == "pulse" and i == ids[-1]]
    assert note.startswith(f"routing key of {len(huge)} bytes published as its first {len(cut)}")

    hooks = receiver.accepted("/hook")
    delivered = [i for c, i, r, _ in results if c == "webhook" and r == Result.OK]
    assert [r.push_id for r in hooks] == delivered  # all but private comments, in order
    assert set(long_ids) <= set(delivered)
    assert all(r.json["event"]["routing_key"] == key_of[r.push_id] for r in hooks)

    for push_id in ids[-2:]:
        bug_id = str(rows_in[ids.index(push_id)]["payload"]["bug"]["id"])
        assert bugs[bug_id]["routing_key"] == key_of[push_id]
        assert bugs[bug_id]["push_id"] == push_id

    assert [(r["push_id"], r["routing_key"]) for r in read_jsonl(out)] == list(key_of.items())
