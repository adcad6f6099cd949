"""A batch read and parsed once for the connectors of a group delivery."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

from bugzilla_push.model import InvalidMessage, PushRow
from bugzilla_push.shared_batch import SharedBatch
from bugzilla_push.store import Batch
from tests.unit.connectors.webhook.messages import bug, message, payload

if TYPE_CHECKING:
    from bugzilla_push.store import Store

LIMIT = 1 << 20


class CountingStore:
    """Hands out fresh row objects on every read, as a database does, and counts the reads."""

    def __init__(self, payloads: list[str]) -> None:
        self.payloads = payloads
        self.reads = 0

    def batch_rows(self, batch: Any, after_id: int, limit: int) -> list[PushRow]:
        self.reads += 1
        chosen = list(enumerate(self.payloads, 1))[after_id : after_id + limit]
        return [PushRow(i, datetime(2026, 1, 1), p, "cs", "bug.create") for i, p in chosen]


def payloads(count: int) -> list[str]:
    return [message(payload("bug", bug(100 + i))).row.payload for i in range(count)]


def test_each_chunk_is_read_and_each_row_parsed_once_for_every_connector() -> None:
    store = CountingStore(payloads(5))
    shared, batch = SharedBatch(LIMIT), Batch.empty([], [], "run", datetime(2026, 1, 1))

    first = shared.rows(_store(store), batch, 0, 3)
    again = shared.rows(_store(store), batch, 0, 3)
    rest = shared.rows(_store(store), batch, 3, 3)

    assert again is first
    assert [r.id for r in first + rest] == [1, 2, 3, 4, 5]
    assert (store.reads, shared.reads) == (2, 2)
    assert shared.message(first[0], LIMIT) is shared.message(first[0], LIMIT)
    # A row read elsewhere (a backlog row) is parsed on its own, never mistaken for a shared one.
    other = store.batch_rows(batch, 0, 1)[0]
    assert shared.message(other, LIMIT) is not shared.message(first[0], LIMIT)
    assert shared.message(other, LIMIT).id == 1


def test_an_invalid_row_is_invalid_for_every_connector() -> None:
    store = CountingStore(["not json"])
    shared, batch = SharedBatch(LIMIT), Batch.empty([], [], "run", datetime(2026, 1, 1))
    row = shared.rows(_store(store), batch, 0, 10)[0]

    for _ in range(2):
        with pytest.raises(InvalidMessage, match="not valid JSON"):
            shared.message(row, LIMIT)


def test_past_its_budget_each_connector_reads_its_own_chunks() -> None:
    store = CountingStore(payloads(4))
    shared, batch = SharedBatch(LIMIT, budget_bytes=1), Batch.empty([], [], "run", datetime(2026, 1, 1))

    kept = shared.rows(_store(store), batch, 0, 2)
    assert shared.rows(_store(store), batch, 0, 2) is kept  # kept before the budget ran out
    read_twice = [shared.rows(_store(store), batch, 2, 2) for _ in range(2)]

    assert read_twice[0] is not read_twice[1]
    assert [r.id for r in read_twice[0]] == [3, 4]
    assert (store.reads, shared.reads) == (3, 1)


def _store(fake: CountingStore) -> Store:
    return fake  # type: ignore[return-value]
