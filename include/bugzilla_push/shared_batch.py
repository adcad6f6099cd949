"""A batch's rows read and parsed once for many connectors delivered together (:mod:`.group_delivery`).

Every one of hundreds of Bugzilla webhooks goes through the same batch, a chunk at a time. Alone,
each would read every chunk from the database and parse every payload again: the same work
hundreds of times. Here the first connector to ask for a chunk reads it and parses its rows; the
others get the same objects. Messages are shared read-only (connectors build their payloads anew,
a decoded body is cached on its message).

Chunks are kept for the whole delivery, up to :data:`BUDGET_BYTES` of payload text; past it, a
chunk is read and parsed by each connector as before, so a huge batch costs time, not memory.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from bugzilla_push.model import InvalidMessage, PushMessage, parse_message

if TYPE_CHECKING:
    from bugzilla_push.model import PushRow
    from bugzilla_push.store import Batch, Store

# 32 MiB of payloads: a 10,000-message batch of ~1.5 KB messages (15 MB) is shared whole; decoded
# bodies take about three times the text in Python objects.
BUDGET_BYTES = 32 * 1024 * 1024


class _Chunk:
    __slots__ = ("lock", "rows")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[PushRow] | None = None


class SharedBatch:
    """Chunks of one batch, each read from the store and parsed once; thread-safe.

    :param max_payload_bytes: the delivery config's limit (a longer payload is an invalid message)
    :param budget_bytes: payload text kept at most
    """

    def __init__(self, max_payload_bytes: int, budget_bytes: int = BUDGET_BYTES) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.budget_bytes = budget_bytes
        self.kept_bytes = 0
        self.reads = 0  # chunks read from the database (tests and logs)
        self._chunks: dict[tuple[int, int, int], _Chunk] = {}
        self._parsed: dict[int, tuple[PushRow, PushMessage | str]] = {}  # id → (row, message or why invalid)
        self._lock = threading.Lock()

    def rows(self, store: Store, batch: Batch, after_id: int, limit: int) -> list[PushRow]:
        """Return :meth:`Store.batch_rows` of this chunk: read by the first connector to ask for it."""
        key = (batch.id, after_id, limit)
        with self._lock:
            chunk = self._chunks.get(key)
            if chunk is None and self.kept_bytes < self.budget_bytes:
                chunk = self._chunks[key] = _Chunk()
        if chunk is None:  # over budget: this connector reads its own
            return store.batch_rows(batch, after_id, limit)
        with chunk.lock:  # the others wait for the one reading it
            if chunk.rows is None:
                rows = store.batch_rows(batch, after_id, limit)
                parsed = {row.id: (row, self._parse(row)) for row in rows}
                with self._lock:
                    self._parsed.update(parsed)
                    self.kept_bytes += sum(len(row.payload) for row in rows)
                    self.reads += 1
                chunk.rows = rows
            return chunk.rows

    def message(self, row: PushRow, max_payload_bytes: int) -> PushMessage:
        """Return the row's message, parsed once; raise :class:`InvalidMessage` as `parse_message` does."""
        found = self._parsed.get(row.id) if max_payload_bytes == self.max_payload_bytes else None
        if found is None or found[0] is not row:
            return parse_message(row, max_payload_bytes)  # a row not read here (a backlog row)
        if isinstance(found[1], str):
            raise InvalidMessage(found[1])
        return found[1]

    def _parse(self, row: PushRow) -> PushMessage | str:
        try:
            return parse_message(row, self.max_payload_bytes)
        except InvalidMessage as exc:
            return str(exc)
