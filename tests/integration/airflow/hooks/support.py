"""Run a hook's Test as Airflow's API does: the connection in an `AIRFLOW_CONN_<ID>` variable."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any
from unittest import mock

if TYPE_CHECKING:
    from bugzilla_push.airflow.hooks.connector import ConnectorHook

CONN_ID = "bp_form_test"  # the API tests under a random id too: messages must not name it


def press_test(hook: type[ConnectorHook], conn: dict[str, Any]) -> tuple[bool, str]:
    """Press Test on a connection with these fields (JSON form, as the UI's form sends them)."""
    with mock.patch.dict(os.environ, {f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(conn)}):
        ok, message = hook(CONN_ID).test_connection()
    assert CONN_ID not in message
    return ok, message
