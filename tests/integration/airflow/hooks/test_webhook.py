"""The webhook hook's Test button against a real HTTP receiver (the test double): one ping, in words."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest

from bugzilla_push.airflow.hooks.webhook import WebhookHook
from tests.doubles.webhook_receiver import Reply, WebhookReceiver, always
from tests.integration.airflow.hooks.support import press_test
from tests.integration.console.server import free_port

if TYPE_CHECKING:
    from tests.doubles.webhook_receiver import Request

pytestmark = pytest.mark.integration

SECRET_PATH = "/hook/s3cret-path-token"


def webhook(url: str, **extra: Any) -> dict[str, Any]:
    # What the UI's form writes: every option, null where it was left empty.
    return {"conn_type": "webhook", "host": url, "extra": {"timeout": None, "product": "", **extra}}


def test_a_receiver_that_answers_2xx_passes_and_gets_a_marked_ping(receiver: WebhookReceiver) -> None:
    conn = webhook(receiver.url(SECRET_PATH), api_key_header="X-Api-Key", webhook_id=7) | {"password": "k3y"}
    ok, message = press_test(WebhookHook, conn)
    assert ok, message
    assert message == (
        f"the receiver at 127.0.0.1:{receiver.port} answered HTTP 200 to a test ping "
        "(POST, X-Bugzilla-Push-Test: ping)"
    )
    (ping,) = receiver.requests(SECRET_PATH)
    assert ping.headers["x-bugzilla-push-test"] == "ping"
    assert ping.headers["x-api-key"] == "k3y"
    assert "x-bugzilla-push-id" not in ping.headers
    assert ping.json["event"]["action"] == "ping"
    assert ping.json["webhook_id"] == 7
    assert "bug" not in ping.json


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (500, "answered the test ping (POST, X-Bugzilla-Push-Test: ping): HTTP 500 Internal Server Error"),
        (401, "the receiver rejects our credentials (HTTP 401 Unauthorized"),
        (404, "the receiver rejected this message: HTTP 404 Not Found"),
    ],
)
def test_a_receiver_that_answers_otherwise_fails_with_its_answer(status: int, words: str) -> None:
    with WebhookReceiver(always(status, "go away")) as receiver:
        ok, message = press_test(WebhookHook, webhook(receiver.url(SECRET_PATH)))
    assert not ok
    assert words in message
    assert "go away" in message
    assert "s3cret" not in message


def test_a_closed_port_is_a_refused_connection() -> None:
    port = free_port()
    ok, message = press_test(WebhookHook, webhook(f"http://127.0.0.1:{port}{SECRET_PATH}"))
    assert not ok
    assert message == f"cannot connect to the receiver at 127.0.0.1:{port}: [Errno 111] Connection refused"


def test_a_receiver_that_does_not_answer_in_time_is_a_timeout() -> None:
    answered = threading.Event()

    def slow(request: Request) -> Reply:
        answered.set()
        return Reply(hold=True)

    with WebhookReceiver(slow) as receiver:
        ok, message = press_test(WebhookHook, webhook(receiver.url(), timeout=0.5))
        receiver.release()
    assert answered.is_set()
    assert not ok
    assert message.startswith(f"the receiver at 127.0.0.1:{receiver.port} did not answer within 0.5 s")


def test_a_bad_form_is_named_before_sending(receiver: WebhookReceiver) -> None:
    ok, message = press_test(WebhookHook, webhook(receiver.url(), api_key_header="X-Api-Key"))
    assert not ok
    assert message == (
        "this connection names the API key header 'X-Api-Key' but has no password: set the API key as the "
        "connection's password"
    )
    assert receiver.requests() == []
