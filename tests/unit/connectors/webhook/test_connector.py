"""The webhook connector's sending, without a network: httpx's mock transport answers as each test says.

The self-pause tests run the engine over the webhook on a SQLite store: pausing is engine policy.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable

import httpx
import pytest

from bugzilla_push.backoff import Backoff
from bugzilla_push.connectors.base import ConnectorFatal, Outcome, raise_if_fatal
from bugzilla_push.connectors.tls import client_context
from bugzilla_push.connectors.webhook.connector import WebhookConnector, classify
from bugzilla_push.connectors.webhook.options import WebhookOptions
from bugzilla_push.engine import ConnectorPaused
from bugzilla_push.model import PushMessage, Result
from bugzilla_push.store import Commit, NewMessage, Store
from tests.fakes import FakeClock
from tests.support import deliver_after_backoff
from tests.unit.connectors.webhook.messages import bug, comment, message, payload

KEY = "k3y-7a1f-secret-9c2e"
URL = "https://hooks.example.org/bugzilla?token=url-t0ken-55"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Answers each request with `answers[push id]` (default 200) and records what it was sent."""

    def __init__(self, answers: dict[int, int | Exception | httpx.Response] | None = None) -> None:
        self.answers = answers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.get(int(request.headers["x-bugzilla-push-id"]), 200)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(answer, json={"status": answer})

    @property
    def ids(self) -> list[int]:
        return [int(r.headers["x-bugzilla-push-id"]) for r in self.requests]


def connector(handler: Handler, **options: object) -> WebhookConnector:
    opts = WebhookOptions(**{"api_key_header": "X-Api-Key", **options})
    transport = httpx.MockTransport(handler)
    webhook = WebhookConnector("webhook_triage", URL, opts, api_key=KEY, transport=transport)
    webhook.pause_after = opts.pause_after_failures  # what from_connection sets from the extra
    return webhook


def batch(*ids: int) -> list[PushMessage]:
    return [message(payload("bug", bug(bug_id=1900000 + i)), push_id=i) for i in ids]


def results(outcomes: list[Outcome]) -> list[Result]:
    return [o.result for o in outcomes]


def test_each_message_is_one_post_in_order_with_bmos_headers_and_the_push_id() -> None:
    recorder = Recorder()
    with connector(recorder) as webhook:
        assert results(webhook.send(batch(1, 2, 3))) == [Result.OK] * 3
    assert recorder.ids == [1, 2, 3]
    first = recorder.requests[0]
    assert first.method == "POST"
    assert str(first.url) == URL
    assert first.headers["content-type"] == "application/json"
    assert first.headers["accept"] == "application/json"
    assert first.headers["x-api-key"] == KEY
    assert first.headers["user-agent"].startswith("bugzilla-push/")
    body = json.loads(first.content)
    assert body["bug"]["id"] == 1900001
    assert body["webhook_name"] == "triage"


def test_without_an_api_key_no_key_header_is_sent() -> None:
    recorder = Recorder()
    webhook = WebhookConnector("webhook_open", URL, transport=httpx.MockTransport(recorder))
    webhook.send(batch(1))
    assert "x-api-key" not in recorder.requests[0].headers
    assert "authorization" not in recorder.requests[0].headers


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (200, Result.OK),
        (201, Result.OK),
        (202, Result.OK),
        (204, Result.OK),
        (408, Result.TRANSIENT),
        (425, Result.TRANSIENT),
        (429, Result.TRANSIENT),
        (500, Result.TRANSIENT),
        (502, Result.TRANSIENT),
        (503, Result.TRANSIENT),
        (504, Result.TRANSIENT),
        (400, Result.ERROR),
        (404, Result.ERROR),
        (405, Result.ERROR),
        (409, Result.ERROR),
        (413, Result.ERROR),
        (422, Result.ERROR),
    ],
)
def test_statuses_are_classified(status: int, result: Result) -> None:
    answer = classify(httpx.Response(status, text="nope"), "nope")
    assert answer.result == result
    assert not answer.connector_fatal
    if result is not Result.OK:
        assert answer.detail.startswith(f"HTTP {status}") or f"HTTP {status}" in answer.detail


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (401, "rejects our credentials"),
        (403, "rejects our credentials"),
        (407, "rejects our credentials"),
        (410, "the endpoint says it is gone"),
        (301, "the receiver redirects"),
        (302, "the receiver redirects"),
        (307, "the receiver redirects"),
        (308, "the receiver redirects"),
    ],
)
def test_answers_no_message_can_get_past_are_connector_fatal(status: int, words: str) -> None:
    recorder = Recorder({1: httpx.Response(status, headers={"Location": "https://elsewhere.example/"})})
    with pytest.raises(ConnectorFatal, match=words) as caught:
        raise_if_fatal(connector(recorder).send(batch(1, 2, 3)))
    assert f"HTTP {status}" in str(caught.value)
    assert recorder.ids == [1]  # nothing more was sent


def test_a_fatal_answer_after_deliveries_raises_with_what_was_delivered() -> None:
    recorder = Recorder({3: 410})
    webhook = connector(recorder)
    with pytest.raises(ConnectorFatal, match="gone") as fatal:
        raise_if_fatal(webhook.send(batch(1, 2, 3, 4)))
    assert results(fatal.value.outcomes) == [Result.OK, Result.OK]  # the engine records these two
    assert recorder.ids == [1, 2, 3]  # nothing after the refusal was tried


def test_sending_stops_at_the_first_transient_failure() -> None:
    recorder = Recorder({2: 503})
    outcomes = connector(recorder).send(batch(1, 2, 3))
    assert results(outcomes) == [Result.OK, Result.TRANSIENT]
    assert recorder.ids == [1, 2]
    assert outcomes[1].detail.startswith("HTTP 503 Service Unavailable")


def test_a_rejected_message_is_dead_lettered_and_the_next_ones_are_sent() -> None:
    recorder = Recorder({2: httpx.Response(400, json={"error": "missing field 'bug.product'"})})
    outcomes = connector(recorder).send(batch(1, 2, 3))
    assert results(outcomes) == [Result.OK, Result.ERROR, Result.OK]
    assert outcomes[1].detail == (
        'the receiver rejected this message: HTTP 400 Bad Request: {"error":"missing field \'bug.product\'"}'
    )


def test_retry_after_is_reported_but_not_obeyed() -> None:
    recorder = Recorder({1: httpx.Response(429, headers={"Retry-After": "120"})})
    outcome = connector(recorder).send(batch(1))[0]
    assert outcome.result is Result.TRANSIENT
    assert "Retry-After: 120" in outcome.detail


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
    ],
)
def test_network_failures_and_timeouts_are_transient(error: Exception) -> None:
    outcomes = connector(Recorder({1: error})).send(batch(1, 2))
    assert results(outcomes) == [Result.TRANSIENT]
    assert type(error).__name__ in outcomes[0].detail


def test_a_long_or_binary_body_is_cut_to_a_short_printable_excerpt() -> None:
    noisy = "<html>\n" + "x" * 5000 + "\x00\x1b[31m</html>"
    outcome = connector(Recorder({1: httpx.Response(422, text=noisy)})).send(batch(1))[0]
    assert outcome.result is Result.ERROR
    assert len(outcome.detail) < 300
    assert outcome.detail.endswith("…")
    assert "\n" not in outcome.detail
    assert "\x00" not in outcome.detail


def test_secrets_echoed_by_the_receiver_or_in_errors_are_redacted() -> None:
    echo = httpx.Response(400, text=f"bad key header X-Api-Key: {KEY} for {URL}")
    refused = httpx.ConnectError(f"cannot reach {URL} with {KEY}")
    outcomes = connector(Recorder({1: echo, 2: refused})).send(batch(1, 2))
    details = " ".join(o.detail for o in outcomes)
    assert results(outcomes) == [Result.ERROR, Result.TRANSIENT]
    assert KEY not in details
    assert "url-t0ken-55" not in details
    assert "***" in details


def test_the_api_key_is_never_logged_even_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    webhook = connector(Recorder({2: 503, 3: 400}))
    webhook.send(batch(1, 2))
    webhook.send(batch(3))
    assert KEY not in caplog.text
    assert KEY not in repr(webhook)


def test_one_client_is_kept_across_calls_and_closed() -> None:
    webhook = connector(Recorder())
    webhook.send(batch(1))
    client = webhook._http._client
    webhook.send(batch(2))
    assert webhook._http._client is client
    webhook.close()
    assert client is not None
    assert client.is_closed
    assert webhook._http._client is None
    assert results(webhook.send(batch(3))) == [Result.OK]  # usable again after close
    webhook.close()


# -- self-pause: the engine's policy, on a SQLite store ------------------------------------------


def enqueue(store: Store, count: int) -> None:
    """Queue `count` bug messages; a fresh store gives them push ids 1 to `count`."""
    bodies = [payload("bug", bug(bug_id=1900000 + i)) for i in range(1, count + 1)]
    rows = [NewMessage(json.dumps(b), b["event"]["routing_key"], b["event"]["change_set"]) for b in bodies]
    store.enqueue(rows, now=FakeClock().now)


def deliver(
    store: Store, clock: FakeClock, webhook: WebhookConnector, failed_before: int = 0
) -> list[Outcome]:
    """One engine run for the webhook once its backoff is over; return the outcomes it logged.

    :param failed_before: transient failures in a row of earlier runs (the backoff's attempts)
    """
    if failed_before:
        store.record(Commit(webhook.name, clock.now, backoff=Backoff(failed_before, clock.now)))
    logged = store.query("SELECT COUNT(*) FROM push_log")[0][0]
    deliver_after_backoff(store, clock, webhook)
    rows = store.query("SELECT result, data FROM push_log ORDER BY id")[logged:]
    return [Outcome(Result(result), detail) for result, detail in rows]


def test_the_engines_count_of_failures_pauses_the_webhook_before_anything_is_sent(
    store: Store, clock: FakeClock
) -> None:
    enqueue(store, 2)
    recorder = Recorder()
    webhook = connector(recorder, pause_after_failures=3)
    with pytest.raises(
        ConnectorFatal, match=r"webhook paused after 3 consecutive failed deliveries"
    ) as caught:
        deliver(store, clock, webhook, failed_before=3)
    assert "pause_after_failures=3" in str(caught.value)
    assert isinstance(caught.value, ConnectorPaused)
    assert "bugzilla-push resume webhook_triage" in str(caught.value)
    assert recorder.requests == []


def test_below_the_limit_the_webhook_keeps_sending_and_a_success_resets_the_count(
    store: Store, clock: FakeClock
) -> None:
    enqueue(store, 1)
    recorder = Recorder()
    webhook = connector(recorder, pause_after_failures=3)
    assert results(deliver(store, clock, webhook, failed_before=2)) == [Result.OK]
    assert store.backoff(webhook.name).attempts == 0


def test_failures_of_a_delivery_count_on_top_of_those_of_earlier_runs(store: Store, clock: FakeClock) -> None:
    enqueue(store, 1)
    recorder = Recorder({1: 503})
    webhook = connector(recorder, pause_after_failures=3)
    assert results(deliver(store, clock, webhook, failed_before=2)) == [Result.TRANSIENT]
    with pytest.raises(ConnectorFatal, match="paused after 3 .*last: HTTP 503"):
        deliver(store, clock, webhook)


def test_a_run_of_rejected_messages_holds_the_rest_back_unsent(store: Store, clock: FakeClock) -> None:
    enqueue(store, 9)
    recorder = Recorder(dict.fromkeys(range(1, 10), 404))
    outcomes = deliver(store, clock, connector(recorder, pause_after_failures=3))
    assert results(outcomes) == [Result.ERROR] * 3 + [Result.TRANSIENT]
    assert recorder.ids == [1, 2, 3]
    assert (
        "3 deliveries in a row failed (last: the receiver rejected this message: HTTP 404"
        in outcomes[3].detail
    )


def test_rejections_separated_by_a_success_do_not_pause(store: Store, clock: FakeClock) -> None:
    enqueue(store, 6)
    recorder = Recorder({1: 404, 2: 404, 4: 404, 5: 404})
    outcomes = deliver(store, clock, connector(recorder, pause_after_failures=3))
    assert results(outcomes) == [Result.ERROR, Result.ERROR, Result.OK, Result.ERROR, Result.ERROR, Result.OK]


def test_zero_never_pauses(store: Store, clock: FakeClock) -> None:
    enqueue(store, 29)
    recorder = Recorder(dict.fromkeys(range(1, 30), 404))
    webhook = connector(recorder, pause_after_failures=0)
    assert results(deliver(store, clock, webhook, failed_before=1000)) == [Result.ERROR] * 29


def test_private_messages_are_posted_reduced_to_ids() -> None:
    recorder = Recorder()
    secret = message(payload("comment", comment(bug(bug_id=5, is_private=True), comment_id=9)), push_id=1)
    connector(recorder).send([secret])
    assert json.loads(recorder.requests[0].content)["bug"] == {
        "id": 5,
        "is_private": True,
        "comment": {"id": 9, "is_private": True},
    }


def test_webhooks_share_one_tls_context_and_skip_it_when_not_verifying() -> None:
    a, b = (WebhookConnector(f"webhook_{n}", f"https://example.org/{n}") for n in "ab")
    unchecked = WebhookConnector("webhook_c", "https://example.org/c", WebhookOptions(verify=False))

    assert isinstance(a._verify, ssl.SSLContext)
    assert a._verify is b._verify is client_context()
    assert unchecked._verify is False
