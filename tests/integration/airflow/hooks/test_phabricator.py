"""The Phabricator hook's Test button against the Conduit test double: `user.whoami` with the token."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bugzilla_push.airflow.hooks.phabricator import PhabricatorHook
from tests.doubles.conduit_server import ConduitServer
from tests.integration.airflow.hooks.support import press_test
from tests.integration.connectors.phabricator.support import TOKEN

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration


@pytest.fixture
def conduit() -> Iterator[ConduitServer]:
    with ConduitServer(TOKEN) as server:
        yield server


def phabricator(url: str, token: str) -> dict[str, object]:
    return {"conn_type": "phabricator", "host": url, "password": token, "extra": {"timeout": None}}


def test_a_working_token_passes_and_names_its_user(conduit: ConduitServer) -> None:
    ok, message = press_test(PhabricatorHook, phabricator(conduit.url, TOKEN))
    assert ok, message
    user = conduit.state.users[conduit.state.bot].username
    assert message == f"Phabricator at {conduit.url} accepts the API token of user {user!r}"
    assert conduit.methods() == ["user.whoami"]


def test_a_refused_token_is_named_without_showing_it(conduit: ConduitServer) -> None:
    wrong = "api-" + "x" * 28
    ok, message = press_test(PhabricatorHook, phabricator(conduit.url, wrong))
    assert not ok
    assert message.startswith(
        f"Phabricator at {conduit.url} refuses the API token (the connection's password)"
    )
    assert "ERR-INVALID-AUTH" in message
    assert wrong not in message


def test_a_phabricator_that_is_down_is_named(conduit: ConduitServer) -> None:
    conduit.go_down(503)
    ok, message = press_test(PhabricatorHook, phabricator(conduit.url, TOKEN))
    assert not ok
    assert message.startswith(
        f"Phabricator at {conduit.url} did not answer as Conduit does: user.whoami: HTTP 503"
    )
