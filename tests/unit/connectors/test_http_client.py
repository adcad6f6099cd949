"""The HTTP connectors' client: made on first use, kept, closed, made again after closing."""

from __future__ import annotations

import httpx

from bugzilla_push.connectors.http_client import LazyHttpClient


def test_the_client_is_made_once_when_first_asked_for_and_again_after_close() -> None:
    made: list[httpx.Client] = []

    def make() -> httpx.Client:
        made.append(httpx.Client())
        return made[-1]

    lazy = LazyHttpClient(make)
    assert made == []  # nothing opened before it is used
    first = lazy.get()
    assert lazy.get() is first
    lazy.close()
    assert first.is_closed
    lazy.close()  # closing twice is harmless
    second = lazy.get()
    assert second is not first
    assert len(made) == 2
    lazy.close()
