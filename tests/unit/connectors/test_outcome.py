"""The one answer a connector gives per message: each constructor, and how a connector-fatal one is raised."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from bugzilla_push.connectors import ConnectorFatal, Outcome, raise_if_fatal
from bugzilla_push.errors import BugzillaPushError
from bugzilla_push.model import InvalidMessage, Result


@pytest.mark.parametrize(
    ("outcome", "result", "detail", "fatal"),
    [
        (Outcome.sent(), Result.OK, None, False),
        (Outcome.sent("routing key cut"), Result.OK, "routing key cut", False),
        (Outcome.ignored(), Result.IGNORED, None, False),
        (Outcome.ignored("private bug"), Result.IGNORED, "private bug", False),
        (Outcome.rejected("HTTP 400"), Result.ERROR, "HTTP 400", False),
        (Outcome.transient("HTTP 503"), Result.TRANSIENT, "HTTP 503", False),
        (Outcome.unknown("no confirm"), Result.UNKNOWN, "no confirm", False),
        (Outcome.fatal("login refused"), Result.TRANSIENT, "login refused", True),
    ],
)
def test_each_constructor_gives_the_bmo_code_the_reason_and_whether_the_connector_must_stop(
    outcome: Outcome, result: Result, detail: str | None, fatal: bool
) -> None:
    assert (outcome.result, outcome.detail, outcome.connector_fatal) == (result, detail, fatal)


def test_sent_is_one_shared_instance_with_nothing_to_say() -> None:
    assert Outcome.sent() is Outcome.sent()
    assert Outcome.sent() == Outcome(Result.OK)


def test_a_fatal_outcome_raises_with_the_outcomes_before_it() -> None:
    before = [Outcome.sent(), Outcome.rejected("bad"), Outcome.sent()]
    with pytest.raises(ConnectorFatal, match="^login refused$") as raised:
        raise_if_fatal([*before, Outcome.fatal("login refused")])
    assert raised.value.outcomes == before


def test_outcomes_without_a_fatal_one_pass_through() -> None:
    outcomes = [Outcome.sent(), Outcome.transient("HTTP 503")]
    assert raise_if_fatal(outcomes) == outcomes


def test_every_exception_of_the_package_has_one_root() -> None:
    import bugzilla_push

    classes = set()
    for module in pkgutil.walk_packages(bugzilla_push.__path__, "bugzilla_push."):
        for value in vars(importlib.import_module(module.name)).values():
            if inspect.isclass(value) and issubclass(value, BaseException):
                classes.add(value)
    ours = {c for c in classes if c.__module__.startswith("bugzilla_push.")}
    names = {c.__name__ for c in ours}
    assert {"ConnectorFatal", "ConnectorPaused", "InvalidMessage", "LockTimeout"} <= names
    assert [c.__name__ for c in ours if not issubclass(c, BugzillaPushError)] == []
    assert issubclass(InvalidMessage, ValueError)  # callers that catch the built-in base still do
