"""The notifier named by the Variable `bugzilla_push_notifier`: built when alerting, or refused clearly."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace
from typing import TYPE_CHECKING
from unittest import mock

import pytest

from bugzilla_push.airflow.alerts import NotifierConfigError, configured_notifier, send_alert
from tests.doubles.recording_notifier import RecordingNotifier, notifier_variable, recorded

if TYPE_CHECKING:
    from pathlib import Path


def with_variable(value: str | None) -> mock._patch_dict:
    """The Variable set through the environment (tests start with no AIRFLOW_VAR_* at all)."""
    return mock.patch.dict(os.environ, {"AIRFLOW_VAR_BUGZILLA_PUSH_NOTIFIER": value} if value else {})


def test_without_the_variable_there_is_no_notifier() -> None:
    with with_variable(None):
        assert configured_notifier() is None


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("smtp please", "expected JSON"),
        ('{"kwargs": {}}', "KeyError"),
        ('{"notifier": "no.such.module.Notifier"}', "ModuleNotFoundError"),
        ('{"notifier": "json.JSONDecoder"}', "json.JSONDecoder is not an Airflow notifier"),
        ('{"notifier": "tests.doubles.recording_notifier.RecordingNotifier", "kwargs": [1]}', "JSON object"),
    ],
)
def test_a_wrong_variable_is_refused_saying_what_is_expected(value: str, says: str) -> None:
    with with_variable(value), pytest.raises(NotifierConfigError, match="bugzilla_push_notifier") as caught:
        configured_notifier()
    assert says in str(caught.value)


def test_an_alert_is_rendered_into_the_notifiers_templates(tmp_path: Path) -> None:
    sent = tmp_path / "alerts.jsonl"
    with with_variable(notifier_variable(sent)):
        assert isinstance(configured_notifier(), RecordingNotifier)
        context = {"dag": SimpleNamespace(dag_id="bugzilla_push")}  # a DAG without a Jinja environment
        assert send_alert(context, "run_failed", "bugzilla_push: run r1 failed", "reason: task_failure")
    assert recorded(sent) == [
        {
            "subject": "bugzilla_push: run r1 failed",
            "message": "reason: task_failure",
            "dag_id": "bugzilla_push",
            "kind": "run_failed",
        }
    ]
    assert "alert" not in context  # the caller's context is left as it was


def test_the_variable_is_json_a_person_can_write(tmp_path: Path) -> None:
    spec = json.loads(notifier_variable(tmp_path / "a.jsonl"))
    assert set(spec) == {"notifier", "kwargs"}
