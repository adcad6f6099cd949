"""Self-pause and the run's verdict are engine policy: shown with the file connector and a fake, on SQLite.

`pause_after_failures` is an option of every connector's extra; nothing in these connectors knows
about pausing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.connectors import ConnectionInfo, build_connector
from bugzilla_push.engine import SELF, ConnectorPaused, Engine
from bugzilla_push.model import Result
from bugzilla_push.reports import DeliveryState
from tests.fakes import FakeClock, ScriptedConnector, always
from tests.support import backlog_ids, deliver_after_backoff, enqueue_samples

if TYPE_CHECKING:
    from pathlib import Path

    from bugzilla_push.store import Store


def test_the_engine_pauses_a_file_connector_after_its_pause_after_failures_and_keeps_every_message(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    target = tmp_path / "out.jsonl"
    target.mkdir()  # a directory where the file should be: every write fails (transient)
    extra = {"path": str(target), "pause_after_failures": 2}
    file = build_connector(ConnectionInfo("file", "fs", extra=extra))
    assert file.pause_after == 2
    ids = enqueue_samples(store, 5)

    for _ in range(2):
        assert deliver_after_backoff(store, clock, file).state == DeliveryState.BACKING_OFF
    with pytest.raises(ConnectorPaused) as paused:
        deliver_after_backoff(store, clock, file)

    assert str(paused.value).startswith(
        "file connector paused after 2 consecutive failed deliveries (pause_after_failures=2); "
        f"last: cannot write {target}"
    )
    state = store.connector_state("file")
    assert (state.paused, state.changed_by) == (True, SELF)
    assert backlog_ids(store, "file") == ids

    target.rmdir()  # the operator fixes the cause: paused, the connector still sends nothing
    assert deliver_after_backoff(store, clock, file).state == DeliveryState.PAUSED
    assert not target.exists()
    store.set_paused("file", False, "admin", clock.now)
    assert deliver_after_backoff(store, clock, file).state == DeliveryState.DONE
    assert [json.loads(line)["push_id"] for line in target.read_text().splitlines()] == ids


def test_without_the_option_a_connector_never_pauses(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.mkdir()
    file = build_connector(ConnectionInfo("file", "fs", extra={"path": str(target)}))
    assert file.pause_after == 0
    enqueue_samples(store, 3)
    for attempt in range(1, 8):
        assert deliver_after_backoff(store, clock, file).state == DeliveryState.BACKING_OFF
        assert store.backoff("file").attempts == attempt
    assert store.connector_state("file") is None


def test_a_run_of_dead_letters_from_any_connector_holds_the_rest_back(store: Store, clock: FakeClock) -> None:
    fake = ScriptedConnector.from_connection(
        ConnectionInfo("mirror", "scripted", extra={"pause_after_failures": 3})
    )
    fake.script = always(Result.ERROR, "refused")
    ids = enqueue_samples(store, 10)

    report = deliver_after_backoff(store, clock, fake)

    assert (report.dead, report.state) == (3, DeliveryState.BACKING_OFF)
    assert sum(fake.attempts.values()) == 3  # the fourth was never offered
    assert backlog_ids(store, "mirror") == ids[3:]
    assert "3 deliveries in a row failed (last: refused)" in report.error


def test_with_a_limit_the_connector_is_offered_no_more_per_call_than_may_still_fail(
    store: Store, clock: FakeClock
) -> None:
    fake = ScriptedConnector("mirror")
    fake.pause_after = 3
    ids = enqueue_samples(store, 10)
    assert deliver_after_backoff(store, clock, fake).sent == 10
    assert fake.received == ids
    assert fake.calls == 4  # 3 + 3 + 3 + 1


def test_finalize_fails_the_run_for_connectors_without_a_report_but_not_for_those_paused_before(
    store: Store, clock: FakeClock
) -> None:
    enqueue_samples(store, 4)
    store.set_paused("paused_by_admin", True, "admin", clock.now, reason="maintenance")
    engine = Engine(store, clock=clock)
    names = ["ok", "broken", "paused_by_admin", "paused_by_engine"]
    batch = engine.open_batch("test-run", names)
    report = engine.deliver(batch, ScriptedConnector("ok")).to_dict()
    assert report["state"] == "done"
    assert type(report["state"]) is str  # XCom gets plain strings
    store.set_paused("paused_by_engine", True, SELF, clock.now, reason="too many failures")

    result = engine.finalize(batch, [report, None, None, None])

    assert result.failed == ["broken", "paused_by_engine"]
    assert result.paused == ["paused_by_admin"]
    assert result.held == {"broken": 4, "paused_by_admin": 4, "paused_by_engine": 4}
