"""Delivering many connectors in one task: a bounded pool of threads, each with its own store.

Hundreds of Bugzilla webhooks cannot each be a task (a process start and a scheduler hop per
webhook per run). Here each connector still goes through :meth:`Engine.deliver` — its own lock,
order, backlog, backoff, dead letters and pause — but up to `workers` at once, so a receiver that
hangs holds one worker for its timeout and delays no other. The batch is read and parsed once for
all of them (:class:`~bugzilla_push.shared_batch.SharedBatch`). Each worker thread opens one store
when it first needs it and keeps it for the run: never more database connections than workers.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from bugzilla_push.connectors.base import ConnectorConfigError, ConnectorFatal, redact
from bugzilla_push.engine import Engine
from bugzilla_push.shared_batch import SharedBatch

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from bugzilla_push.config import DeliveryConfig
    from bugzilla_push.connectors.base import Connector
    from bugzilla_push.reports import DeliveryReport
    from bugzilla_push.store import Batch, Store

log = logging.getLogger(__name__)

T = TypeVar("T")


class PerThread(Generic[T]):
    """One object per thread, made on first use by `make`, all closed by :meth:`close`.

    :param make: opens one (a store, a reader)
    :param close: closes one
    """

    def __init__(self, make: Callable[[], T], close: Callable[[T], None]) -> None:
        self._make, self._close = make, close
        self._local = threading.local()
        self._all: list[T] = []
        self._guard = threading.Lock()

    def get(self) -> T:
        item = getattr(self._local, "item", None)
        if item is None:
            item = self._local.item = self._make()
            with self._guard:
                self._all.append(item)
        return item

    def discard(self) -> None:
        """Close this thread's object (after an error it may be broken); the next `get` makes another."""
        item = getattr(self._local, "item", None)
        if item is not None:
            self._local.item = None
            with self._guard:
                self._all.remove(item)
            with contextlib.suppress(Exception):
                self._close(item)

    def close(self) -> None:
        with self._guard:
            items, self._all = self._all, []
        for item in items:
            with contextlib.suppress(Exception):  # a broken connection may fail to close; it is gone
                self._close(item)


@dataclass
class GroupReport:
    """What a group delivery did: a report per connector that ran, the error of each that failed."""

    reports: list[DeliveryReport] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def deliver_group(
    batch: Batch,
    builders: Mapping[str, Callable[[], Connector]],
    stores: PerThread[Store],
    config: DeliveryConfig,
    workers: int,
    pool: ThreadPoolExecutor | None = None,
    sample: bool = True,
) -> GroupReport:
    """Deliver each named connector (built by its builder) with :meth:`Engine.deliver`, `workers` at once.

    A connector that cannot be built, fails connector-fatally or breaks its worker's store is only
    listed in `failed` (the engine has kept its messages); the others are not affected. `pool`: run
    on these threads (of `workers`), kept across the batches of a lingering run.
    """
    result = GroupReport()
    lock = threading.Lock()
    shared = SharedBatch(config.max_payload_bytes)

    def one(name: str) -> None:
        try:
            with builders[name]() as connector:
                report = Engine(stores.get(), config, shared=shared).deliver(batch, connector, sample)
        except (ConnectorConfigError, ConnectorFatal) as exc:  # connector-fatal includes self-pause
            error = redact(str(exc))
        except Exception as exc:  # one webhook's crash must not end the others'
            stores.discard()
            error = redact(f"{type(exc).__name__}: {exc}")
            log.exception("%s: delivery failed", name)
        else:
            with lock:
                result.reports.append(report)
            return
        log.warning("%s: %s", name, error)
        with lock:
            result.failed[name] = error

    if builders and pool is not None:  # the caller's threads, and so their stores, serve batch after batch
        list(pool.map(one, builders))
    elif builders:
        size = min(workers, len(builders))
        with ThreadPoolExecutor(max_workers=size, thread_name_prefix="deliver") as own:
            list(own.map(one, builders))
    result.reports.sort(key=lambda r: r.connector)
    return result
