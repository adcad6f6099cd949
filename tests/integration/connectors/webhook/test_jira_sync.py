"""JiraWebhookSync's additions to webhooks bound for Jira, on a BMO-shaped MariaDB with a real receiver.

BMO: `extensions/JiraWebhookSync/Extension.pm` (`webhook_before_send`: only for a webhook whose URL's
host is `jira_webhook_sync_hostname`, the bug's `jira_bug_map` row joins `see_also`, and each rule of
`jira_webhook_sync_config` the bug matches appends a `[tag]` to the whiteboard, once).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from bugzilla_push.airflow import tasks
from bugzilla_push.store import open_store
from tests.bugzilla_tables import BugzillaTables
from tests.integration.bmo import connect, create_bugzilla_tables, insert_as_bugzilla
from tests.unit.connectors.webhook.messages import bug, payload

if TYPE_CHECKING:
    from tests.doubles.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.integration]

# extensions/JiraWebhookSync/Extension.pm db_schema_abstract_schema, as MySQL DDL
JIRA_BUG_MAP = (
    "CREATE TABLE jira_bug_map (id MEDIUMINT NOT NULL AUTO_INCREMENT PRIMARY KEY, bug_id MEDIUMINT NOT NULL, "
    "jira_url VARCHAR(255) NOT NULL, jira_project_key VARCHAR(100) NOT NULL, "
    "UNIQUE KEY jira_bug_map_bug_id_idx (bug_id, jira_url))"
)
JIRA_ISSUE = "https://mozilla-hub.atlassian.net/browse/FXDEV-7"


def modified(bug_id: int, whiteboard: str) -> dict[str, Any]:
    body = payload(
        "bug",
        {**bug(bug_id), "whiteboard": whiteboard, "see_also": ["https://example.org/1"]},
        "modify",
        [{"field": "whiteboard", "removed": "", "added": whiteboard}],
    )
    return {"payload": body, "change_set": body["event"]["change_set"]}


def test_a_webhook_bound_for_jira_gets_the_jira_issue_and_whiteboard_tags_the_others_do_not(
    mysql_url: str, receiver: WebhookReceiver
) -> None:
    create_bugzilla_tables(mysql_url)
    with open_store(mysql_url) as store:
        store.create_schema()
        bz = BugzillaTables(store).create()
        owner, nobody = bz.add_user("owner@example.org"), bz.add_user("nobody@example.org")
        bz.add_product("Firefox")
        mapped, unmapped = bz.add_bug(nobody, nobody), bz.add_bug(nobody, nobody)
        bz.add_webhook(owner, "to-jira", receiver.url("/jira").replace("127.0.0.1", "localhost"))
        bz.add_webhook(owner, "elsewhere", receiver.url("/other"))
        with store.transaction() as cur:
            store.execute(cur, JIRA_BUG_MAP)
            store.execute(
                cur,
                "INSERT INTO jira_bug_map (bug_id, jira_url, jira_project_key) "
                "VALUES (%(b)s, %(u)s, 'FXDEV')",
                {"b": mapped, "u": JIRA_ISSUE},
            )
    rules = {"fx-dev": {"product": "Firefox"}, "fx-other": {"product": "Firefox", "component": "Other"}}
    env = {
        "AIRFLOW_CONN_BUGZILLA_DB": mysql_url,
        "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "bugzilla_webhooks",
        "AIRFLOW_CONN_BUGZILLA_WEBHOOKS": json.dumps(
            {
                "conn_type": "http",
                "extra": {"jira_webhook_sync_hostname": "localhost", "jira_webhook_sync_config": rules},
            }
        ),
    }
    with connect(mysql_url) as conn:
        insert_as_bugzilla(conn, [modified(mapped, "[fx-dev] triage"), modified(unmapped, "triage")])
    with mock.patch.dict(os.environ, env):
        plan = tasks.read_pending({}, tasks.RunInfo("manual__jira", "manual"), "bugzilla_db")
        reports = [tasks.deliver(item["connector"], item["batch"], "bugzilla_db") for item in plan]
        tasks.finalize(plan, reports, "bugzilla_db")

    to_jira = [r.json["bug"] for r in receiver.accepted("/jira")]
    assert [b["id"] for b in to_jira] == [mapped, unmapped]
    # The mapped bug's Jira issue joins its see_also; the tag it already has is not added again.
    assert to_jira[0]["see_also"] == ["https://example.org/1", JIRA_ISSUE]
    assert to_jira[0]["whiteboard"] == "[fx-dev] triage"
    assert to_jira[1]["see_also"] == ["https://example.org/1"]
    assert to_jira[1]["whiteboard"] == "triage [fx-dev]"  # component General: only the product rule
    elsewhere = [r.json["bug"] for r in receiver.accepted("/other")]
    assert [(b["whiteboard"], b["see_also"]) for b in elsewhere] == [
        ("[fx-dev] triage", ["https://example.org/1"]),
        ("triage", ["https://example.org/1"]),
    ]
