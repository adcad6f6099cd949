"""The push console's app without a server: plugin loading, the cross-site check, errors, models.

Airflow's authentication is replaced by a fixed user here (the real one is tested against a real
API server in tests/integration/console/); the push tables are a SQLite file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from bugzilla_push.store import NewMessage, open_store
from tests.conftest import ROOT
from tests.console_plugin import PLUGIN_FILE, console_app, load_plugin
from tests.fakes import FakeClock, ScriptedConnector
from tests.support import enqueue_samples, run_cycle

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fastapi.testclient import TestClient

CONSOLE = "X-Bugzilla-Push-Console"


class User:
    """Stands in for the authenticated Airflow user."""

    def get_name(self) -> str:
        return "tester"


def test_loading_the_plugin_imports_neither_fastapi_nor_the_console() -> None:
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('p', {str(PLUGIN_FILE)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "heavy = ('fastapi', 'bugzilla_push.console', 'airflow.api_fastapi')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_app_is_built_once_on_its_first_request() -> None:
    from fastapi.testclient import TestClient

    plugin = load_plugin()
    built: list[Any] = []

    def factory() -> Any:
        from fastapi import FastAPI

        app = FastAPI()
        app.get("/ping")(lambda: "pong")
        built.append(app)
        return app

    lazy = plugin.BuiltOnFirstRequest(factory)
    assert built == []
    with TestClient(lazy) as client:
        assert client.get("/ping").json() == "pong"
        assert client.get("/ping").json() == "pong"
    assert len(built) == 1
    [view] = plugin.BugzillaPushConsolePlugin.external_views
    assert not view["href"].startswith("/")  # relative: the UI resolves it under its base URL


def request(headers: dict[str, str], url: str = "http://127.0.0.1:8080/bugzilla-push/api/x") -> Any:
    from starlette.requests import Request

    scheme, rest = url.split("://")
    host, path = rest.split("/", 1)
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": scheme,
            "server": (host.split(":")[0], int(host.split(":")[1])),
            "path": f"/{path}",
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": host, **headers}.items()],
        }
    )


GOOD = {CONSOLE: "1", "Content-Type": "application/json", "Origin": "http://127.0.0.1:8080"}


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        (GOOD, True),
        ({**GOOD, "Content-Type": "application/json; charset=utf-8"}, True),
        ({**GOOD, "Origin": "HTTP://127.0.0.1:8080"}, True),
        ({k: v for k, v in GOOD.items() if k != "Origin"} | {"Referer": "http://127.0.0.1:8080/x"}, True),
        ({CONSOLE: "1", "Content-Type": "application/json", "Authorization": "Bearer t"}, True),
        ({k: v for k, v in GOOD.items() if k != CONSOLE}, False),
        ({**GOOD, CONSOLE: "yes"}, False),
        ({**GOOD, "Content-Type": "text/plain"}, False),
        ({**GOOD, "Content-Type": "application/x-www-form-urlencoded"}, False),
        ({**GOOD, "Origin": "http://127.0.0.1:8081"}, False),
        ({**GOOD, "Origin": "http://localhost:8080"}, False),
        ({**GOOD, "Origin": "https://127.0.0.1:8080"}, False),
        ({**GOOD, "Origin": "null"}, False),
        ({CONSOLE: "1", "Content-Type": "application/json", "Referer": "http://evil.test/"}, False),
        ({CONSOLE: "1", "Content-Type": "application/json"}, False),  # cookie-borne, says nothing
    ],
)
def test_the_cross_site_check(headers: dict[str, str], allowed: bool) -> None:
    from fastapi import HTTPException

    from bugzilla_push.console.security import same_origin

    if allowed:
        same_origin(request(headers))
    else:
        with pytest.raises(HTTPException) as refused:
            same_origin(request(headers))
        assert refused.value.status_code == 403


def test_the_api_servers_base_url_counts_as_its_own_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    from bugzilla_push.console.security import same_origin

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.org/")
    behind_a_proxy = request(
        {**GOOD, "Origin": "https://airflow.example.org"}, "http://10.1.2.3:8080/b/api/x"
    )
    same_origin(behind_a_proxy)


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The console's app with a fixed user who may do everything, on a SQLite file."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    from bugzilla_push.console import security

    monkeypatch.setenv("AIRFLOW_CONN_BUGZILLA_DB", f"sqlite:///{tmp_path}/bugzilla.db")
    monkeypatch.setenv("AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS", "file")
    app = console_app()
    for check in (security.can_read, security.can_read_payloads, security.can_act):
        app.dependency_overrides[check] = lambda: None
    app.dependency_overrides[get_user] = User
    with TestClient(app, base_url="http://127.0.0.1:8080") as test_client:
        yield test_client


def test_missing_tables_are_a_clear_503(client: TestClient) -> None:
    answer = client.get("/api/overview")
    assert answer.status_code == 503
    assert "bugzilla-push schema" in answer.json()["detail"]


def test_a_missing_connection_is_named(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_BUGZILLA_DB")
    answer = client.get("/api/overview")
    assert answer.status_code == 503
    assert "'bugzilla_db'" in answer.json()["detail"]
    assert "AIRFLOW_CONN_BUGZILLA_DB=" in answer.json()["detail"]


def test_a_bad_connectors_variable_is_shown_not_fatal(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(f"sqlite:///{tmp_path}/bugzilla.db") as store:
        store.create_schema()
    monkeypatch.setenv("AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS", "file, not a name!")
    overview = client.get("/api/overview").json()
    assert overview["enabled"] == []
    assert "bugzilla_push_connectors" in overview["config_error"]


def test_the_app_reads_and_acts_on_sqlite(client: TestClient, tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/bugzilla.db") as store:
        store.create_schema()
        ids = enqueue_samples(store, 5)
        store.enqueue([NewMessage("not json", "bug.create", "1.1")], datetime(2026, 11, 27, 12, 0))
        from bugzilla_push.engine import Engine

        run_cycle(Engine(store, clock=FakeClock()), [ScriptedConnector("file")])
    overview = client.get("/api/overview").json()
    assert overview["now"].endswith("Z")
    assert [(c["connector"], c["enabled"], c["dead_letters"]) for c in overview["connectors"]] == [
        ("file", True, 1)
    ]
    [dead] = client.get("/api/dead-letters").json()["rows"]
    assert "not valid JSON" in dead["reason"]
    message = client.get(f"/api/messages/{dead['message_id']}").json()
    assert (message["payload"], message["payload_is_json"]) == ("not json", False)
    assert client.get(f"/api/messages/{ids[0]}").json()["payload_is_json"] is True
    headers = {CONSOLE: "1", "Origin": "http://127.0.0.1:8080"}
    dropped = client.post(f"/api/dead-letters/{dead['id']}/drop", json={}, headers=headers)
    assert dropped.status_code == 200, dropped.text
    assert client.get("/api/audit").json()["rows"][0]["actor"] == "tester"
    assert client.get("/api/dead-letters").json()["rows"] == []


def test_times_are_sent_in_utc_with_a_zone() -> None:
    from bugzilla_push.console.models import AuditRow

    row = AuditRow(
        id=1,
        action_ts=datetime(2026, 11, 27, 12, 0, 0),
        actor="a",
        action="pause",
        connector=None,
        message_id=None,
        detail=None,
    )
    assert json.loads(row.model_dump_json())["action_ts"] == "2026-11-27T12:00:00Z"
    elsewhere = AuditRow.model_validate(
        {**row.model_dump(), "action_ts": datetime(2026, 11, 27, 14, 0, tzinfo=timezone(timedelta(hours=2)))}
    )
    assert json.loads(elsewhere.model_dump_json())["action_ts"] == "2026-11-27T12:00:00Z"
