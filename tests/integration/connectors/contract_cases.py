"""The connectors of the contract suite (:mod:`test_contract`): each one's service, and what it can do.

A :class:`Destination` is a connector's real server or test double as one test sees it: it builds
the connector from a connection, reads back what arrived, and provokes each kind of failure. A new
connector joins the suite with a :class:`Destination` and one :class:`Case` in :data:`CASES`.
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from bugzilla_push.connectors import ConnectionInfo, build_connector
from tests.support import delivered_ids

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from bugzilla_push.connectors.base import Connector
    from bugzilla_push.store import Store
    from tests.doubles.elasticsearch_server import EsTestServer
    from tests.doubles.webhook_receiver import Reply, Request, WebhookReceiver
    from tests.elasticsearch_support import Target
    from tests.integration.connectors.pulse.support import BoundQueue


class Destination(ABC):
    """A connector's real service or test double, as one test sees it.

    :param name: the connector's name (its connection id)
    """

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    def connector(self) -> Connector:
        """Build the connector from its connection, as each DAG run does."""

    @abstractmethod
    def received(self) -> list[int]:
        """Return the push ids the destination took, in arrival order, re-sent copies included."""

    def kept(self) -> list[int]:
        """Return the push ids a consumer keeps, in order, once it drops copies by push id."""
        return list(dict.fromkeys(self.received()))

    @abstractmethod
    def break_down(self) -> None:
        """Start an outage that may end by itself: refuse, transiently, the next message or request
        offered, or everything until :meth:`heal` (then a connector that went on is not caught)."""

    @abstractmethod
    def heal(self) -> None:
        """End any outage or refusal this test started."""

    def refuse(self, store: Store, push_id: int, position: int) -> str:
        """Make message `push_id` (the `position`-th of its run) undeliverable; return its reason's text."""
        raise NotImplementedError(f"{self.name} has no message-fatal input (see its Features)")

    def break_for_good(self) -> str:
        """Refuse everything until an operator acts; return what the error says."""
        raise NotImplementedError(f"{self.name} has no connector-fatal failure (see its Features)")


class FileDestination(Destination):
    """A JSON-lines file in a directory of the test's own; an outage is the directory gone."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__("file")
        self.directory = tmp_path / "out"
        self.moved = tmp_path / "out.unmounted"
        self.path = self.directory / "file.jsonl"

    def connector(self) -> Connector:
        return build_connector(ConnectionInfo(self.name, "fs", extra={"path": str(self.path)}))

    def received(self) -> list[int]:
        return delivered_ids((self.moved if self.moved.exists() else self.directory) / self.path.name)

    def break_down(self) -> None:
        # A plain file where the directory was: as an unmounted volume, nothing can be written.
        self.directory.rename(self.moved)
        self.directory.write_text("")

    def heal(self) -> None:
        if self.moved.exists():
            self.directory.unlink()
            self.moved.rename(self.directory)


class PulseDestination(Destination):
    """The real RabbitMQ; a bound queue with a length limit reads back what was published.

    A full queue makes the broker nack what comes next (an outage until a consumer makes room).
    Connectors never declare the exchange, so deleting it is a configuration only an operator fixes.
    """

    LIMIT = 50_000  # max_message_bytes: a message over it is dead-lettered unsent
    ROOM = 50  # messages the queue holds before the broker refuses more
    FILLER = "0"  # the message_id of what fills the queue (push ids start at 1)

    def __init__(self, queue: BoundQueue) -> None:
        super().__init__("pulse")
        self.queue = queue
        self.drained: list[int] = []

    def connector(self) -> Connector:
        from tests.integration.connectors.pulse.support import pulse_info

        return build_connector(
            pulse_info(self.name, self.queue.exchange, declare=False, max_message_bytes=self.LIMIT)
        )

    def received(self) -> list[int]:
        self.drained += [m.message_id for m in self.queue.drain() if m.message_id != int(self.FILLER)]
        return list(self.drained)

    def break_down(self) -> None:
        import pika

        from tests.integration.connectors.pulse.support import blocking

        with blocking() as conn:
            channel = conn.channel()
            channel.confirm_delivery()
            for _ in range(self.ROOM - self.queue.depth()):
                channel.basic_publish(
                    self.queue.exchange, "filler", b"{}", pika.BasicProperties(message_id=self.FILLER)
                )

    def heal(self) -> None:
        self.queue.declare()  # the exchange and binding, if deleted
        self.received()  # a consumer makes room

    def refuse(self, store: Store, push_id: int, position: int) -> str:
        [(payload,)] = store.query("SELECT payload FROM push WHERE id = %(i)s", {"i": push_id})
        body = json.loads(payload)
        body[body["event"]["target"]]["padding"] = "x" * (2 * self.LIMIT)
        with store.transaction() as cur:
            store.execute(
                cur, "UPDATE push SET payload = %(p)s WHERE id = %(i)s", {"p": json.dumps(body), "i": push_id}
            )
        return f"over the broker's limit of {self.LIMIT:,}"

    def break_for_good(self) -> str:
        from tests.integration.connectors.pulse.support import blocking

        with blocking() as conn:
            conn.channel().exchange_delete(self.queue.exchange)
        return "does not exist"


class ElasticsearchDestination(Destination):
    """The Elasticsearch test double; it records every bulk item and its answer.

    A push id is the external version of the documents its message writes: an item answered 2xx
    was applied, one answered 409 was refused as already there (a re-send).
    """

    def __init__(self, double: EsTestServer, target: Target) -> None:
        super().__init__("elasticsearch")
        self.double = double
        self.target = target

    def connector(self) -> Connector:
        return build_connector(self.target.connection(self.name, retries=0))

    def _versions(self, taken: Callable[[int], bool]) -> list[int]:
        out: list[int] = []
        for request in self.double.bulk_requests():
            if request.status is None or not 200 <= request.status < 300:
                continue  # refused whole: nothing of it was applied
            answered = zip(request.items, request.item_statuses, strict=True)
            # A message's items share its version, the push id: one entry per message.
            out += dict.fromkeys(
                item[3] for item, status in answered if taken(status) and item[3] is not None
            )
        return out

    def received(self) -> list[int]:
        return self._versions(lambda status: 200 <= status < 300 or status == 409)

    def kept(self) -> list[int]:
        return self._versions(lambda status: 200 <= status < 300)

    def break_down(self) -> None:
        self.double.faults.fail_requests(503, path="_bulk")  # the next bulk request only

    def heal(self) -> None:
        self.double.faults.clear()

    def refuse(self, store: Store, push_id: int, position: int) -> str:
        # One action per message, one bulk request per run: the item's position is the message's.
        self.double.faults.reject_items(400, positions=(position,))
        return "400 document_parsing_exception"

    def break_for_good(self) -> str:
        self.double.faults.fail_requests(401, path="/", times=None)
        return "401"


class WebhookDestination(Destination):
    """The webhook receiver double: real HTTP on loopback, answering as the test scripts it."""

    def __init__(self, receiver: WebhookReceiver) -> None:
        super().__init__("webhook_contract")
        self.receiver = receiver
        self.down: int | None = None  # the status every request gets until healed
        self.blip = False  # the next request gets a 503, the ones after it are taken again
        self.refused: set[int] = set()
        receiver.script = self._answer

    def _answer(self, request: Request) -> Reply:
        from tests.doubles.webhook_receiver import Reply

        if request.push_id in self.refused:
            return Reply(400, '{"error": "unknown field bug.severity"}')
        if self.blip:
            self.blip = False
            return Reply(503, '{"error": "maintenance"}')
        return Reply(self.down or 200)

    def connector(self) -> Connector:
        from tests.integration.connectors.webhook.support import webhook

        return webhook(self.receiver.url(), name=self.name)

    def received(self) -> list[int]:
        return [r.push_id for r in self.receiver.accepted()]

    def break_down(self) -> None:
        self.blip = True

    def heal(self) -> None:
        self.down, self.blip, self.refused = None, False, set()

    def refuse(self, store: Store, push_id: int, position: int) -> str:
        self.refused.add(push_id)
        return "HTTP 400"

    def break_for_good(self) -> str:
        self.down = 401
        return "rejects our credentials"


@contextlib.contextmanager
def open_file(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Destination]:
    yield FileDestination(tmp_path)


@contextlib.contextmanager
def open_pulse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Destination]:
    from tests.integration.connectors.pulse.support import BoundQueue, unique

    request.getfixturevalue("rabbitmq")  # the broker is up, and shared with other tests for this one
    limit = {"x-max-length": PulseDestination.ROOM, "x-overflow": "reject-publish"}
    queue = BoundQueue(unique("exchange/guest/contract"), unique("bp-contract"), arguments=limit).declare()
    try:
        yield PulseDestination(queue)
    finally:
        queue.delete()


@contextlib.contextmanager
def open_elasticsearch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Destination]:
    from tests.doubles.elasticsearch_server import EsTestServer
    from tests.elasticsearch_support import Target

    with EsTestServer() as double:
        yield ElasticsearchDestination(double, Target(double.url))


@contextlib.contextmanager
def open_webhook(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Destination]:
    yield WebhookDestination(request.getfixturevalue("receiver"))


@dataclass(frozen=True)
class Features:
    """What a destination can be made to do, as Watermill's `tests.Features`.

    :param refuses_one_message: it can refuse one message for good and take the rest (message-fatal)
    :param fails_as_a_whole: it can refuse everything until an operator acts (connector-fatal)
    """

    refuses_one_message: bool = True
    fails_as_a_whole: bool = True


@dataclass(frozen=True)
class Case:
    """One connector in the contract suite.

    :param open: a context manager giving the test's :class:`Destination` (fixtures through `request`)
    :param harmless: why a message sent twice does no harm there (the consumer's view of a re-send)
    """

    name: str
    open: Callable[[pytest.FixtureRequest, Path], contextlib.AbstractContextManager[Destination]]
    harmless: str
    features: Features = Features()


CASES = [
    Case(
        "file",
        open_file,
        "a reader keeps the first line of each push_id",
        Features(
            # Any message the engine hands over is valid JSON and becomes one line; invalid input is
            # dead-lettered by the engine before a connector sees it.
            refuses_one_message=False,
            # Every write error (a full disk, a missing mount) may clear by itself, so the file
            # connector reports it transient: nothing it meets needs an operator.
            fails_as_a_whole=False,
        ),
    ),
    Case(
        "pulse",
        open_pulse,
        "a consumer drops a message whose message_id (the push id) it has seen",
    ),
    Case(
        "elasticsearch",
        open_elasticsearch,
        "the cluster refuses a version it already has (409): no document changes",
    ),
    Case("webhook", open_webhook, "receivers drop a request whose X-Bugzilla-Push-Id they have seen"),
]


def cases(*needs: str) -> list[Any]:
    """The cases that have every feature in `needs`, as pytest parameters (the others are not generated)."""
    return [
        pytest.param(case, id=case.name)
        for case in CASES
        if all(getattr(case.features, need) for need in needs)
    ]
