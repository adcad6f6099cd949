"""A day of real deliveries for the push console's tests, played on a clock that the tests move.

`seed_day` runs the engine with two scripted connectors through the 24 hours before `end`, a
delivery every ten minutes, so that every table the console reads holds what a day of operation
leaves: statistics for the charts, log rows, a backlog with backoff, dead letters (one with a
hostile payload and reason), operator actions and a replay.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bugzilla_push.cli import parse_enqueue_input
from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors.base import Outcome
from bugzilla_push.engine import Engine
from bugzilla_push.samples import BugzillaSimulator
from bugzilla_push.store import NewMessage
from bugzilla_push.store.operations import Operations
from bugzilla_push.store.replays import Replays, Selector
from tests.fakes import FakeClock, ScriptedConnector
from tests.support import run_cycle

if TYPE_CHECKING:
    from bugzilla_push.model import PushMessage
    from bugzilla_push.store import Store

# Markup that would run if the page ever put data into the DOM as HTML.
XSS_SUMMARY = '<script>window.__xss = "script"</script><img src=x onerror="window.__xss = \'img\'">'
XSS_REASON = "HTTP 400 from the destination: <img src=x onerror=\"window.__xss = 'reason'\"> rejected"
MIRROR_ERROR = "503 Service Unavailable from mirror.example.org"
STEP = timedelta(minutes=10)


@dataclass(frozen=True)
class Day:
    """What `seed_day` left behind, for the tests to look for.

    :param xss_message_id: the message whose bug summary is markup; dead-lettered for `file`
    :param xss_dead_letter_id: its dead letter
    :param malformed_message_id: a row that is not JSON; dead-lettered for both connectors
    :param bug_id: a bug with several messages, for the log's bug filter (and replayed)
    :param delivered: messages the file connector delivered live (not replayed)
    """

    xss_message_id: int
    xss_dead_letter_id: int
    malformed_message_id: int
    bug_id: int
    delivered: int


def xss_payload(bug_id: int, when: datetime) -> str:
    """A valid `bug.create` whose summary (and whiteboard) is markup."""
    event = {
        "action": "create",
        "target": "bug",
        "time": when.strftime("%Y-%m-%dT%H:%M:%S"),
        "user": {"id": 7, "login": "mallory@example.com", "real_name": "</pre><b>Mallory</b>"},
        "change_set": "31337.1",
        "routing_key": "bug.create",
    }
    bug = {
        "id": bug_id,
        "summary": XSS_SUMMARY,
        "whiteboard": "<iframe src=javascript:alert(1)>",
        "product": "Firefox",
        "component": "General",
        "status": "NEW",
        "is_private": False,
    }
    return json.dumps({"bug": bug, "event": event})


def seed_day(store: Store, end: datetime) -> Day:
    """Deliver a day of messages to `file` and `mirror`, ending at `end` (naive UTC)."""
    clock = FakeClock(end - timedelta(hours=24))
    start = clock.now
    sim = BugzillaSimulator(seed=5, private_ratio=0.05, start=start.replace(tzinfo=UTC))
    xss: list[int] = []

    def mirror_script(message: PushMessage, attempt: int) -> Outcome:
        hour = (clock.now - start) / timedelta(hours=1)
        down = 5 <= hour < 8 or hour >= 22.5  # an outage in the morning, and one going on now
        return Outcome.transient(MIRROR_ERROR) if down else Outcome.sent()

    def file_script(message: PushMessage, attempt: int) -> Outcome:
        return Outcome.rejected(XSS_REASON) if message.id in xss else Outcome.sent()

    file, mirror = ScriptedConnector("file", file_script), ScriptedConnector("mirror", mirror_script)
    # No jitter: the mirror's last attempt is at `end` and its next one 15 minutes later, so it is
    # backing off for as long as the tests look at it.
    engine = Engine(store, DeliveryConfig(chunk_size=50, backoff_jitter=0.0), clock=clock)
    ops = Operations(store, clock)
    malformed = bug_id = delivered = 0
    step = 0
    while clock.now <= end:
        hour = (clock.now - start) / timedelta(hours=1)
        busy = 1 + math.sin((hour - 8) / 24 * 2 * math.pi)  # quiet at night, busy in the afternoon
        messages = parse_enqueue_input("\n".join(json.dumps(m) for m in sim.messages(2 + round(6 * busy))))
        if step == 96:  # hour 16
            messages.append(NewMessage('{"bug": {"id": 1}, "event": {', "bug.modify:status", "4242.1"))
        if step == 120:  # hour 20
            messages.append(NewMessage(xss_payload(1_999_999, clock.now), "bug.create", "31337.1"))
        before = store.query("SELECT COALESCE(MAX(id), 0) FROM push")[0][0]
        store.enqueue(messages, clock.now)
        ids = [r[0] for r in store.query("SELECT id FROM push WHERE id > %(b)s ORDER BY id", {"b": before})]
        if step == 96:
            malformed = ids[-1]
        if step == 120:
            xss.append(ids[-1])
        if step == 36:  # hour 6: someone pauses the mirror during its outage …
            ops.pause("mirror", "alice", "mirror.example.org is being moved to a new rack")
        if step == 45:  # … and resumes it an hour and a half later
            ops.resume("mirror", "alice")
        if step == 72:  # hour 12: a replay of one bug's messages to the file
            first = json.loads(
                store.query("SELECT payload FROM push_archive ORDER BY message_id LIMIT 1")[0][0]
            )
            bug_id = first["bug"]["id"]  # the day's first bug: by now it has a history to replay
            Replays(store).create(clock.now, "bob", ["file"], Selector(bug_ids=(bug_id,)))
        reports, _ = run_cycle(engine, [file, mirror], owner=f"seed-{step}")
        delivered += reports["file"].sent
        clock.advance(STEP.total_seconds())
        step += 1
    dead = store.query(
        "SELECT id FROM push_dead_letter WHERE connector = 'file' AND message_id = %(m)s", {"m": xss[0]}
    )
    return Day(
        xss_message_id=xss[0],
        xss_dead_letter_id=dead[0][0],
        malformed_message_id=malformed,
        bug_id=bug_id,
        delivered=delivered,
    )
