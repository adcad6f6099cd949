"""The bookkeeping of pipelined confirms (one publish call), without a broker.

Delivery tags count publishes on a channel from 1; `multiple` settles every tag up to the given one.
"""

from __future__ import annotations

import pika

from bugzilla_push.connectors.base import Outcome
from bugzilla_push.connectors.pulse.confirms import Publication, PublishRun

SENT = Outcome.sent()


def publications(*sizes: int) -> list[Publication]:
    return [Publication("bug.create", b"x" * size, pika.BasicProperties()) for size in sizes]


def published(run: PublishRun, count: int, first_tag: int = 1) -> None:
    """Pretend the next `count` publications went out, as the publisher records them."""
    for tag in range(first_tag, first_tag + count):
        run.outstanding[tag] = run.next
        run.order.append(tag)
        run.next += 1


def test_multiple_acks_settle_every_tag_up_to_the_one_given() -> None:
    run = PublishRun(publications(1, 1, 1, 1, 1))
    published(run, 5)
    run.settle(3, multiple=True, ok=True)
    assert run.results == [SENT, SENT, SENT, None, None]
    assert list(run.outstanding) == [4, 5]
    run.settle(5, multiple=False, ok=True)  # out of order: 4 is still unconfirmed
    report = run.report()
    assert report.outcomes == [SENT, SENT, SENT]
    assert report.failure is not None
    assert not report.failure.connector_fatal
    run.settle(4, multiple=False, ok=True)
    assert run.finished
    assert run.report().outcomes == [SENT] * 5
    assert run.report().failure is None


def test_a_nack_stops_the_report_at_the_refused_message_even_if_later_ones_were_acked() -> None:
    run = PublishRun(publications(1, 1, 1, 1))
    published(run, 4)
    run.settle(1, multiple=False, ok=True)
    run.settle(2, multiple=False, ok=False)
    run.settle(4, multiple=True, ok=True)
    report = run.report()
    assert report.outcomes == [SENT]
    assert report.failure is not None
    assert "nack" in report.failure.detail
    assert run.finished  # nothing in flight, and a failure: no more publishing


def test_a_lost_channel_leaves_everything_unconfirmed_as_not_sent() -> None:
    run = PublishRun(publications(1, 1, 1))
    published(run, 3)
    run.settle(1, multiple=False, ok=True)
    run.lose_unconfirmed()
    assert run.outstanding == {}
    assert run.report().outcomes == [SENT]


def test_after_a_size_refusal_publishing_restarts_at_the_first_unconfirmed_message_in_order() -> None:
    run = PublishRun(publications(10, 10, 500, 10, 10))
    published(run, 5)
    run.settle(1, multiple=False, ok=True)
    run.settle(4, multiple=False, ok=True)  # confirmed, but after the big one: it must be sent again
    run.lose_unconfirmed()
    assert run.rewind(limit=100)
    assert run.next == 1
    assert run.results == [SENT, None, None, None, None]


def test_no_rewind_when_no_unconfirmed_message_is_over_the_limit() -> None:
    run = PublishRun(publications(10, 10, 10))
    published(run, 3)
    run.lose_unconfirmed()
    assert not run.rewind(limit=100)  # the refusal is not explained: report it instead of looping
    assert run.next == 3


def test_refused_messages_keep_their_place_in_the_report() -> None:
    run = PublishRun(publications(1, 1, 1))
    too_big = Outcome.rejected("too big")
    run.results = [SENT, too_big, SENT]
    run.next = 3
    assert run.report().outcomes == [SENT, too_big, SENT]
