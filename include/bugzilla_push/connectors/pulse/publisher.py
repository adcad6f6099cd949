"""A publisher that keeps a window of unconfirmed messages in flight, on pika's `SelectConnection`.

pika's `BlockingConnection` with `confirm_delivery()` waits for the broker's confirm of each
message before it sends the next: one network round trip (and, for persistent messages, one disk
sync) per message. Here up to `window` messages are outstanding; `Basic.Ack` and `Basic.Nack`
frames (often with `multiple` set) settle them as they arrive. The I/O loop runs only inside
:meth:`ConfirmingPublisher.publish`, so the caller sees a plain blocking call; the connection and
channel stay open between calls.

Ordering: results are reported for the longest prefix of the publications that is settled; the
first one not confirmed (nacked, or in flight when the channel or connection went away) ends the
report, and everything from it on counts as not sent. A channel the broker closes because a
message was over its `max_message_size` is reopened, the unconfirmed tail is published again in
order, and the oversize message is refused without being sent.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from pika import SelectConnection, spec
from pika.adapters.select_connection import IOLoop
from pika.exceptions import AMQPError

from bugzilla_push.connectors.base import Outcome
from bugzilla_push.connectors.pulse.confirms import Publication, PublishReport, PublishRun
from bugzilla_push.connectors.pulse.errors import (
    Target,
    classify_channel_closed,
    classify_lost,
    classify_open_error,
    size_limit,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import pika
    from pika.channel import Channel
    from pika.frame import Method

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0  # seconds to wait for the broker's Connection.CloseOk before dropping the socket
SLICE = 64  # messages encoded per turn of the I/O loop: small enough that writing starts early


class ConfirmingPublisher:
    """Publishes to one exchange with pipelined publisher confirms.

    Not thread-safe: one caller at a time (the engine's connector lock guarantees it).

    :param parameters: pika connection parameters (host, vhost, credentials, heartbeat, TLS…)
    :param target: the connection's identity, for error messages; also names the exchange
    :param window: most messages unconfirmed at once; also the most sent twice after a lost connection
    :param confirm_timeout: seconds without any answer from the broker before giving up on the
        messages in flight (not counting time the broker blocks publishing)
    :param max_body: bodies larger than this are refused without sending (None: only the broker's limit)
    """

    def __init__(
        self,
        parameters: pika.ConnectionParameters,
        target: Target,
        window: int = 1000,
        confirm_timeout: float = 30.0,
        max_body: int | None = None,
    ) -> None:
        self.parameters = parameters
        self.target = target
        self.window = window
        self.confirm_timeout = confirm_timeout
        self.max_body = max_body
        self.broker_max_body: int | None = None  # learned from the broker's first size refusal
        self.connections_opened = 0  # statistics, for logs and tests
        self.peak_in_flight = 0
        self._ioloop: IOLoop | None = None
        self._conn: SelectConnection | None = None
        self._channel: Channel | None = None  # open, in confirm mode, exchange declared
        self._opening: Channel | None = None
        self._blocked = False
        self._tag = 0
        self._run: PublishRun | None = None
        self._pump_scheduled = False
        self._announce = False  # log the next channel that gets ready: a new connection's first
        self._watchdog_timer: object | None = None

    # -- the blocking API ---------------------------------------------------------------------

    def publish(self, items: Sequence[Publication]) -> PublishReport:
        """Publish `items` in order and wait for their confirms (see the module docstring)."""
        if not items:
            return PublishReport([])
        if self._ioloop is None:
            self._ioloop = IOLoop()
        self._notice_idle_close()
        run = self._run = PublishRun(items)
        self._watchdog_timer = self._ioloop.call_later(self.confirm_timeout, self._watchdog)
        try:
            if self._conn is None:
                self._connect()
            elif self._channel is None and self._opening is None:
                self._open_channel()
            self._wait(lambda: run.failure is not None or self._channel is not None)
            self._pump()
            self._wait(lambda: run.finished)
        except BaseException:
            self._abandon()
            raise
        finally:
            self._run = None
            if self._ioloop is not None and self._watchdog_timer is not None:
                self._ioloop.remove_timeout(self._watchdog_timer)
            self._watchdog_timer = None
        if run.drop_connection:
            self._shutdown()
        return run.report()

    def close(self) -> None:
        """Close the connection and the I/O loop; a later `publish` connects again."""
        try:
            self._shutdown()
        finally:
            if self._ioloop is not None:
                self._ioloop.close()
                self._ioloop = None

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.is_open

    # -- driving the I/O loop -------------------------------------------------------------------

    def _wait(self, done: Callable[[], bool]) -> None:
        """Run the I/O loop until `done()`; callbacks stop the loop whenever state changes."""
        assert self._ioloop is not None
        while not done():
            self._ioloop.start()

    def _wake(self) -> None:
        if self._ioloop is not None:
            self._ioloop.stop()

    def _notice_idle_close(self) -> None:
        """Read what arrived while idle: a broker that closed the connection is reconnected quietly."""
        if self._conn is None:
            return
        assert self._ioloop is not None
        self._ioloop.add_callback(self._ioloop.stop)
        self._ioloop.start()
        if self._conn is not None and not self._conn.is_open:
            self._shutdown()

    def _watchdog(self) -> None:
        run = self._run
        if run is None:
            return
        assert self._ioloop is not None
        quiet = time.monotonic() - run.progress_at
        if self._blocked or quiet < self.confirm_timeout:
            # A blocked connection has its own limit (blocked_connection_timeout, enforced by pika).
            self._watchdog_timer = self._ioloop.call_later(
                max(self.confirm_timeout - quiet, 0.5), self._watchdog
            )
            return
        if run.failure is None:
            run.failure = Outcome.transient(
                f"no answer from the broker at {self.target.address} within {self.confirm_timeout:g} s "
                "(confirm_timeout); the messages in flight are sent again"
            )
        run.lose_unconfirmed()
        run.drop_connection = True
        self._wake()

    # -- connection and channel -----------------------------------------------------------------

    def _connect(self) -> None:
        self._blocked = False
        self._conn = SelectConnection(
            self.parameters,
            on_open_callback=self._on_connection_open,
            on_open_error_callback=self._on_connection_open_error,
            on_close_callback=self._on_connection_closed,
            custom_ioloop=self._ioloop,
        )
        self._conn.add_on_connection_blocked_callback(self._on_blocked)
        self._conn.add_on_connection_unblocked_callback(self._on_unblocked)

    def _on_connection_open(self, conn: SelectConnection) -> None:
        if conn is self._conn:
            self.connections_opened += 1
            self._announce = True
            self._open_channel()

    def _on_connection_open_error(self, conn: SelectConnection, exc: BaseException) -> None:
        if conn is self._conn:
            self._conn = None
            self._fail(classify_open_error(exc, self.target))

    def _on_connection_closed(self, conn: SelectConnection, exc: BaseException) -> None:
        if conn is not self._conn:
            return  # one given up on earlier
        self._conn = self._channel = self._opening = None
        if self._run is not None:
            self._run.lose_unconfirmed()
            self._fail(classify_lost(exc, self.target))
        self._wake()

    def _on_blocked(self, conn: SelectConnection, frame: Method) -> None:
        self._blocked = True

    def _on_unblocked(self, conn: SelectConnection, frame: Method) -> None:
        self._blocked = False
        if self._run is not None:
            self._run.progress_at = time.monotonic()

    def _open_channel(self) -> None:
        assert self._conn is not None
        self._conn.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: Channel) -> None:
        self._opening = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._declare(channel))

    def _declare(self, channel: Channel) -> None:
        # Passive when not declaring: the broker answers 404 if the exchange is missing.
        channel.exchange_declare(
            self.target.exchange,
            exchange_type="topic",
            passive=not self.target.declare,
            durable=True,
            callback=lambda _frame: self._on_channel_ready(channel),
        )

    def _on_channel_ready(self, channel: Channel) -> None:
        if channel is not self._opening:
            return
        self._channel, self._opening, self._tag = channel, None, 0
        if self._announce:
            self._announce = False
            t = self.target
            log.info(
                "%s: connected to %s, vhost %r, exchange %r (%s), confirm window %d",
                t.conn_id,
                t.address,
                t.vhost,
                t.exchange,
                "declared" if t.declare else "exists",
                self.window,
            )
        if self._run is not None:
            self._run.progress_at = time.monotonic()
        self._pump()
        self._wake()

    def _on_channel_closed(self, channel: Channel, exc: BaseException) -> None:
        declaring = channel is self._opening
        if channel is not self._channel and not declaring:
            return
        self._channel = self._opening = None
        run = self._run
        if run is None or self._conn is None or not self._conn.is_open:
            return  # the connection is going down: its own callback reports why
        run.lose_unconfirmed()
        limit = None if declaring else size_limit(exc)
        if limit is not None:
            self.broker_max_body = limit
            if run.rewind(limit):
                self._open_channel()
                return
        self._fail(classify_channel_closed(exc, self.target, declaring))

    def _fail(self, failure: Outcome) -> None:
        if self._run is not None and self._run.failure is None:
            self._run.failure = failure
        self._wake()

    def _shutdown(self) -> None:
        """Close the connection politely; drop it if the broker does not answer in time."""
        conn = self._conn
        if conn is None or self._ioloop is None:
            self._conn = self._channel = self._opening = None
            return
        if not (conn.is_closing or conn.is_closed):
            conn.close()  # while still opening, this aborts the attempt
        timer = self._ioloop.call_later(CLOSE_TIMEOUT, self._abandon)
        self._wait(lambda: self._conn is not conn)
        self._ioloop.remove_timeout(timer)

    def _abandon(self) -> None:
        """Forget the connection (its late callbacks are ignored); the next publish opens a new one."""
        self._conn = self._channel = self._opening = None
        self._wake()

    # -- publishing -----------------------------------------------------------------------------

    def _limit(self) -> int | None:
        limits = [x for x in (self.max_body, self.broker_max_body) if x is not None]
        return min(limits) if limits else None

    def _pump(self) -> None:
        """Publish until the window is full, everything is sent, or something failed.

        At most `SLICE` messages at a time: the rest is published from the I/O loop's next turn, after
        the socket took what was written, so the broker works while the next slice is encoded.
        """
        run, channel = self._run, self._channel
        if run is None or channel is None:
            return
        limit = self._limit()
        exchange = self.target.exchange
        budget = SLICE
        while run.failure is None and run.next < len(run.items) and len(run.outstanding) < self.window:
            if budget == 0:
                if not self._pump_scheduled and self._ioloop is not None:
                    self._pump_scheduled = True
                    self._ioloop.add_callback(self._scheduled_pump)
                return
            index = run.next
            item = run.items[index]
            run.next += 1
            if item.rejected is not None:
                run.results[index] = Outcome.rejected(item.rejected)
                continue
            if limit is not None and len(item.body) > limit:
                run.results[index] = Outcome.rejected(
                    f"message is {len(item.body):,} bytes, over the broker's limit of {limit:,} "
                    "(RabbitMQ max_message_size, or the connection's max_message_bytes)",
                )
                continue
            try:
                channel.basic_publish(exchange, item.routing_key, item.body, item.properties)
            except AMQPError as exc:
                run.next = index
                self._fail(classify_lost(exc, self.target))
                break
            self._tag += 1
            run.outstanding[self._tag] = index
            run.order.append(self._tag)
            self.peak_in_flight = max(self.peak_in_flight, len(run.outstanding))
            budget -= 1
        if run.finished:
            self._wake()

    def _scheduled_pump(self) -> None:
        self._pump_scheduled = False
        self._pump()

    def _on_confirm(self, frame: Method) -> None:
        run = self._run
        if run is None or frame.channel_number != getattr(self._channel, "channel_number", None):
            return
        method = frame.method
        run.settle(method.delivery_tag, method.multiple, isinstance(method, spec.Basic.Ack))
        self._pump()
