"""The Conduit client's requests and how it classifies answers (httpx's mock transport, no network)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import httpx
import pytest

from bugzilla_push.connectors.phabricator.conduit import (
    ConduitClient,
    ConduitFailed,
    ConduitRefused,
    ConduitUnavailable,
)

if TYPE_CHECKING:
    from collections.abc import Callable

TOKEN = "api-abcdefghijklmnopqrstuvwxyz12"


def client(answer: Callable[[httpx.Request], httpx.Response]) -> ConduitClient:
    return ConduitClient(
        "https://phabricator.example/", TOKEN, timeout=5, transport=httpx.MockTransport(answer)
    )


def conduit(result: Any = None, code: str | None = None, info: str | None = None) -> httpx.Response:
    return httpx.Response(200, json={"result": result, "error_code": code, "error_info": info})


def test_a_call_posts_json_params_with_the_token_as_bmo_does() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return conduit({"phid": "PHID-USER-bot"})

    assert client(answer).call("user.whoami", {"x": [1]}) == {"phid": "PHID-USER-bot"}
    request = seen[0]
    assert request.method == "POST"
    assert str(request.url) == "https://phabricator.example/api/user.whoami"
    form = parse_qs(request.content.decode())
    assert list(form) == ["params"]
    assert json.loads(form["params"][0]) == {"x": [1], "__conduit__": {"token": TOKEN}}


def test_a_search_follows_the_cursor_through_every_page() -> None:
    pages = {
        None: ({"data": [{"id": 1}, {"id": 2}], "cursor": {"after": "2"}}),
        "2": {"data": [{"id": 3}], "cursor": {"after": None}},
    }

    def answer(request: httpx.Request) -> httpx.Response:
        params = json.loads(parse_qs(request.content.decode())["params"][0])
        return conduit(pages[params.get("after")])

    assert client(answer).search("user.search", {"constraints": {}}) == [{"id": 1}, {"id": 2}, {"id": 3}]


@pytest.mark.parametrize(
    ("response", "kind", "text"),
    [
        (httpx.Response(503, text="<h1>down</h1>"), ConduitUnavailable, "HTTP 503"),
        (httpx.Response(429, text="slow down"), ConduitUnavailable, "HTTP 429"),
        (httpx.Response(200, text="<html>maintenance</html>"), ConduitUnavailable, "not a Conduit answer"),
        (httpx.Response(403, text="forbidden"), ConduitRefused, "HTTP 403"),
        (
            httpx.Response(301, headers={"location": "https://new.example/"}),
            ConduitRefused,
            "redirect to https://new.example/",
        ),
        (
            conduit(code="ERR-INVALID-AUTH", info=f'API token "{TOKEN}" does not exist.'),
            ConduitRefused,
            "ERR-INVALID-AUTH",
        ),
        (conduit(code="ERR-CONDUIT-CALL", info="no such method"), ConduitRefused, "ERR-CONDUIT-CALL"),
        (
            conduit(code="ERR-CONDUIT-CORE", info='No object exists with ID "D9".'),
            ConduitFailed,
            "ERR-CONDUIT-CORE",
        ),
    ],
)
def test_answers_are_classified_and_never_carry_the_token(
    response: httpx.Response, kind: type, text: str
) -> None:
    with pytest.raises(kind, match=text) as caught:
        client(lambda request: response).call("differential.revision.edit", {})
    assert TOKEN not in str(caught.value)
    assert str(caught.value).startswith("differential.revision.edit: ")


def test_timeouts_and_lost_connections_are_unavailable() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ConduitUnavailable, match="no answer within 5 s"):
        client(timeout).call("project.search", {})
    with pytest.raises(ConduitUnavailable, match="ConnectError: connection refused"):
        client(refused).call("project.search", {})


def test_a_failed_call_keeps_its_error_code() -> None:
    with pytest.raises(ConduitFailed) as caught:
        client(lambda r: conduit(code="ERR-CONDUIT-CORE", info="nope")).call("policy.create", {})
    assert caught.value.code == "ERR-CONDUIT-CORE"
