"""Many connectors in one task (Bugzilla's webhooks): the batch read once, what is filtered out counted."""

from __future__ import annotations

from typing import TYPE_CHECKING
from unittest import mock

import pytest

from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors.base import ConnectorFatal, Outcome
from bugzilla_push.engine import Engine
from bugzilla_push.group_delivery import PerThread, deliver_group
from bugzilla_push.model import Result
from bugzilla_push.store import Store, open_store
from tests.fakes import ScriptedConnector
from tests.support import backlog_ids, enqueue_samples, log_rows

if TYPE_CHECKING:
    from pathlib import Path

    from bugzilla_push.model import PushMessage

CONFIG = DeliveryConfig(chunk_size=10)


class Quiet(ScriptedConnector):
    """A connector that, like Bugzilla's webhooks, logs nothing of what its filter turns down."""

    log_filtered = False


def counts(store: Store, name: str) -> tuple[int, int, int | None, str]:
    sent, ignored, through, state = store.query(
        "SELECT sent, ignored, through_id, state FROM push_run_connector WHERE connector = %(c)s", {"c": name}
    )[0]
    return sent, ignored, through, state


def test_a_group_reads_each_chunk_once_and_logs_only_what_its_quiet_connectors_sent(
    store: Store, tmp_path: Path
) -> None:
    ids = enqueue_samples(store, 30)
    wanted = {name: set(ids[i::3]) for i, name in enumerate(("a", "b", "c"))}
    connectors = {
        name: Quiet(name, accept=lambda m, keep=keep: m.id in keep) for name, keep in wanted.items()
    }
    engine = Engine(store, CONFIG)
    batch = engine.open_batch("run", list(connectors))
    stores: PerThread[Store] = PerThread(lambda: open_store(f"sqlite:///{tmp_path}/bugzilla.db"), Store.close)
    reads = mock.patch.object(Store, "batch_rows", autospec=True, side_effect=Store.batch_rows)

    with reads as spy:
        result = deliver_group(batch, {n: (lambda c=c: c) for n, c in connectors.items()}, stores, CONFIG, 2)
    stores.close()

    assert result.failed == {}
    assert spy.call_count == 4  # three chunks and the empty read after them, for all three connectors
    for name, connector in connectors.items():
        assert connector.received == sorted(wanted[name])
        assert log_rows(store, name) == [(i, Result.OK) for i in sorted(wanted[name])]
        assert counts(store, name) == (10, 20, ids[-1], "done")


@pytest.mark.parametrize("first_wanted", [20, 24])  # the first row of a chunk, or within one
def test_a_quiet_connector_stopped_by_a_fatal_error_keeps_only_what_it_had_not_reached(
    store: Store, first_wanted: int
) -> None:
    ids = enqueue_samples(store, 30)

    def fatal(message: PushMessage, attempt: int) -> Outcome:
        return Outcome.fatal("credentials rejected")

    quiet = Quiet("q", script=fatal, accept=lambda m: m.id >= ids[first_wanted])
    engine = Engine(store, CONFIG)

    with pytest.raises(ConnectorFatal):
        engine.deliver(engine.open_batch("run", ["q"]), quiet)

    # The filtered rows before it are accounted for (never logged); the rest waits in its backlog.
    assert backlog_ids(store, "q") == ids[first_wanted:]
    assert counts(store, "q")[1] == first_wanted
    assert [r for _, r in log_rows(store, "q")] == [Result.TRANSIENT]
