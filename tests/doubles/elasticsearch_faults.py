"""TEST DOUBLE: the faults the Elasticsearch double injects when a test asks for them.

Item faults answer chosen bulk items with a status (429, 400, 403, 503…) and leave them unapplied;
request faults answer a whole request with a status, answer it late (after applying it), or drop
the connection (without applying it). Each fault is used `times` times (None: for ever). A fault
given `when` waits, unused, until that condition holds as a request meets it (then it stays
armed): the chaos harness arms a fault for "once the connector has made progress again".
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

ITEM_ERRORS = {
    400: ("document_parsing_exception", "[1:2] failed to parse: injected by the test double"),
    403: (
        "security_exception",
        "action [indices:data/write/bulk[s]] is unauthorized for user [bugzilla] with effective roles "
        "[reader], this action is granted by the index privileges [create_doc,create,delete,index,write,all]",
    ),
    404: ("index_not_found_exception", "no such index [injected]"),
    429: (
        "es_rejected_execution_exception",
        "rejected execution of coordinating operation [coordinating_and_primary_bytes=104857600, "
        "replica_bytes=0, all_bytes=104857600, coordinating_operation_bytes=2048, "
        "max_coordinating_and_primary_bytes=104857600]",
    ),
    500: ("exception", "injected by the test double"),
    503: ("unavailable_shards_exception", "[0] primary shard is not active Timeout: [1m]"),
}
REQUEST_ERRORS = {
    401: ("security_exception", "unable to authenticate user [bugzilla] for REST request [{path}]"),
    403: ("security_exception", "action [{path}] is unauthorized for user [bugzilla]"),
    429: ("circuit_breaking_exception", "[parent] Data too large, data for [<http_request>] would be larger"),
    500: ("exception", "injected by the test double"),
    502: ("exception", "bad gateway (injected)"),
    503: ("master_not_discovered_exception", "injected by the test double"),
}


@dataclass
class ItemFault:
    """Fail matching bulk items with `status` (they are not applied), `times` times (None: always)."""

    status: int
    positions: frozenset[int] = frozenset()
    doc_ids: frozenset[str] = frozenset()
    index: str | None = None
    times: int | None = 1
    when: Callable[[], bool] | None = None

    def matches(self, position: int, meta: dict[str, Any]) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return (
            position in self.positions
            or str(meta.get("_id")) in self.doc_ids
            or (self.index is not None and meta.get("_index") == self.index)
        ) and _armed(self)


@dataclass
class RequestFault:
    """A whole request answered with a status, answered late, or dropped."""

    kind: str  # status | delay | drop
    path: str  # matches requests whose path contains it
    status: int = 503
    seconds: float = 0.0
    times: int | None = 1
    after: int = 0  # let this many matching requests through first
    when: Callable[[], bool] | None = None


def _armed(fault: ItemFault | RequestFault) -> bool:
    """True once the fault's condition has held (checked only while it has not)."""
    if fault.when is not None:
        if not fault.when():
            return False
        fault.when = None
    return True


@dataclass
class Faults:
    """What goes wrong, set by tests; thread-safe."""

    items: list[ItemFault] = field(default_factory=list)
    requests: list[RequestFault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reject_items(
        self,
        status: int = 429,
        *,
        positions: tuple[int, ...] = (),
        doc_ids: tuple[str, ...] = (),
        index: str | None = None,
        times: int | None = 1,
        when: Callable[[], bool] | None = None,
    ) -> None:
        """Fail bulk items at these 0-based positions of a request, with these ids, or on this index."""
        with self.lock:
            self.items.append(
                ItemFault(status, frozenset(positions), frozenset(map(str, doc_ids)), index, times, when)
            )

    def fail_requests(
        self,
        status: int = 503,
        *,
        path: str = "_bulk",
        times: int | None = 1,
        after: int = 0,
        when: Callable[[], bool] | None = None,
    ) -> None:
        """Answer whole requests whose path contains `path` with `status` (nothing is applied)."""
        with self.lock:
            self.requests.append(
                RequestFault("status", path, status=status, times=times, after=after, when=when)
            )

    def delay_responses(
        self, seconds: float, *, path: str = "_bulk", times: int | None = 1, after: int = 0
    ) -> None:
        """Apply matching requests but answer `seconds` late (or when the server stops)."""
        with self.lock:
            self.requests.append(RequestFault("delay", path, seconds=seconds, times=times, after=after))

    def drop_connections(self, *, path: str = "_bulk", times: int | None = 1, after: int = 0) -> None:
        """Read matching requests, apply nothing, and close the connection without an answer."""
        with self.lock:
            self.requests.append(RequestFault("drop", path, times=times, after=after))

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.requests.clear()

    def take_request_fault(self, path: str) -> RequestFault | None:
        with self.lock:
            for fault in self.requests:
                if fault.path in path and (fault.times is None or fault.times > 0) and _armed(fault):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def take_item_fault(self, position: int, meta: dict[str, Any]) -> int | None:
        with self.lock:
            for fault in self.items:
                if fault.matches(position, meta):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault.status
        return None
